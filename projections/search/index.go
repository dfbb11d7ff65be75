// Package search is the read model technicians find customers with: a query of
// at least four characters matches anywhere inside a name (person or business),
// any email, any phone number (on its digits) or any street address, case- and
// accent-insensitively. Results are one entry per customer address, ranked exact
// (a whole value equals the query), then prefix (a word starts with it), then
// infix, each naming the field that matched.
//
// Plain Redis structures (no modules). Every indexed value is folded
// (textkey.Fold; phones to their digits) and each of its suffixes of at least four
// bytes is a member "<suffix>\x00<ref>\x00<field>" of a sorted set with all
// scores 0, so ZRANGE BYLEX finds the members that start with the query. A ref is
// the customer number in base 36: members are many, ids are long.
//
//	w:<first 4 bytes>   suffixes that start a word (offset 0, or after a separator)
//	i:<first 4 bytes>   the other suffixes: infix matches
//	d:<ref>             the customer's searchable state and display payload, JSON
//	r:<customer id>     the customer's ref, for the projector
//
// Every query names one key of each kind by its first four bytes, and keys stay
// small (compact listpacks). In w, "q\x00…" (the whole value equals q) sorts
// before any longer value, so reading w then i in lex order yields exact, prefix,
// infix, and the first page reads only a few dozen members whatever the number of
// matches. An edit removes exactly the members of the values it replaced: they are
// recomputed from the state kept in d:<ref>.
package search

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/projections/textkey"
)

// MinQuery is the shortest query searched.
const MinQuery = 4

// Field names what matched.
type Field string

const (
	FieldName   Field = "name"
	FieldEmail  Field = "email"
	FieldPhone  Field = "phone"
	FieldStreet Field = "street"
)

// value is one indexed value of a customer.
type value struct {
	field   Field
	address int    // for a street: its address's index; else -1 (all addresses)
	text    string // folded, or a phone's digits
}

// code is the field part of a member: "n", "e", "p", or "a<index>".
func (v value) code() string {
	switch v.field {
	case FieldName:
		return "n"
	case FieldEmail:
		return "e"
	case FieldPhone:
		return "p"
	}
	return "a" + strconv.Itoa(v.address)
}

func parseCode(c string) (Field, int) {
	switch c {
	case "n":
		return FieldName, -1
	case "e":
		return FieldEmail, -1
	case "p":
		return FieldPhone, -1
	}
	i, _ := strconv.Atoi(strings.TrimPrefix(c, "a"))
	return FieldStreet, i
}

// values lists what a customer is found by.
func values(d customer.Details) []value {
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
	// A value given twice (a name that is also the contact) is indexed once.
	seen := map[string]bool{}
	uniq := out[:0]
	for _, v := range out {
		if k := v.code() + "\x00" + v.text; !seen[k] {
			seen[k] = true
			uniq = append(uniq, v)
		}
	}
	return uniq
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

// member is an index entry.
type member struct {
	key string // "w:<shard>" or "i:<shard>", without the generation prefix
	m   string
}

// separator reports whether b ends a word.
func separator(b byte) bool {
	return b < 0x80 && !unicode.IsLetter(rune(b)) && !unicode.IsDigit(rune(b))
}

// members lists the index entries of a customer's values.
func members(ref string, vs []value) []member {
	var out []member
	for _, v := range vs {
		for i := 0; i+MinQuery <= len(v.text); i++ {
			if i > 0 && !utf8Start(v.text[i]) {
				continue // not a character boundary
			}
			suffix := v.text[i:]
			kind := "i:"
			if i == 0 || separator(v.text[i-1]) {
				kind = "w:"
			}
			out = append(out, member{key: kind + suffix[:MinQuery], m: suffix + "\x00" + ref + "\x00" + v.code()})
		}
	}
	return out
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// Query is what a user typed, prepared for the index.
type Query struct {
	text string
}

// Text is the query as the index compares it: folded, or a phone's digits.
func (q Query) Text() string { return q.text }

// ParseQuery folds a query: a phone-like one ("(555) 0134", "+1 555-0134") is
// searched by its digits; anything else case- and accent-insensitively. A query
// shorter than MinQuery characters is refused.
func ParseQuery(s string) (Query, bool) {
	q := textkey.Fold(s)
	if d := digits(q); len(d) >= MinQuery && strings.Trim(q, "0123456789 +-().") == "" {
		q = d
	}
	if len(q) < MinQuery || len([]rune(q)) < MinQuery {
		return Query{}, false
	}
	return Query{text: q}, true
}

// Class is a match's rank.
type Class int

const (
	Exact Class = iota
	Prefix
	Infix
)

func (c Class) String() string { return [...]string{"exact", "prefix", "infix"}[c] }

// match is one occurrence of a query in a customer's value, as the member that
// finds it.
type match struct {
	class  Class
	member string
	value  value
}

// matches lists every occurrence of q in the values, in no particular order.
func matches(q, ref string, vs []value) []match {
	var out []match
	for _, v := range vs {
		for i := 0; i+len(q) <= len(v.text); i++ {
			if !strings.HasPrefix(v.text[i:], q) || (i > 0 && !utf8Start(v.text[i])) {
				continue
			}
			c := Infix
			switch {
			case i == 0 && v.text == q:
				c = Exact
			case i == 0 || separator(v.text[i-1]):
				c = Prefix
			}
			out = append(out, match{class: c, member: v.text[i:] + "\x00" + ref + "\x00" + v.code(), value: v})
		}
	}
	return out
}

// best is an entry's rank: its best class and, within it, the first member in
// index order that finds it. An entry is emitted there and only there, so pages
// never repeat it.
func best(ms []match, address int) (match, bool) {
	var b match
	found := false
	for _, m := range ms {
		if m.value.address >= 0 && m.value.address != address {
			continue // another address's street
		}
		if !found || m.class < b.class || m.class == b.class && m.member < b.member {
			b, found = m, true
		}
	}
	return b, found
}
