package search

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

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
	ErrQueryTooShort = fmt.Errorf("a search needs at least %d characters (and at most %d bytes)", MinQuery, MaxQuery)
	ErrBadCursor     = errors.New("invalid search cursor")
	ErrNotReady      = errors.New("the search index is not built yet")
)

// cursor is where a page ended: the class being read, the customer and the
// address of its last entry.
type cursor struct {
	class   Class
	ref     uint32
	address int
}

func (c cursor) encode() string {
	b := binary.AppendUvarint([]byte{byte(c.class)}, uint64(c.ref))
	b = binary.AppendUvarint(b, uint64(c.address+1))
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 3 || b[0] > byte(Infix) {
		return cursor{}, ErrBadCursor
	}
	ref, n := binary.Uvarint(b[1:])
	if n <= 0 || ref == 0 || ref > 1<<32-1 {
		return cursor{}, ErrBadCursor
	}
	a, m := binary.Uvarint(b[1+n:])
	if m <= 0 || 1+n+m != len(b) || a > 1<<16 {
		return cursor{}, ErrBadCursor
	}
	return cursor{class: Class(b[0]), ref: uint32(ref), address: int(a) - 1}, nil
}

// MaxLimit caps a page.
const MaxLimit = 100

// nextCandidates returns, from the shortest of the postings KEYS, up to
// ARGV[2] customer numbers above ARGV[1], found by a binary search: one call,
// whatever the postings' sizes. Numbers are compared as integers, never as
// strings, which Lua would compare by locale.
var nextCandidates = redis.NewScript(`
local best, size = nil, nil
for _, k in ipairs(KEYS) do
  local n = redis.call('STRLEN', k)
  if size == nil or n < size then best, size = k, n end
end
if size == nil or size == 0 then return '' end
local after, count = tonumber(ARGV[1]), tonumber(ARGV[2])
local lo, hi = 0, size / 4
if after > 0 then
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local a, b, c, d = string.byte(redis.call('GETRANGE', best, mid * 4, mid * 4 + 3), 1, 4)
    if ((a * 256 + b) * 256 + c) * 256 + d <= after then lo = mid + 1 else hi = mid end
  end
end
if lo >= size / 4 then return '' end
return redis.call('GETRANGE', best, lo * 4, math.min(size, (lo + count) * 4) - 1)
`)

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
	var from cursor
	if req.After != "" {
		if from, err = decodeCursor(req.After); err != nil {
			return Result{}, err
		}
	}
	var res Result
	for class := from.class; class <= Infix; class++ {
		postings := postingsFor(q.text, class)
		for i, p := range postings {
			postings[i] = keys.Prefix() + p
		}
		var after uint32
		if class == from.class && from.ref > 0 {
			after = from.ref - 1 // the cursor's customer may have more entries
		}
		// A page rarely needs more candidates than entries; when most candidates
		// fail (archived, or better found in another class), read more at a time.
		chunk := limit + 8
		for {
			raw, err := nextCandidates.Run(ctx, rdb, postings, after, chunk).Text()
			if err != nil && !errors.Is(err, redis.Nil) {
				return Result{}, err
			}
			candidates := refs(raw)
			docs, err := loadByRef(ctx, rdb, keys, candidates)
			if err != nil {
				return Result{}, err
			}
			for i, ref := range candidates {
				d := docs[i]
				if d == nil || d.Archived && !req.IncludeArchived {
					continue
				}
				for _, e := range entries(d, q.text, class) {
					if class == from.class && ref == from.ref && e.AddressIndex <= from.address {
						continue // on the previous page
					}
					res.Entries = append(res.Entries, e)
					if len(res.Entries) == limit {
						res.Next = cursor{class: class, ref: ref, address: e.AddressIndex}.encode()
						return res, nil
					}
				}
			}
			if len(candidates) < chunk {
				break
			}
			after, chunk = candidates[len(candidates)-1], min(4*chunk, 4096)
		}
	}
	return res, nil
}

// loadByRef reads the docs of customers by number; nil for one erased meanwhile.
func loadByRef(ctx context.Context, rdb redis.Cmdable, keys projections.Keys, candidates []uint32) ([]*doc, error) {
	if len(candidates) == 0 {
		return nil, nil
	}
	ks := make([]string, len(candidates))
	for i, ref := range candidates {
		ks[i] = keys.Key("d", refOf(int64(ref)))
	}
	vals, err := rdb.MGet(ctx, ks...).Result()
	if err != nil {
		return nil, err
	}
	out := make([]*doc, len(vals))
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		d, err := decodeDoc([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("search doc %d: %w", candidates[i], err)
		}
		out[i] = &d
	}
	return out, nil
}

// entries are a customer's results in class c: one per address (or one without
// an address) whose best match for q is of that class.
func entries(d *doc, q string, c Class) []Entry {
	vs := values(d.Details)
	addrs := []int{-1}
	if n := len(d.Details.Addresses); n > 0 {
		addrs = make([]int, n)
		for i := range addrs {
			addrs[i] = i
		}
	}
	var out []Entry
	for _, a := range addrs {
		b, ok := best(q, vs, a)
		if !ok || b.class != c {
			continue
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
