package search

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/customerbatch"
)

// Name is the read model's name and checkpoint identity. v4: postings split
// by ranges of customer numbers, entries that name their field, the t: family,
// and a bitmap per gram of the ranges it is present in.
const Name = "search-v4"

// Retired implements projections.Retirer: the layouts v4 replaced, v3 (the
// same without the presence bitmaps), v2 (one posting per gram) and v1
// (suffixes in sorted sets), whose keys an upgraded Redis would otherwise keep.
func (Projector) Retired() []string { return []string{"search-v1", "search-v2", "search-v3"} }

func refOf(number int64) string { return strconv.FormatInt(number, 36) }

// refBucket names the small hash that maps a customer id to its number: 65,536
// buckets keep each in Redis's compact encoding up to millions of customers.
func refBucket(id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return strconv.FormatUint(uint64(h.Sum32()&0xffff), 16)
}

// Projector maintains the index.
type Projector struct {
	// RangeBits sets how many customer numbers one posting covers: 2^RangeBits.
	// Default 16 (65,536): an edit rewrites a few hundred bytes per posting at a
	// million customers, and a common gram costs a key per 65,536 customers.
	// Tests set it small so that a few customers span many ranges. At most 16
	// below 2^32 customers; changing it needs a rebuild (under a new Name).
	RangeBits int
}

// RebuildBatchSize implements projections.RebuildBatcher. A rebuild appends a
// batch's customers to the postings of their grams, one write per posting: at
// 8,192 registrations a batch touches about 5.5 postings per customer, at
// 65,536 under one (synthetic customers, as test/searchload makes them).
func (Projector) RebuildBatchSize() int { return 65536 }

// DefaultRangeBits is Projector.RangeBits when it is zero.
const DefaultRangeBits = 16

func (p Projector) rangeBits() int {
	if p.RangeBits <= 0 {
		return DefaultRangeBits
	}
	return p.RangeBits
}

// metaKey holds the layout a search reads, in entries (member.entry): the
// range width ("bits": 2^bits entries, those of 2^RangeBits customers) and the
// highest entry ("top"), where the walk of the ranges ends.
func metaKey(keys projections.Keys) string { return keys.Key("m") }

// raiseTop sets the highest entry unless it is higher already.
var raiseTop = redis.NewScript(`
if tonumber(redis.call('HGET', KEYS[1], 'top') or '0') < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'top', ARGV[1])
end
redis.call('HSET', KEYS[1], 'bits', ARGV[2])
return 1
`)

// Name implements projections.Projector.
func (Projector) Name() string { return Name }

// EventTypes implements projections.Subscriber: a customer's events only.
func (Projector) EventTypes() []string { return customerbatch.EventTypes() }

// Project implements projections.Projector: for each customer the batch touches,
// it applies the events to the kept state through the aggregate, then moves the
// customer out of the postings of grams it lost and into those of grams it
// gained, one write per posting for the whole batch. An erased customer leaves
// the index entirely.
func (p Projector) Project(ctx context.Context, keys projections.Keys, r redis.Cmdable, w redis.Pipeliner, batch []projections.Event) error {
	ids, byID := customerbatch.Group(batch)
	if len(ids) == 0 {
		return nil
	}
	old, err := loadDocs(ctx, r, keys, ids, byID)
	if err != nil {
		return err
	}
	bits := p.rangeBits()
	edits := newPostingEdits()
	var top int64
	for _, id := range ids {
		c := customer.New(id)
		var before []member
		if d := old[id]; d != nil {
			c = customer.FromSnapshot(customer.Snapshot{ID: id, Number: d.Number, Version: d.Version, Details: d.Details.customer(), Archived: d.Archived})
			before = postingKeys(values(d.Details))
		}
		if err := customerbatch.ApplyNew(c, byID[id]); err != nil {
			return fmt.Errorf("search: %w", err)
		}
		if c.Number() <= 0 || c.Number() > math.MaxUint32>>fieldBits || c.Number()>>bits > math.MaxUint16 {
			return fmt.Errorf("search: customer %s has number %d, outside what postings hold", id, c.Number())
		}
		top = max(top, c.Number())
		ref := refOf(c.Number())
		var after []member
		if c.Erasure() == nil {
			d := doc{ID: id, Number: c.Number(), Version: c.Version(), Archived: c.Archived(), Details: searchable(c.Details())}
			vs := values(d.Details)
			after = postingKeys(vs)
			w.Set(ctx, keys.Key("d", ref), d.encode(vs), 0)
			w.HSet(ctx, keys.Key("r", refBucket(id)), id, c.Number())
		} else {
			w.Del(ctx, keys.Key("d", ref))
			w.HDel(ctx, keys.Key("r", refBucket(id)), id)
		}
		edits.customer(uint32(c.Number()), uint32(c.Number()>>bits), before, after)
	}
	// EVAL, not EVALSHA: inside MULTI, a Redis that forgot the script could not
	// be told it again.
	raiseTop.Eval(ctx, w, []string{metaKey(keys)}, top<<fieldBits|(1<<fieldBits-1), bits+fieldBits)
	return edits.queue(ctx, r, w, keys.Prefix())
}

// loadDocs reads the docs of the batch's customers that the index already
// holds, through their numbers. A customer whose first event in the batch is
// its registration is new: nothing to read.
func loadDocs(ctx context.Context, r redis.Cmdable, keys projections.Keys, ids []string, byID map[string][]projections.Event) (map[string]*doc, error) {
	out := map[string]*doc{}
	known := customerbatch.Known(ids, byID)
	if len(known) == 0 {
		return out, nil
	}
	numbers := make([]*redis.StringCmd, len(known))
	if _, err := r.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range known {
			numbers[i] = p.HGet(ctx, keys.Key("r", refBucket(id)), id)
		}
		return nil
	}); err != nil && err != redis.Nil {
		return nil, err
	}
	var docKeys []string
	for _, c := range numbers {
		if n, err := c.Int64(); err == nil {
			docKeys = append(docKeys, keys.Key("d", refOf(n)))
		}
	}
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
		d, err := decodeDoc(s)
		if err != nil {
			return nil, err
		}
		out[d.ID] = &d
	}
	return out, nil
}
