package search

import (
	"context"
	"encoding/base64"
	"encoding/binary"
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
	ErrQueryTooLong  = fmt.Errorf("a search takes at most %d bytes", MaxQuery)
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

// candidateChunk reads the next chunk of a class's candidates in one call.
// KEYS are the postings every candidate is in. The shortest one drives: up to
// ARGV[2] of its numbers above ARGV[1] (all, when at most four times that are
// left), and whether they reach its end. The next ARGV[3] shortest filter them,
// each returning its own numbers above ARGV[1], as many as should span the
// driver's, for the caller to intersect with; a posting too long for that is
// left out (it filters little and costs much). The reply is the driver's numbers and whether they reach its end, then the
// same for each filter.
//
// A first chunk (ARGV[1] = 0) reads from the postings' starts without a single
// probe; later ones find their start by a binary search. Numbers are compared
// as integers, never as strings, which Lua compares by locale.
var candidateChunk = redis.NewScript(`
local sizes, order = {}, {}
for i, k in ipairs(KEYS) do
  sizes[i], order[i] = redis.call('STRLEN', k) / 4, i
end
table.sort(order, function(a, b) return sizes[a] < sizes[b] end)
local after, count = tonumber(ARGV[1]), tonumber(ARGV[2])
local function above(k) -- the index of the first number above after
  local lo, hi = 0, sizes[k]
  if after == 0 then return 0 end
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local a, b, c, d = string.byte(redis.call('GETRANGE', KEYS[k], mid * 4, mid * 4 + 3), 1, 4)
    if ((a * 256 + b) * 256 + c) * 256 + d <= after then lo = mid + 1 else hi = mid end
  end
  return lo
end
local function slice(k, n)
  local from = above(k)
  local to = math.min(sizes[k], from + n)
  if from >= to then return '', 1 end
  local reaches = 0
  if to == sizes[k] then reaches = 1 end
  return redis.call('GETRANGE', KEYS[k], from * 4, to * 4 - 1), reaches
end
local driver = order[1]
if sizes[driver] - above(driver) <= 4 * count then
  count = sizes[driver] -- little is left: take it all, saving round trips
end
local part, reaches = slice(driver, count)
local out = {part, reaches}
if part == '' then return out end
local read = #part / 4
for j = 2, math.min(#order, 1 + tonumber(ARGV[3])) do
  local i = order[j]
  -- Enough of the filter to span the driver's numbers if both are spread
  -- alike, twice over, and ARGV[4] more; a filter that would need more than
  -- 16 KiB filters little, and is left out with the longer ones.
  local want = math.ceil(2 * read * sizes[i] / sizes[driver]) + tonumber(ARGV[4])
  if want > 4096 then break end
  local part, reaches = slice(i, want)
  if part == '' then return {''} end -- nothing above holds that gram
  out[#out + 1] = part
  out[#out + 1] = reaches
end
return out
`)

// A chunk is intersected with at most maxFilters other postings, the shortest.
const maxFilters = 3

// chunk is a request for candidates and, once read, its answer.
type chunk struct {
	postings []string
	after    uint32
	size     int

	candidates []uint32
	end        uint32 // where the chunk ended; 0 when the postings are exhausted
}

// readChunks reads chunks of candidates in one round trip: the customers above
// each chunk's after that hold every one of its postings' grams.
func readChunks(ctx context.Context, rdb redis.Cmdable, chunks []*chunk) error {
	cmds := make([]*redis.Cmd, len(chunks))
	run := func() error {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, c := range chunks {
				cmds[i] = candidateChunk.EvalSha(ctx, p, c.postings, c.after, c.size, maxFilters, firstChunk/4)
			}
			return nil
		})
		return err
	}
	err := run()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// A restarted Redis forgot the script.
		if err = candidateChunk.Load(ctx, rdb).Err(); err == nil {
			err = run()
		}
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	for i, c := range chunks {
		res, err := cmds[i].Slice()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		c.candidates, c.end = c.parse(res)
	}
	return nil
}

func (c *chunk) parse(res []any) ([]uint32, uint32) {
	if len(res) == 0 {
		return nil, 0
	}
	driver, _ := res[0].(string)
	candidates := refs(driver)
	if len(candidates) == 0 {
		return nil, 0
	}
	end := candidates[len(candidates)-1]
	if reaches, _ := res[1].(int64); reaches == 1 {
		end = 0
	}
	for i := 2; i+1 < len(res); i += 2 {
		part, _ := res[i].(string)
		if reaches, _ := res[i+1].(int64); reaches == 0 {
			// The filter's part stops short: candidates past it wait for the next
			// chunk.
			if last := refAt(part, len(part)-refSize); end == 0 || last < end {
				end = last
				for len(candidates) > 0 && candidates[len(candidates)-1] > last {
					candidates = candidates[:len(candidates)-1]
				}
			}
		}
		candidates = intersect(candidates, part)
	}
	return candidates, end
}

// intersect keeps the candidates (sorted) that the posting holds.
func intersect(candidates []uint32, posting string) []uint32 {
	out := candidates[:0]
	j := 0
	for _, c := range candidates {
		for j+refSize <= len(posting) && refAt(posting, j) < c {
			j += refSize
		}
		if j+refSize <= len(posting) && refAt(posting, j) == c {
			out = append(out, c)
		}
	}
	return out
}

// Search returns a page of entries, best first.
func Search(ctx context.Context, rdb redis.Cmdable, req Request) (Result, error) {
	q, err := parseQuery(req.Query)
	if err != nil {
		return Result{}, err
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
	s := searcher{rdb: rdb, keys: keys, q: q.text, includeArchived: req.IncludeArchived, raw: map[uint32]string{}}
	return s.page(ctx, from, limit)
}

// searcher reads one page.
type searcher struct {
	rdb             redis.Cmdable
	keys            projections.Keys
	q               string
	includeArchived bool
	raw             map[uint32]string // docs read, not decoded yet; "": erased meanwhile
}

func (s *searcher) page(ctx context.Context, from cursor, limit int) (Result, error) {
	// The first chunk of every class is read at once, and the docs of the first
	// candidates: most pages need no more, and take three round trips. A
	// chunk is large (round trips cost more than bytes); docs are read as
	// needed, a few more each time.
	var chunks []*chunk
	var first []uint32
	for class := from.class; class <= Infix; class++ {
		postings := postingsFor(s.q, class)
		for i, p := range postings {
			postings[i] = s.keys.Prefix() + p
		}
		c := &chunk{postings: postings, size: firstChunk}
		if class == from.class && from.ref > 0 {
			c.after = from.ref - 1 // the cursor's customer may have more entries
		}
		chunks = append(chunks, c)
	}
	if err := readChunks(ctx, s.rdb, chunks); err != nil {
		return Result{}, err
	}
	for _, c := range chunks {
		if len(c.candidates) > 0 {
			first = c.candidates[:min(len(c.candidates), limit+8)]
			break // a page mostly fills from the first class with candidates
		}
	}
	if err := s.load(ctx, first); err != nil {
		return Result{}, err
	}
	var res Result
	for i, c := range chunks {
		class := from.class + Class(i)
		for {
			// When most candidates fail (archived, or better found in another
			// class), read more docs at a time.
			for n, todo := limit+8, c.candidates; len(todo) > 0; n *= 4 {
				some := todo[:min(n, len(todo))]
				todo = todo[len(some):]
				if err := s.load(ctx, some); err != nil {
					return Result{}, err
				}
				for _, ref := range some {
					es, err := s.entries(ref, class)
					if err != nil {
						return Result{}, err
					}
					for _, e := range es {
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
			}
			if c.end == 0 {
				break
			}
			c.after, c.size = c.end, min(4*c.size, 16*firstChunk)
			if err := readChunks(ctx, s.rdb, []*chunk{c}); err != nil {
				return Result{}, err
			}
		}
	}
	return res, nil
}

// firstChunk is the size of a class's first chunk of candidates: 1 KiB of the
// shortest posting, the next growing fourfold.
var firstChunk = 256

// load reads the docs of the customers not read yet, and keeps them as they
// are: a doc is decoded only once a page looks at its customer.
func (s *searcher) load(ctx context.Context, refs []uint32) error {
	var want []uint32
	var ks []string
	for _, ref := range refs {
		if _, done := s.raw[ref]; !done {
			s.raw[ref] = ""
			want = append(want, ref)
			ks = append(ks, s.keys.Key("d", refOf(int64(ref))))
		}
	}
	if len(ks) == 0 {
		return nil
	}
	vals, err := s.rdb.MGet(ctx, ks...).Result()
	if err != nil {
		return err
	}
	for i, v := range vals {
		if str, ok := v.(string); ok {
			s.raw[want[i]] = str
		}
	}
	return nil
}

// entries are a customer's results in class c: one per address (or one
// without an address) whose best match for the query is of that class. Most
// candidates are turned down by their doc's texts alone; the rest of a doc is
// decoded only for a result.
func (s *searcher) entries(ref uint32, c Class) ([]Entry, error) {
	raw := s.raw[ref]
	if raw == "" {
		return nil, nil // erased meanwhile
	}
	h, _, err := docHeader(raw)
	if err != nil {
		return nil, fmt.Errorf("search doc %d: %w", ref, err)
	}
	if h.archived && !s.includeArchived || !strings.Contains(h.texts, s.q) {
		return nil, nil
	}
	vs, err := h.values()
	if err != nil {
		return nil, fmt.Errorf("search doc %d: %w", ref, err)
	}
	addrs := []int{-1}
	if h.addresses > 0 {
		addrs = make([]int, h.addresses)
		for i := range addrs {
			addrs[i] = i
		}
	}
	var out []Entry
	var d *doc
	for _, a := range addrs {
		b, ok := best(s.q, vs, a)
		if !ok || b.class != c {
			continue
		}
		if d == nil {
			decoded, err := decodeDoc(raw)
			if err != nil {
				return nil, fmt.Errorf("search doc %d: %w", ref, err)
			}
			d = &decoded
		}
		e := Entry{CustomerID: d.ID, Number: d.Number, DisplayName: d.Details.displayName(), Kind: d.Details.Kind, Archived: d.Archived,
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
	return out, nil
}
