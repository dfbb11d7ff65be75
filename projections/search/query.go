package search

import (
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
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
	// Cost is what the page took, for load tools and slow-query reports.
	Cost Cost
}

// Cost counts a search's work.
type Cost struct {
	// RoundTrips to Redis, Chunks of candidates read, Candidates the postings
	// gave, Docs read to verify them.
	RoundTrips, Chunks, Candidates, Docs int
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

// candidateScript (candidates.lua, run as candidateChunks) reads the next
// chunk of candidates of several classes in one call, in posting entries
// (member.entry). ARGV[1] and ARGV[2] are the filters and extra below, ARGV[3]
// the read model's prefix (projections.ModelPrefix): the script reads the
// current generation itself, which saves a search a round trip, and answers
// {-1} when there is none. Then come the chunks, each as after, want, the
// number of its postings and their bases, without the generation's prefix;
// each range's posting is named by two bytes more. One call for every class
// of a page reads the generation and the layout once, and costs Redis one
// script call instead of one per class.
//
// For each chunk, the ranges are walked in order from the one holding entry
// after+1 up to the highest entry (in the layout key m). In each, the shortest
// posting drives: its entries above after (all of them when at most four times
// what the chunk still wants are left), up to want in the whole chunk. The
// next filters shortest filter them, each returning its own entries above
// after, as many as should span the driver's plus extra, for the caller to
// intersect with; a posting too long for that is left out (it filters little
// and costs much). A range where a posting's presence bitmap (read once per
// chunk) says it is absent is skipped without a probe; one found empty all the
// same costs one STRLEN, and is sized first in the next range. Once a range
// has sized every posting, later ones size only the shortest few.
//
// The reply is the generation, then per chunk: the entry up to which every
// candidate is in the reply (0 when the postings are exhausted), then per
// range with entries the driver's part and each filter's. A range's part of a
// posting that stops short ends the chunk there.
//
// A first chunk (after = 0) reads from the postings' starts without a single
// probe; a later one finds its start in its first range by a binary search.
// Entries are compared as integers, never as strings, which Lua compares by
// locale. The script names the keys it reads itself, none in KEYS: a Redis
// Cluster would need the model's keys in one slot, by a hash tag in its prefix.
//
//go:embed candidates.lua
var candidateScript string

var candidateChunks = redis.NewScript(candidateScript)

// A chunk is intersected with at most maxFilters other postings, the shortest.
const maxFilters = 3

// chunk is a request for candidates and, once read, its answer.
type chunk struct {
	postings []string // bases
	after    uint32
	size     int

	gen        int64    // the generation read; -1 when there is none
	candidates []uint32 // customer numbers, each once
	last       uint32   // the last candidate of the chunks before
	end        uint32   // the entry where the chunk ended; 0 when the postings are exhausted
}

// readChunks reads chunks of candidates in one call: the customers above
// each chunk's after that hold every one of its postings' grams.
func readChunks(ctx context.Context, rdb redis.Cmdable, chunks []*chunk, extra int) error {
	args := []any{maxFilters, extra, modelPrefix}
	for _, c := range chunks {
		args = append(args, c.after, c.size, len(c.postings))
		args = append(args, anys(c.postings)...)
	}
	// EvalSha falls back to EVAL when a restarted Redis forgot the script.
	res, err := candidateChunks.Run(ctx, rdb, nil, args...).Slice()
	if err != nil {
		return err
	}
	if len(res) == 0 {
		return errors.New("search: empty reply from the candidate script")
	}
	gen, err := parseGen(res[0])
	if err != nil {
		return err
	}
	if gen >= 0 && len(res) != 1+len(chunks) {
		return fmt.Errorf("search: %d chunks in the candidate script's reply, want %d", len(res)-1, len(chunks))
	}
	for i, c := range chunks {
		c.gen = gen
		if gen < 0 {
			c.candidates, c.end = nil, 0
			continue
		}
		part, _ := res[1+i].([]any)
		if err := c.parse(part); err != nil {
			return err
		}
	}
	return nil
}

// parseGen reads the generation at the head of the script's reply: -1 when
// there is none.
func parseGen(v any) (int64, error) {
	switch g := v.(type) {
	case int64:
		return g, nil
	case string:
		gen, err := strconv.ParseInt(g, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("search: generation %q: %w", g, err)
		}
		return gen, nil
	}
	return 0, fmt.Errorf("search: generation %v in the candidate script's reply", v)
}

var modelPrefix = projections.ModelPrefix(Name)

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// parse reads a chunk's part of the reply: it intersects each range's driver
// with its filters, keeping the candidates up to where the chunk ended.
func (c *chunk) parse(res []any) error {
	c.candidates, c.end = nil, 0
	if len(res) == 0 {
		return errors.New("search: short reply from the candidate script")
	}
	end, _ := res[0].(int64)
	var entries []uint32
	for _, g := range res[1:] {
		parts, _ := g.([]any)
		if len(parts) == 0 {
			continue
		}
		driver, _ := parts[0].(string)
		found := refs(driver)
		for _, f := range parts[1:] {
			part, _ := f.(string)
			found = intersect(found, part)
		}
		entries = append(entries, found...)
	}
	if end != 0 {
		// A filter's part that stopped short ended the chunk: candidates past it
		// wait for the next chunk.
		for len(entries) > 0 && entries[len(entries)-1] > uint32(end) {
			entries = entries[:len(entries)-1]
		}
	}
	// A customer's entries are next to each other: several in a chunk give one
	// candidate, and a chunk that ended inside them must not give it again.
	var candidates []uint32
	for _, e := range entries {
		ref := refOfEntry(e)
		if n := len(candidates); n > 0 && candidates[n-1] == ref || n == 0 && ref == c.last {
			continue
		}
		candidates = append(candidates, ref)
	}
	if n := len(candidates); n > 0 {
		c.last = candidates[n-1]
	}
	c.candidates, c.end = candidates, uint32(end)
	return nil
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
	return search(ctx, rdb, req, firstChunk)
}

// search reads a page with first chunks of first candidates.
func search(ctx context.Context, rdb redis.Cmdable, req Request, first int) (Result, error) {
	q, err := parseQuery(req.Query)
	if err != nil {
		return Result{}, err
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
	s := searcher{rdb: rdb, q: q.text, includeArchived: req.IncludeArchived, first: first, raw: map[uint32]string{}}
	return s.page(ctx, from, limit)
}

// searcher reads one page.
type searcher struct {
	rdb             redis.Cmdable
	keys            projections.Keys // of the generation the last chunk read
	q               string
	includeArchived bool
	first           int // the size of a class's first chunk
	cost            Cost
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
		c := &chunk{postings: postingsFor(s.q, class), size: s.first}
		if class == from.class && from.ref > 0 {
			c.after = from.ref<<fieldBits - 1 // the cursor's customer may have more entries
		}
		chunks = append(chunks, c)
	}
	if err := s.read(ctx, chunks...); err != nil {
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
							res.Cost = s.cost
							return res, nil
						}
					}
				}
			}
			if c.end == 0 {
				break
			}
			c.after, c.size = c.end, min(4*c.size, 16*s.first)
			if err := s.read(ctx, c); err != nil {
				return Result{}, err
			}
		}
	}
	res.Cost = s.cost
	return res, nil
}

// read reads chunks in one round trip, and keeps the generation they read for
// the docs. A rebuild switching generations between two chunks changes
// nothing: customers have the same numbers in every generation.
func (s *searcher) read(ctx context.Context, chunks ...*chunk) error {
	if err := readChunks(ctx, s.rdb, chunks, s.first/4); err != nil {
		return err
	}
	s.cost.RoundTrips++
	for _, c := range chunks {
		s.cost.Chunks++
		s.cost.Candidates += len(c.candidates)
		if c.gen < 0 {
			return ErrNotReady
		}
		s.keys = projections.KeysAt(Name, c.gen)
	}
	return nil
}

// firstChunk is the size of a class's first chunk of candidates: 1 KiB of the
// shortest posting, the next growing fourfold.
const firstChunk = 256

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
	s.cost.RoundTrips++
	s.cost.Docs += len(ks)
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
