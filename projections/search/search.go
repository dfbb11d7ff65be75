package search

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/projections"
)

// Name is the read model's name and checkpoint identity.
const Name = "search-v1"

// doc is what the index keeps of a customer: its searchable state, which is also
// what a result shows. Members name customers by a short ref (the customer
// number in base 36) rather than their 36-character id: a customer has about a
// hundred members.
type doc struct {
	ID       string           `json:"id"`
	Number   int64            `json:"number"`
	Version  uint64           `json:"version"`
	Archived bool             `json:"archived,omitempty"`
	Details  customer.Details `json:"details"`
}

func refOf(number int64) string { return strconv.FormatInt(number, 36) }

// Projector maintains the index.
type Projector struct{}

// Name implements projections.Projector.
func (Projector) Name() string { return Name }

// searchable keeps the details search finds customers by and shows in results;
// edits of other fields change nothing here, so the state stays small.
func searchable(d customer.Details) customer.Details {
	return customer.Details{Kind: d.Kind, FirstName: d.FirstName, LastName: d.LastName, BusinessName: d.BusinessName,
		ContactName: d.ContactName, Email: d.Email, NotificationEmails: d.NotificationEmails, InvoiceCCEmails: d.InvoiceCCEmails,
		StatementEmail: d.StatementEmail, Phones: d.Phones, Addresses: d.Addresses}
}

// Project implements projections.Projector: for each customer the batch touches,
// it applies the events to the kept state through the aggregate, then removes the
// members of values that are gone and adds those of new values, one ZREM and one
// ZADD per key for the whole batch. An erased customer leaves the index entirely.
func (Projector) Project(ctx context.Context, keys projections.Keys, r redis.Cmdable, w redis.Pipeliner, batch []projections.Event) error {
	var ids []string
	byID := map[string][]projections.Event{}
	for _, e := range batch {
		id, ok := strings.CutPrefix(e.Stream, "customer-")
		if !ok || id == "numbers" {
			continue
		}
		if _, seen := byID[id]; !seen {
			ids = append(ids, id)
		}
		byID[id] = append(byID[id], e)
	}
	if len(ids) == 0 {
		return nil
	}
	old, err := loadDocs(ctx, r, keys, ids)
	if err != nil {
		return err
	}
	adds, rems := map[string][]any{}, map[string][]any{}
	for _, id := range ids {
		c := customer.New(id)
		var before []member
		if d := old[id]; d != nil {
			c = customer.FromSnapshot(customer.Snapshot{ID: id, Number: d.Number, Version: d.Version, Details: d.Details, Archived: d.Archived})
			before = members(refOf(d.Number), values(d.Details))
		}
		for _, e := range byID[id] {
			if e.Version <= c.Version() {
				continue // already applied: a replayed batch
			}
			ce, ok := e.Event.(customer.Event)
			if !ok {
				return fmt.Errorf("search %s: %s is not a customer event", id, e.Type)
			}
			if err := c.Apply(customer.Recorded{Event: ce, At: e.Meta.OccurredAt, By: e.Meta.Actor}); err != nil {
				return fmt.Errorf("search %s: %w", id, err)
			}
		}
		ref := refOf(c.Number())
		var after []member
		if c.Erasure() == nil {
			d := searchable(c.Details())
			after = members(ref, values(d))
			js, err := json.Marshal(doc{ID: id, Number: c.Number(), Version: c.Version(), Archived: c.Archived(), Details: d})
			if err != nil {
				return err
			}
			w.Set(ctx, keys.Key("d", ref), js, 0)
			w.Set(ctx, keys.Key("r", id), ref, 0)
		} else {
			w.Del(ctx, keys.Key("d", ref), keys.Key("r", id))
		}
		// Two values can give one member (two phones ending alike): compare sets.
		had, has := set(before), set(after)
		for m := range had {
			if !has[m] {
				rems[m.key] = append(rems[m.key], m.m)
			}
		}
		for m := range has {
			if !had[m] {
				adds[m.key] = append(adds[m.key], redis.Z{Member: m.m})
			}
		}
	}
	for k, ms := range rems {
		w.ZRem(ctx, keys.Prefix()+k, ms...)
	}
	for k, zs := range adds {
		z := make([]redis.Z, len(zs))
		for i, v := range zs {
			z[i] = v.(redis.Z)
		}
		w.ZAdd(ctx, keys.Prefix()+k, z...)
	}
	return nil
}

// loadDocs reads the docs of customers by id, through their refs.
func loadDocs(ctx context.Context, r redis.Cmdable, keys projections.Keys, ids []string) (map[string]*doc, error) {
	refKeys := make([]string, len(ids))
	for i, id := range ids {
		refKeys[i] = keys.Key("r", id)
	}
	refs, err := r.MGet(ctx, refKeys...).Result()
	if err != nil {
		return nil, err
	}
	var docKeys []string
	for _, ref := range refs {
		if s, ok := ref.(string); ok {
			docKeys = append(docKeys, keys.Key("d", s))
		}
	}
	out := map[string]*doc{}
	if len(docKeys) == 0 {
		return out, nil
	}
	vals, err := r.MGet(ctx, docKeys...).Result()
	if err != nil {
		return nil, err
	}
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		var d doc
		if err := json.Unmarshal([]byte(s), &d); err != nil {
			return nil, fmt.Errorf("search doc: %w", err)
		}
		out[d.ID] = &d
	}
	return out, nil
}

func set(ms []member) map[member]bool {
	out := make(map[member]bool, len(ms))
	for _, m := range ms {
		out[m] = true
	}
	return out
}

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
