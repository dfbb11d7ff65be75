package search

import (
	"slices"
	"strings"
	"unicode"

	"github.com/fieldservice/customer-service/projections/textkey"
)

// MinQuery is the shortest query searched, and the gram length.
const MinQuery = 4

// Field names what matched.
type Field string

const (
	FieldName   Field = "name"
	FieldEmail  Field = "email"
	FieldPhone  Field = "phone"
	FieldStreet Field = "street"
)

// code is a field's byte in a doc.
func (f Field) code() byte {
	switch f {
	case FieldName:
		return 'n'
	case FieldEmail:
		return 'e'
	case FieldPhone:
		return 'p'
	}
	return 's'
}

func fieldOf(code byte) Field {
	switch code {
	case 'n':
		return FieldName
	case 'e':
		return FieldEmail
	case 'p':
		return FieldPhone
	}
	return FieldStreet
}

// value is one indexed value of a customer.
type value struct {
	field   Field
	address int    // for a street: its address's index; else -1 (all addresses)
	text    string // folded, or a phone's digits
}

// values lists what a customer is found by, in the order that breaks ties
// between equally good matches: names, emails, phones, streets.
func values(d details) []value {
	var out []value
	add := func(f Field, addr int, s string) {
		if s != "" {
			out = append(out, value{field: f, address: addr, text: s})
		}
	}
	add(FieldName, -1, textkey.Fold(strings.TrimSpace(d.FirstName+" "+d.LastName)))
	add(FieldName, -1, textkey.Fold(d.BusinessName))
	add(FieldName, -1, textkey.Fold(d.ContactName))
	emails := append([]string{d.Email, d.StatementEmail}, d.NotificationEmails...)
	for _, e := range append(emails, d.InvoiceCCEmails...) {
		add(FieldEmail, -1, textkey.Fold(e))
	}
	for _, p := range d.Phones {
		add(FieldPhone, -1, digits(p.Number))
	}
	for i, a := range d.Addresses {
		add(FieldStreet, i, textkey.Fold(a.Street))
	}
	return out
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// separator reports whether b ends a word.
func separator(b byte) bool {
	return b < 0x80 && !unicode.IsLetter(rune(b)) && !unicode.IsDigit(rune(b))
}

// wordStart reports whether a word starts at t[i].
func wordStart(t string, i int) bool { return i == 0 || separator(t[i-1]) }

// Posting families.
const (
	famAnywhere  = 'g'
	famWordStart = 's'
	famWordNext  = 't'
	famWhole     = 'x'
)

// pkey names a posting: its family, its gram and, for x, the value's length (a
// byte, 255 for longer), so that an exact query finds few candidates beyond its
// matches ("james" is not where "james james" is); and the range of customer
// numbers it holds (the top 16 bits). Packed in an integer, bytes in that order,
// not a string: a rebuild sorts and maps a hundred per customer.
type pkey uint64

func gramKey(family byte, gram string) pkey {
	k := pkey(family)
	for i := range MinQuery {
		k = k<<8 | pkey(gram[i])
	}
	return k << 8
}

func wholeKey(t string) pkey {
	return gramKey(famWhole, t[len(t)-MinQuery:]) | pkey(min(len(t), 255))
}

// in is the posting of the same gram for the numbers of range r.
func (k pkey) in(r uint32) pkey { return k&(1<<48-1) | pkey(r)<<48 }

// base is the name of the posting's gram, without the generation prefix or the
// range: "g:mull". A search names the ranges' postings by adding rangeSuffix.
func (k pkey) base() string {
	b := []byte{byte(k >> 40), ':', byte(k >> 32), byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)}
	if b[0] != famWhole {
		b = b[:len(b)-1]
	}
	return string(b)
}

// name is the posting's key without the generation prefix: its base, then its
// range in two bytes, "g:mull\x00\x03".
func (k pkey) name() string { return k.base() + rangeSuffix(uint32(k>>48)) }

func rangeSuffix(r uint32) string { return string([]byte{byte(r >> 8), byte(r)}) }

// presence names the bitmap of the ranges where the posting's gram has
// entries, "pg:mull": bit r (SETBIT's order) is set while range r's posting
// exists. A search skips, without a probe, the ranges where one of its grams
// is absent.
func (k pkey) presence() string { return "p" + k.base() }

// rangeOf is the range of numbers the posting holds.
func (k pkey) rangeOf() int64 { return int64(k >> 48) }

// A member is a customer's place in one posting, without the range: the
// posting's key, and the field of the values that hold its gram in the bits a
// range takes in a pkey (fieldCode). Members sort by field, then key.
type member uint64

func (m member) key() pkey { return pkey(m) & (1<<48 - 1) }

// entry is the member's number in a posting of customer ref: ref and field
// in one integer, so that customers sort as their numbers do and a query's
// postings intersect only where one field holds every gram.
func (m member) entry(ref uint32) uint32 { return ref<<fieldBits | uint32(m>>48) }

// fieldBits are the low bits of a posting's entry that name the field.
const fieldBits = 2

// fieldCode is a field's value in an entry.
func fieldCode(f Field) member {
	switch f {
	case FieldName:
		return 0
	case FieldEmail:
		return 1
	case FieldPhone:
		return 2
	}
	return 3
}

// refOfEntry is the customer of a posting's entry.
func refOfEntry(e uint32) uint32 { return e >> fieldBits }

// postingKeys lists the postings a customer's values put it in, each with
// the field that puts it there, sorted.
func postingKeys(vs []value) []member {
	out := make([]member, 0, 128)
	for _, v := range vs {
		t := v.text
		if len(t) < MinQuery {
			continue // no query is that short
		}
		f := fieldCode(v.field) << 48
		for i := 0; i+MinQuery <= len(t); i++ {
			g := t[i : i+MinQuery]
			out = append(out, f|member(gramKey(famAnywhere, g)))
			if wordStart(t, i) {
				out = append(out, f|member(gramKey(famWordStart, g)))
			}
			if i > 0 && wordStart(t, i-1) {
				out = append(out, f|member(gramKey(famWordNext, g)))
			}
		}
		out = append(out, f|member(wholeKey(t)))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Query is what a user typed, prepared for the index.
type Query struct {
	text string
}

// Text is the query as the index compares it: folded, or a phone's digits.
func (q Query) Text() string { return q.text }

// MaxQuery caps a query's length in bytes: nothing indexed is longer in practice,
// and a search reads a posting per gram it considers.
const MaxQuery = 256

// ParseQuery folds a query: a phone-like one ("(555) 0134", "+1 555-0134") is
// searched by its digits; anything else case- and accent-insensitively. A query
// shorter than MinQuery characters, or longer than MaxQuery bytes, is refused.
func ParseQuery(s string) (Query, bool) {
	q, err := parseQuery(s)
	return q, err == nil
}

func parseQuery(s string) (Query, error) {
	q := textkey.Fold(s)
	if d := digits(q); len(d) >= MinQuery && strings.Trim(q, "0123456789 +-().") == "" {
		q = d
	}
	switch {
	case len(q) < MinQuery || len([]rune(q)) < MinQuery:
		return Query{}, ErrQueryTooShort
	case len(q) > MaxQuery:
		return Query{}, ErrQueryTooLong
	}
	return Query{text: q}, nil
}

// Class is a match's rank.
type Class int

const (
	Exact Class = iota
	Prefix
	Infix
)

func (c Class) String() string { return [...]string{"exact", "prefix", "infix"}[c] }

// postingsFor lists the bases of the postings a class's candidates are in:
// every one holds them all, so a search may walk any, and walks the shortest
// in each range.
func postingsFor(q string, c Class) []string {
	var out []string
	switch c {
	case Exact:
		// A value of the query's length that starts and ends like it: exact
		// matches, in practice, without sizing the query's other grams in every
		// range (the exact rank walks them all, and is mostly empty).
		return []string{wholeKey(q).base(), gramKey(famWordStart, q).base()}
	case Prefix:
		out = append(out, gramKey(famWordStart, q).base())
		if len(q) > MinQuery {
			// The second gram one byte into the word: "chard" is not where a
			// word starts with "char" and another holds "hard" ("charles
			// richardson").
			out = append(out, gramKey(famWordNext, q[1:]).base())
		}
	}
	// At most 16 of a long query's grams, spread over it: enough to find a short
	// posting, few enough to size in one call.
	n := len(q) - MinQuery + 1
	step := max(1, (n+15)/16)
	for i := 0; i < n; i += step {
		out = append(out, gramKey(famAnywhere, q[i:i+MinQuery]).base())
	}
	return out
}

// match is the best occurrence of a query in an entry's values.
type match struct {
	class Class
	value value
}

// best finds an entry's best match: the lowest class, then the first value in
// values order. Values of another address (its street) do not count.
func best(q string, vs []value, address int) (match, bool) {
	var b match
	found := false
	for _, v := range vs {
		if v.address >= 0 && v.address != address {
			continue
		}
		for i := 0; i+len(q) <= len(v.text); i++ {
			if v.text[i] != q[0] || !strings.HasPrefix(v.text[i:], q) || (i > 0 && !utf8Start(v.text[i])) {
				continue
			}
			c := Infix
			switch {
			case i == 0 && len(v.text) == len(q):
				c = Exact
			case wordStart(v.text, i):
				c = Prefix
			}
			if !found || c < b.class {
				b, found = match{class: c, value: v}, true
			}
			if c != Infix {
				break // later occurrences in this value are no better than a prefix
			}
		}
	}
	return b, found
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
