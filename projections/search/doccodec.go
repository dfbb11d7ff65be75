package search

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/fieldservice/customer-service/domain/customer"
)

// doc is what the index keeps of a customer: its searchable state, which is
// also what a result shows. It is stored in a compact binary form rather than
// JSON: at a million customers, field names alone would cost more than the
// index.
type doc struct {
	ID       string
	Number   int64
	Version  uint64
	Archived bool
	Details  details
}

// details are the customer's details search finds customers by and shows in
// results; edits of other fields change nothing here. Not customer.Details: a
// search decodes hundreds of docs, and that struct is four times larger.
type details struct {
	Kind                                           customer.Kind
	FirstName, LastName, BusinessName, ContactName string
	Email, StatementEmail                          string
	NotificationEmails, InvoiceCCEmails            []string
	Phones                                         []customer.Phone
	Addresses                                      []customer.Address
}

func searchable(d customer.Details) details {
	return details{Kind: d.Kind, FirstName: d.FirstName, LastName: d.LastName, BusinessName: d.BusinessName,
		ContactName: d.ContactName, Email: d.Email, NotificationEmails: d.NotificationEmails, InvoiceCCEmails: d.InvoiceCCEmails,
		StatementEmail: d.StatementEmail, Phones: d.Phones, Addresses: d.Addresses}
}

// customer gives the details back as the domain's, for the aggregate.
func (d details) customer() customer.Details {
	return customer.Details{Kind: d.Kind, FirstName: d.FirstName, LastName: d.LastName, BusinessName: d.BusinessName,
		ContactName: d.ContactName, Email: d.Email, NotificationEmails: d.NotificationEmails, InvoiceCCEmails: d.InvoiceCCEmails,
		StatementEmail: d.StatementEmail, Phones: d.Phones, Addresses: d.Addresses}
}

// displayName is the domain's display name for these details.
func (d details) displayName() string {
	return customer.Details{Kind: d.Kind, FirstName: d.FirstName, LastName: d.LastName, BusinessName: d.BusinessName}.DisplayName()
}

// docFormat is the first byte of an encoded doc; a new layout gets a new value.
const docFormat = 2

// An encoded doc starts with what a search verifies a candidate against, so
// that most candidates are turned down without decoding the rest:
//
//	format, archived, number of addresses, the folded values (texts),
//	number, version, id, the details (for results and the projector)
//
// The texts are the customer's values as the index cuts them (vs, which the
// projector has computed already: values(d.Details)): a field code ('n', 'e',
// 'p', 's'), the address of a street (+1), the folded text.
func (d doc) encode(vs []value) []byte {
	b := make([]byte, 0, 384)
	b = append(b, docFormat)
	b = appendBool(b, d.Archived)
	b = binary.AppendUvarint(b, uint64(len(d.Details.Addresses)))
	var texts []byte
	for _, v := range vs {
		texts = append(texts, v.field.code())
		texts = binary.AppendUvarint(texts, uint64(v.address+1))
		texts = appendString(texts, v.text)
	}
	b = appendString(b, string(texts))
	b = binary.AppendUvarint(b, uint64(d.Number))
	b = binary.AppendUvarint(b, d.Version)
	b = appendString(b, d.ID)
	x := d.Details
	for _, s := range []string{x.Kind.String(), x.FirstName, x.LastName, x.BusinessName, x.ContactName, x.Email, x.StatementEmail} {
		b = appendString(b, s)
	}
	b = appendStrings(b, x.NotificationEmails)
	b = appendStrings(b, x.InvoiceCCEmails)
	b = binary.AppendUvarint(b, uint64(len(x.Phones)))
	for _, p := range x.Phones {
		b = appendString(appendString(b, p.Number), p.Type.String())
		b = appendBool(b, p.Primary)
	}
	b = binary.AppendUvarint(b, uint64(len(x.Addresses)))
	for _, a := range x.Addresses {
		for _, s := range []string{a.Type.String(), a.Street, a.City, a.State, a.Postcode, a.Country} {
			b = appendString(b, s)
		}
		b = appendBool(b, a.Default)
		b = appendCoordinate(b, a.Lat)
		b = appendCoordinate(b, a.Lng)
	}
	return b
}

var errBadDoc = errors.New("search: damaged doc")

// decodeDoc reads a doc; its strings share the memory of s, so that a search
// verifying hundreds of candidates allocates little.
func decodeDoc(s string) (doc, error) {
	h, r, err := docHeader(s)
	if err != nil {
		return doc{}, err
	}
	d := doc{Archived: h.archived}
	d.Number = int64(r.uvarint())
	d.Version = r.uvarint()
	d.ID = r.string()
	x := &d.Details
	x.Kind = picklist(kinds, r.string(), customer.ParseKind)
	x.FirstName, x.LastName, x.BusinessName, x.ContactName = r.string(), r.string(), r.string(), r.string()
	x.Email, x.StatementEmail = r.string(), r.string()
	x.NotificationEmails, x.InvoiceCCEmails = r.strings(), r.strings()
	if n := r.count(); n > 0 {
		x.Phones = make([]customer.Phone, n)
		for i := range x.Phones {
			x.Phones[i] = customer.Phone{Number: r.string(), Type: picklist(phoneTypes, r.string(), customer.ParsePhoneType), Primary: r.bool()}
		}
	}
	if n := r.count(); n > 0 {
		x.Addresses = make([]customer.Address, n)
		for i := range x.Addresses {
			a := &x.Addresses[i]
			a.Type = picklist(addressTypes, r.string(), customer.ParseAddressType)
			a.Street, a.City, a.State, a.Postcode, a.Country = r.string(), r.string(), r.string(), r.string(), r.string()
			a.Default, a.Lat, a.Lng = r.bool(), r.coordinate(), r.coordinate()
		}
	}
	if r.bad || len(r.b) != 0 {
		return doc{}, errBadDoc
	}
	return d, nil
}

// header is the start of a doc: what a search verifies a candidate against.
type header struct {
	archived  bool
	addresses int
	texts     string
}

// docHeader reads a doc's header, and returns a reader of the rest.
func docHeader(s string) (header, *reader, error) {
	r := &reader{b: s}
	if r.byte() != docFormat {
		return header{}, nil, errBadDoc
	}
	h := header{archived: r.bool(), addresses: int(r.uvarint()), texts: r.string()}
	if r.bad {
		return header{}, nil, errBadDoc
	}
	return h, r, nil
}

// values reads the folded values back: substrings of the doc, no copies.
func (h header) values() ([]value, error) {
	out := make([]value, 0, 8)
	r := reader{b: h.texts}
	for len(r.b) > 0 && !r.bad {
		f := fieldOf(r.byte())
		out = append(out, value{field: f, address: int(r.uvarint()) - 1, text: r.string()})
	}
	if r.bad {
		return nil, errBadDoc
	}
	return out, nil
}

// The picklist values docs hold, by name: parsing builds a list of names on
// every call, and a search decodes hundreds of docs.
var (
	kinds        = byName(customer.Person, customer.Company)
	phoneTypes   = byName(customer.Mobile, customer.Work, customer.Home, customer.Fax, customer.OtherLine)
	addressTypes = byName(customer.Billing, customer.Shipping, customer.Service)
)

func byName[T fmt.Stringer](values ...T) map[string]T {
	m := make(map[string]T, len(values))
	for _, v := range values {
		m[v.String()] = v
	}
	return m
}

// picklist reads a stored picklist value; "" is the unset value, and a name
// missing from known (a value added since) is parsed.
func picklist[T any](known map[string]T, s string, parse func(string) (T, error)) T {
	if v, ok := known[s]; ok {
		return v
	}
	v, err := parse(s)
	if err != nil {
		var zero T
		return zero
	}
	return v
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

func appendCoordinate(b []byte, v *float64) []byte {
	if v == nil {
		return append(b, 0)
	}
	return binary.BigEndian.AppendUint64(append(b, 1), math.Float64bits(*v))
}

// reader decodes a doc; the first error sticks and makes every later read empty.
type reader struct {
	b   string
	bad bool
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) bool() bool { return r.byte() == 1 }

// uvarint reads what binary.AppendUvarint wrote, from a string.
func (r *reader) uvarint() uint64 {
	var v uint64
	var shift uint
	for i := 0; i < len(r.b) && i < binary.MaxVarintLen64; i++ {
		c := r.b[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break // over 64 bits
			}
			r.b = r.b[i+1:]
			return v | uint64(c)<<shift
		}
		v |= uint64(c&0x7f) << shift
		shift += 7
	}
	r.bad, r.b = true, ""
	return 0
}

// count reads a list length, which cannot exceed the bytes left.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.bad, r.b = true, ""
		return 0
	}
	return int(n)
}

func (r *reader) string() string {
	n := r.count()
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) strings() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.string()
	}
	return out
}

func (r *reader) coordinate() *float64 {
	if r.byte() != 1 {
		return nil
	}
	if len(r.b) < 8 {
		r.bad, r.b = true, ""
		return nil
	}
	v := math.Float64frombits(binary.BigEndian.Uint64([]byte(r.b[:8])))
	r.b = r.b[8:]
	return &v
}
