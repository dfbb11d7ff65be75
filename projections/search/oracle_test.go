package search_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/projections/textkey"
)

// currentStates replays every customer stream from the log.
func currentStates(t *testing.T, f *fixture) map[string]customer.Snapshot {
	t.Helper()
	ctx := context.Background()
	history := map[string][]customer.Recorded{}
	for rec, err := range f.store.ReadAll(ctx, eventstore.Position{}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		id, ok := customer.Stream.ID(rec.Stream)
		if !ok {
			continue
		}
		e, m, err := f.codec.Decode(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		history[id] = append(history[id], customer.Recorded{Event: e.(customer.Event), At: m.OccurredAt, By: m.Actor})
	}
	out := map[string]customer.Snapshot{}
	for id, h := range history {
		c, err := customer.Replay(id, h)
		if err != nil {
			t.Fatal(err)
		}
		out[id] = c.Snapshot()
	}
	return out
}

type oValue struct {
	field, code, text string
	address           int
}

// oracleValues is the definition of what a customer is found by, written out
// without the index's code.
func oracleValues(d customer.Details) []oValue {
	var out []oValue
	seen := map[string]bool{}
	add := func(field, code, text string, addr int) {
		if text != "" && !seen[code+"|"+text] {
			seen[code+"|"+text] = true
			out = append(out, oValue{field, code, text, addr})
		}
	}
	for _, n := range []string{d.FirstName + " " + d.LastName, d.BusinessName, d.ContactName} {
		add("name", "n", textkey.Fold(n), -1)
	}
	for _, e := range append(append([]string{d.Email, d.StatementEmail}, d.NotificationEmails...), d.InvoiceCCEmails...) {
		add("email", "e", textkey.Fold(e), -1)
	}
	for _, p := range d.Phones {
		add("phone", "p", strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, p.Number), -1)
	}
	for i, a := range d.Addresses {
		add("street", fmt.Sprint("a", i), textkey.Fold(a.Street), i)
	}
	return out
}

// oracle scans every customer: an entry per address (or one without), ranked by
// its best occurrence: exact whole value, then a word start, then anywhere; then
// by customer number and address. An entry's field is that of the first value
// (names, emails, phones, streets) with its best occurrence.
func oracle(states map[string]customer.Snapshot, query string, archived bool) []string {
	qt := foldedQuery(query)
	type hit struct {
		class  int
		number int64
		addr   int
		row    string
	}
	var hits []hit
	for id, s := range states {
		if s.Erasure != nil || s.Archived && !archived {
			continue
		}
		vals := oracleValues(s.Details)
		addrs := []int{-1}
		if len(s.Details.Addresses) > 0 {
			addrs = nil
			for i := range s.Details.Addresses {
				addrs = append(addrs, i)
			}
		}
		for _, a := range addrs {
			var best *hit
			for _, v := range vals {
				if v.address >= 0 && v.address != a {
					continue
				}
				for i := 0; i+len(qt) <= len(v.text); i++ {
					if v.text[i:i+len(qt)] != qt || (i > 0 && v.text[i]&0xC0 == 0x80) {
						continue
					}
					class := 2
					if i == 0 && v.text == qt {
						class = 0
					} else if i == 0 || !isWordChar(v.text[i-1]) {
						class = 1
					}
					if best == nil || class < best.class {
						best = &hit{class: class, number: s.Number, addr: a,
							row: fmt.Sprintf("%s/%d/%s/%s", id, a, v.field, [...]string{"exact", "prefix", "infix"}[class])}
					}
				}
			}
			if best != nil {
				hits = append(hits, *best)
			}
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		a, b := hits[i], hits[j]
		if a.class != b.class {
			return a.class < b.class
		}
		if a.number != b.number {
			return a.number < b.number
		}
		return a.addr < b.addr
	})
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.row
	}
	return out
}

func isWordChar(b byte) bool {
	return b >= 0x80 || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// foldedQuery is how the oracle reads a query: phone-like ones by their digits.
func foldedQuery(s string) string {
	q := textkey.Fold(s)
	d := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, q)
	if len(d) >= 4 && strings.Trim(q, "0123456789 +-().") == "" {
		return d
	}
	return q
}
