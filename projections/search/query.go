package search

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/projections"
)

// Request is a search.
type Request struct {
	Query string
	// IncludeArchived also finds archived customers.
	IncludeArchived bool
	// After is the cursor of the previous page ("" for the first).
	After string
	// Limit is the page size: default 20, at most 100.
	Limit int
}

// Entry is one result: a customer at one of its addresses.
type Entry struct {
	CustomerID  string
	Number      int64
	DisplayName string
	Kind        customer.Kind
	Archived    bool
	Email       string
	Phone       string
	// Address is the entry's address; nil for a customer without one.
	Address      *customer.Address
	AddressIndex int // -1 without an address
	// Field is what matched, Class how well.
	Field Field
	Class Class
}

// Result is one page of results.
type Result struct {
	Entries []Entry
	// Next is the cursor of the next page; "" when there is none.
	Next string
}

// Errors of Search.
var (
	ErrQueryTooShort = fmt.Errorf("a search needs at least %d characters", MinQuery)
	ErrBadCursor     = errors.New("invalid search cursor")
	ErrNotReady      = errors.New("the search index is not built yet")
)

// cursor is where a page ended: the phase (0: word starts, 1: infix), the last
// member read and the last address of it emitted.
type cursor struct {
	phase   int
	member  string
	address int
}

func (c cursor) encode() string {
	b := binary.AppendUvarint([]byte{byte(c.phase)}, uint64(c.address+1))
	return base64.RawURLEncoding.EncodeToString(append(b, c.member...))
}

func decodeCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] > 1 {
		return cursor{}, ErrBadCursor
	}
	a, n := binary.Uvarint(b[1:])
	if n <= 0 || len(b) == 1+n {
		return cursor{}, ErrBadCursor
	}
	return cursor{phase: int(b[0]), address: int(a) - 1, member: string(b[1+n:])}, nil
}

// MaxLimit caps a page.
const MaxLimit = 100

// Search returns a page of entries, best first.
func Search(ctx context.Context, rdb redis.Cmdable, req Request) (Result, error) {
	q, ok := ParseQuery(req.Query)
	if !ok {
		return Result{}, ErrQueryTooShort
	}
	keys, ok, err := projections.CurrentKeys(ctx, rdb, Name)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, ErrNotReady
	}
	limit := req.Limit
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, MaxLimit)
	from := cursor{address: -2}
	if req.After != "" {
		if from, err = decodeCursor(req.After); err != nil {
			return Result{}, err
		}
	}
	s := searcher{rdb: rdb, keys: keys, q: q.text, includeArchived: req.IncludeArchived, docs: map[string]*doc{}, matches: map[string][]match{}}
	var res Result
	for phase := from.phase; phase <= 1; phase++ {
		key := keys.Prefix() + [...]string{"w:", "i:"}[phase] + q.text[:MinQuery]
		start := "[" + q.text
		if phase == from.phase && from.member != "" {
			start = "[" + from.member
		}
		chunk := int64(limit + 8) // a page rarely needs more members than entries
		for {
			ms, err := rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: key, Start: start, Stop: "[" + q.text + "\xff", ByLex: true, Count: chunk}).Result()
			if err != nil {
				return Result{}, err
			}
			if err := s.load(ctx, ms); err != nil {
				return Result{}, err
			}
			for _, m := range ms {
				for _, e := range s.entries(m) {
					if phase == from.phase && m == from.member && e.AddressIndex <= from.address {
						continue // on the previous page
					}
					res.Entries = append(res.Entries, e)
					if len(res.Entries) == limit {
						res.Next = cursor{phase: phase, member: m, address: e.AddressIndex}.encode()
						return res, nil
					}
				}
			}
			if int64(len(ms)) < chunk {
				break
			}
			start = "(" + ms[len(ms)-1]
		}
	}
	return res, nil
}

type searcher struct {
	rdb             redis.Cmdable
	keys            projections.Keys
	q               string
	includeArchived bool
	docs            map[string]*doc // by ref
	matches         map[string][]match
}

func splitMember(m string) (ref, code string) {
	parts := strings.Split(m, "\x00")
	if len(parts) != 3 {
		return "", ""
	}
	return parts[1], parts[2]
}

// load reads the docs of members' customers not read yet.
func (s *searcher) load(ctx context.Context, ms []string) error {
	var refs []string
	for _, m := range ms {
		if ref, _ := splitMember(m); ref != "" {
			if _, done := s.docs[ref]; !done {
				s.docs[ref] = nil
				refs = append(refs, ref)
			}
		}
	}
	if len(refs) == 0 {
		return nil
	}
	ks := make([]string, len(refs))
	for i, ref := range refs {
		ks[i] = s.keys.Key("d", ref)
	}
	vals, err := s.rdb.MGet(ctx, ks...).Result()
	if err != nil {
		return err
	}
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue // erased meanwhile
		}
		var d doc
		if err := json.Unmarshal([]byte(str), &d); err != nil {
			return fmt.Errorf("search doc %s: %w", refs[i], err)
		}
		s.docs[refs[i]] = &d
		s.matches[refs[i]] = matches(s.q, refs[i], values(d.Details))
	}
	return nil
}

// entries are the results member m stands for: its customer at each address the
// matched field concerns, where m is the entry's best match.
func (s *searcher) entries(m string) []Entry {
	ref, code := splitMember(m)
	d := s.docs[ref]
	if d == nil || d.Archived && !s.includeArchived {
		return nil
	}
	_, only := parseCode(code)
	addrs := []int{-1}
	switch {
	case only >= 0:
		addrs = []int{only}
	case len(d.Details.Addresses) > 0:
		addrs = addrs[:0]
		for i := range d.Details.Addresses {
			addrs = append(addrs, i)
		}
	}
	var out []Entry
	for _, a := range addrs {
		b, ok := best(s.matches[ref], a)
		if !ok || b.member != m {
			continue // found better elsewhere
		}
		e := Entry{CustomerID: d.ID, Number: d.Number, DisplayName: d.Details.DisplayName(), Kind: d.Details.Kind, Archived: d.Archived,
			Email: d.Details.Email, AddressIndex: a, Field: b.value.field, Class: b.class}
		if len(d.Details.Phones) > 0 {
			e.Phone = d.Details.Phones[0].Number
		}
		if a >= 0 {
			addr := d.Details.Addresses[a]
			e.Address = &addr
		}
		out = append(out, e)
	}
	return out
}
