// Package synthetic makes realistic customers for load tools: common names
// common (Zipf), about 30% businesses, 1–2 emails, 1–2 phones, 1–3 addresses.
package synthetic

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/fieldservice/customer-service/domain/customer"
)

var (
	firstNames    = strings.Fields(`James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Dorothy George Melissa Timothy Deborah Ronald Stephanie Edward Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary Amy Nicholas Angela Eric Shirley Jonathan Anna Stephen Brenda Larry Pamela Justin Emma Scott Nicole Brandon Helen Benjamin Samantha Samuel Katherine Gregory Christine Alexander Debra Frank Rachel Patrick Carolyn Raymond Janet Jack Catherine Dennis Maria Jerry Heather Tyler Diane José Zoë Jürgen Søren Björn Chloé Renée Noël François Łukasz`)
	lastNames     = strings.Fields(`Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Müller Schröder Østergaard Nuñez Kowalczyk Fitzgerald Okonkwo Vanderbilt Abernathy Quackenbush`)
	businessWords = strings.Fields(`Acme Summit Apex Pioneer Liberty Evergreen Golden Premier Allied United Coastal Metro Valley Harbor Northern Southern Eastern Western Blue Red Green Silver Oak Maple Cedar Pine River Lake Mountain Prairie`)
	businessKinds = strings.Fields(`Plumbing Electric Roofing Heating Cooling Landscaping Construction Properties Management Dental Medical Legal Bakery Logistics Security Cleaning Painting Flooring Windows Solar`)
	businessForms = []string{"LLC", "Inc", "Co", "Group", "Partners", "& Sons", "Services", ""}
	domains       = strings.Fields(`gmail.com yahoo.com outlook.com hotmail.com icloud.com aol.com comcast.net proton.me example.org fastmail.com`)
	streetNames   = strings.Fields(`Main Oak Pine Maple Cedar Elm Washington Lake Hill Park Walnut Spring North Ridge Church Willow Mill Sunset Highland Jackson Cherry Franklin Lincoln Madison Meadow Forest Chestnut Spruce River Jefferson Center Adams Johnson Lakeview Wilson Hickory Dogwood Valley Laurel Birch Sycamore Poplar Magnolia Juniper Aspen Cottonwood Sequoia Redwood Holly Ivy Heather Clover Primrose Bluebell Orchard Vineyard Quarry Harbor Bayview Seaside Cliffside Canyon Mesa Prairie`)
	streetTypes   = strings.Fields(`St Ave Rd Blvd Ln Dr Ct Way Pl Ter`)
	cities        = strings.Fields(`Springfield Riverside Franklin Greenville Bristol Clinton Fairview Salem Madison Georgetown Arlington Ashland Dover Oxford Jackson Burlington Manchester Milton Newport Auburn`)
	areaCodes     = strings.Fields(`212 310 312 415 617 702 713 718 786 206 303 404 469 503 512 602 646 720 818 917`)
)

// zipf picks an index in [0,n) with common ones common.
type zipf struct{ z *rand.Zipf }

func newZipf(r *rand.Rand, n int) zipf { return zipf{rand.NewZipf(r, 1.1, 2, uint64(n-1))} }

func (z zipf) pick(xs []string) string { return xs[int(z.z.Uint64())%len(xs)] }

// Generator makes customers; it is not safe for concurrent use.
type Generator struct {
	r                              *rand.Rand
	first, last, street, domain, b zipf
}

// NewGenerator returns a generator; the same seed makes the same customers.
func NewGenerator(seed uint64) *Generator {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return &Generator{r: r, first: newZipf(r, len(firstNames)), last: newZipf(r, len(lastNames)),
		street: newZipf(r, len(streetNames)), domain: newZipf(r, len(domains)), b: newZipf(r, len(businessWords))}
}

// Customer makes customer number n (n keeps emails unique).
func (g *Generator) Customer(n int) customer.Details {
	r := g.r
	first, last := g.first.pick(firstNames), g.last.pick(lastNames)
	d := customer.Details{Kind: customer.Person, FirstName: first, LastName: last}
	local := strings.ToLower(first + "." + last)
	if r.IntN(10) < 3 {
		name := strings.TrimSpace(g.b.pick(businessWords) + " " + businessKinds[r.IntN(len(businessKinds))] + " " + businessForms[r.IntN(len(businessForms))])
		d.Kind, d.BusinessName, d.ContactName = customer.Company, name, first+" "+last
		local = strings.ToLower(strings.Fields(name)[0]) + ".office"
	}
	d.Email = fmt.Sprintf("%s%d@%s", asciiOnly(local), n, g.domain.pick(domains))
	if r.IntN(2) == 0 {
		d.NotificationEmails = []string{fmt.Sprintf("billing%d@%s", n, g.domain.pick(domains))}
	}
	for i := range 1 + r.IntN(2) {
		t := customer.Mobile
		if i > 0 {
			t = customer.Work
		}
		d.Phones = append(d.Phones, customer.Phone{Number: fmt.Sprintf("+1%s%03d%04d", areaCodes[r.IntN(len(areaCodes))], 200+r.IntN(800), r.IntN(10000)), Type: t})
	}
	for i := range 1 + r.IntN(3) {
		t := customer.Service
		if i == 0 && r.IntN(2) == 0 {
			t = customer.Billing
		}
		d.Addresses = append(d.Addresses, customer.Address{Type: t,
			Street: fmt.Sprintf("%d %s %s", 1+r.IntN(9999), g.street.pick(streetNames), streetTypes[r.IntN(len(streetTypes))]),
			City:   cities[r.IntN(len(cities))], Country: "US"})
	}
	return d
}

func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 {
			return r
		}
		return 'x'
	}, s)
}
