package customer

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/language"
)

// ErrInvalid is matched (errors.Is) by every *ValidationError.
var ErrInvalid = errors.New("invalid customer data")

// FieldError is one problem with one field. Path uses the event payload's names,
// with indexes for lists: "phones[1].number".
type FieldError struct {
	Path    string
	Message string
}

// ValidationError lists every problem found, not just the first.
type ValidationError struct {
	Problems []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Path + ": " + p.Message
	}
	return "invalid customer data: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// problems accumulates field errors.
type problems []FieldError

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Problems: p}
}

// Policy holds the business's own rules: which fields a customer must have.
type Policy struct {
	// Required lists fields that must be set; see RequirableFields for the names.
	Required []string
	// RequireEmailOrPhone demands a primary email or at least one phone.
	RequireEmailOrPhone bool
}

// DefaultPolicy requires a display name and an email or a phone.
func DefaultPolicy() Policy {
	return Policy{Required: []string{"display_name"}, RequireEmailOrPhone: true}
}

var requirable = map[string]func(Details) bool{
	"display_name":    func(d Details) bool { return d.DisplayName() != "" },
	"first_name":      func(d Details) bool { return d.FirstName != "" },
	"last_name":       func(d Details) bool { return d.LastName != "" },
	"business_name":   func(d Details) bool { return d.BusinessName != "" },
	"contact_name":    func(d Details) bool { return d.ContactName != "" },
	"email":           func(d Details) bool { return d.Email != "" },
	"phones":          func(d Details) bool { return len(d.Phones) > 0 },
	"addresses":       func(d Details) bool { return len(d.Addresses) > 0 },
	"billing_address": func(d Details) bool { return hasAddress(d, Billing) },
	"service_address": func(d Details) bool { return hasAddress(d, Service) },
	"customer_type":   func(d Details) bool { return d.CustomerType != "" },
	"industry":        func(d Details) bool { return d.Industry != "" },
	"sector":          func(d Details) bool { return d.Sector != "" },
	"category":        func(d Details) bool { return d.Category != "" },
	"source":          func(d Details) bool { return d.Source != "" },
	"service_zone":    func(d Details) bool { return d.ServiceZone != "" },
	"area":            func(d Details) bool { return d.Area != "" },
	"salesperson":     func(d Details) bool { return d.Salesperson != "" },
	"website":         func(d Details) bool { return d.Website != "" },
	"reference_no":    func(d Details) bool { return d.ReferenceNo != "" },
	"external_id":     func(d Details) bool { return d.ExternalID != "" },
	"payment_term":    func(d Details) bool { return d.PaymentTerm != "" },
}

// RequirableFields lists the names Policy.Required accepts.
func RequirableFields() []string {
	names := make([]string, 0, len(requirable))
	for n := range requirable {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Validate reports unknown field names in the policy.
func (p Policy) Validate() error {
	var errs []error
	for _, f := range p.Required {
		if requirable[f] == nil {
			errs = append(errs, fmt.Errorf("required field %q is not one of %s", f, strings.Join(RequirableFields(), ", ")))
		}
	}
	return errors.Join(errs...)
}

func hasAddress(d Details, t AddressType) bool {
	return slices.ContainsFunc(d.Addresses, func(a Address) bool { return a.Type == t })
}

// normalize trims text, makes the first phone primary and the first address of each
// type its default when none is marked, and gives a bare website a scheme: the
// forms a clerk would not care to tell apart are stored one way, so that edits that
// only change them are no-ops.
func normalize(d Details) Details {
	for _, s := range []*string{&d.FirstName, &d.LastName, &d.BusinessName, &d.ContactName, &d.Email,
		&d.StatementEmail, &d.CustomerType, &d.Industry, &d.Sector, &d.Category, &d.CategoryCode,
		&d.Source, &d.ServiceZone, &d.Area, &d.Salesperson, &d.Representative, &d.Website,
		&d.Description, &d.ReferenceNo, &d.ExternalID, &d.ExternalID2, &d.PaymentTerm,
		&d.TaxExemptReason, &d.TicketWarning} {
		*s = strings.TrimSpace(*s)
	}
	d.NotificationEmails = trimAll(d.NotificationEmails)
	d.InvoiceCCEmails = trimAll(d.InvoiceCCEmails)
	if len(d.Phones) > 0 {
		d.Phones = slices.Clone(d.Phones)
		for i := range d.Phones {
			d.Phones[i].Number = strings.TrimSpace(d.Phones[i].Number)
		}
		if !slices.ContainsFunc(d.Phones, func(p Phone) bool { return p.Primary }) {
			d.Phones[0].Primary = true
		}
	}
	if len(d.Addresses) > 0 {
		d.Addresses = slices.Clone(d.Addresses)
		hasDefault := map[AddressType]bool{}
		for _, a := range d.Addresses {
			hasDefault[a.Type] = hasDefault[a.Type] || a.Default
		}
		for i := range d.Addresses {
			a := &d.Addresses[i]
			for _, s := range []*string{&a.Street, &a.City, &a.State, &a.Postcode} {
				*s = strings.TrimSpace(*s)
			}
			a.Country = strings.ToUpper(strings.TrimSpace(a.Country))
			if !hasDefault[a.Type] {
				a.Default, hasDefault[a.Type] = true, true
			}
		}
	}
	if d.Website != "" && !strings.Contains(d.Website, "://") {
		d.Website = "https://" + d.Website
	}
	if t, err := ParsePaymentTerm(d.PaymentTerm); err == nil {
		d.PaymentTerm = t.String() // "Net 30" is stored as net_30; an unknown term is refused by validate
	}
	return d
}

func trimAll(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.TrimSpace(s)
	}
	return out
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

const (
	maxText = 200  // names, picklist values, ids
	maxLong = 4000 // description, ticket warning
)

// validate checks normalized details against the rules and the policy.
func validate(d Details, policy Policy) error {
	var p problems
	switch d.Kind {
	case Person:
		if d.FirstName == "" && d.LastName == "" {
			p.add("first_name", "a person needs a first or last name")
		}
	case Company:
		if d.BusinessName == "" {
			p.add("business_name", "a company needs a business name")
		}
	default:
		p.add("kind", "must be person or company")
	}
	if d.UseCompanyName && d.Kind != Company {
		p.add("use_company_name", "only a company can have documents in its company name")
	}
	for _, f := range policy.Required {
		if isSet := requirable[f]; isSet != nil && !isSet(d) {
			p.add(f, "is required")
		}
	}
	if policy.RequireEmailOrPhone && d.Email == "" && len(d.Phones) == 0 {
		p.add("email", "an email or a phone number is required")
	}
	checkEmail(&p, "email", d.Email)
	checkEmail(&p, "statement_email", d.StatementEmail)
	for i, e := range d.NotificationEmails {
		checkEmail(&p, fmt.Sprintf("notification_emails[%d]", i), e)
	}
	for i, e := range d.InvoiceCCEmails {
		checkEmail(&p, fmt.Sprintf("invoice_cc_emails[%d]", i), e)
	}
	checkPhones(&p, d.Phones)
	checkAddresses(&p, d.Addresses)
	checkText(&p, d)
	if d.Employees < 0 {
		p.add("employees", "must not be negative")
	}
	if d.Kilometres < 0 || math.IsNaN(d.Kilometres) || math.IsInf(d.Kilometres, 0) {
		p.add("kilometres", "must be a distance of zero or more")
	}
	if d.TaxRate < 0 || d.TaxRate > 1_000_000 {
		p.add("tax_rate", "must be between 0 and 100%%")
	}
	if d.PaymentTerm != "" {
		if _, err := ParsePaymentTerm(d.PaymentTerm); err != nil {
			p.add("payment_term", "must be due_on_receipt or net_<days>, days from 1 to %d", MaxNetDays)
		}
	}
	if d.TaxExempt && d.TaxExemptReason == "" {
		p.add("tax_exempt_reason", "a tax-exempt customer needs a reason")
	}
	if d.TaxExempt && d.TaxRate != 0 {
		p.add("tax_rate", "a tax-exempt customer has no tax rate")
	}
	if !d.TaxExempt && d.TaxExemptReason != "" {
		p.add("tax_exempt_reason", "only a tax-exempt customer has an exemption reason")
	}
	if d.Website != "" {
		if u, err := url.Parse(d.Website); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add("website", "must be a web address like example.com or https://example.com")
		}
	}
	return p.err()
}

func checkEmail(p *problems, path, s string) {
	if s == "" {
		return
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndex(s, "@"):], ".") {
		p.add(path, "%q is not an email address", s)
	}
}

func checkPhones(p *problems, phones []Phone) {
	primaries := 0
	seen := map[string]bool{}
	for i, ph := range phones {
		path := fmt.Sprintf("phones[%d]", i)
		if !e164.MatchString(ph.Number) {
			p.add(path+".number", "%q is not an E.164 number", ph.Number)
		}
		if seen[ph.Number] {
			p.add(path+".number", "%s is listed twice", ph.Number)
		}
		seen[ph.Number] = true
		if ph.Type == (PhoneType{}) {
			p.add(path+".type", "must be mobile, work, home, fax or other")
		}
		if ph.Primary {
			primaries++
		}
	}
	if primaries > 1 {
		p.add("phones", "only one phone can be primary")
	}
}

func checkAddresses(p *problems, addrs []Address) {
	defaults := map[AddressType]int{}
	for i, a := range addrs {
		path := fmt.Sprintf("addresses[%d]", i)
		if a.Type == (AddressType{}) {
			p.add(path+".type", "must be billing, shipping or service")
		}
		if a.Street == "" && a.City == "" && a.Postcode == "" {
			p.add(path, "needs a street, a city or a postcode")
		}
		if a.Country != "" && !isCountry(a.Country) {
			p.add(path+".country", "must be an ISO 3166-1 alpha-2 country code, like US or GB")
		}
		if (a.Lat == nil) != (a.Lng == nil) {
			p.add(path, "latitude and longitude go together")
		}
		if a.Lat != nil && !(*a.Lat >= -90 && *a.Lat <= 90) {
			p.add(path+".lat", "must be between -90 and 90")
		}
		if a.Lng != nil && !(*a.Lng >= -180 && *a.Lng <= 180) {
			p.add(path+".lng", "must be between -180 and 180")
		}
		for _, f := range []struct{ name, value string }{{"street", a.Street}, {"city", a.City}, {"state", a.State}, {"postcode", a.Postcode}} {
			if utf8.RuneCountInString(f.value) > maxText {
				p.add(path+"."+f.name, "longer than %d characters", maxText)
			}
		}
		if a.Default {
			defaults[a.Type]++
		}
	}
	for _, t := range []AddressType{Billing, Shipping, Service} {
		if defaults[t] > 1 {
			p.add("addresses", "only one %s address can be the default", t)
		}
	}
}

func checkText(p *problems, d Details) {
	short := map[string]string{
		"first_name": d.FirstName, "last_name": d.LastName, "business_name": d.BusinessName,
		"contact_name": d.ContactName, "customer_type": d.CustomerType, "industry": d.Industry,
		"sector": d.Sector, "category": d.Category, "category_code": d.CategoryCode, "source": d.Source,
		"service_zone": d.ServiceZone, "area": d.Area, "salesperson": d.Salesperson,
		"representative": d.Representative, "website": d.Website, "reference_no": d.ReferenceNo,
		"external_id": d.ExternalID, "external_id_2": d.ExternalID2, "payment_term": d.PaymentTerm,
		"tax_exempt_reason": d.TaxExemptReason, "email": d.Email, "statement_email": d.StatementEmail,
	}
	for _, name := range slices.Sorted(maps.Keys(short)) {
		if utf8.RuneCountInString(short[name]) > maxText {
			p.add(name, "longer than %d characters", maxText)
		}
	}
	if utf8.RuneCountInString(d.Description) > maxLong {
		p.add("description", "longer than %d characters", maxLong)
	}
	if utf8.RuneCountInString(d.TicketWarning) > maxLong {
		p.add("ticket_warning", "longer than %d characters", maxLong)
	}
}

// isCountry reports whether code is an assigned ISO 3166-1 alpha-2 country
// code: not a user-assigned one (XX, ZZ, QM…) nor a grouping (EU).
func isCountry(code string) bool {
	r, err := language.ParseRegion(code)
	return err == nil && len(code) == 2 && r.String() == code && r.IsCountry()
}
