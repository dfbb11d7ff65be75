package search

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/projections"
)

// refSize is the width of an entry in a posting.
const refSize = 4

// postingEdits are a batch's changes to postings: entries to add and to
// remove.
type postingEdits struct {
	add, remove map[pkey][]uint32
}

func newPostingEdits() *postingEdits {
	return &postingEdits{add: map[pkey][]uint32{}, remove: map[pkey][]uint32{}}
}

// customer records that customer ref's postings went from before to after
// (both sorted); its number is in range r.
func (e *postingEdits) customer(ref, r uint32, before, after []member) {
	for len(before) > 0 || len(after) > 0 {
		var c int
		switch {
		case len(before) == 0:
			c = 1
		case len(after) == 0:
			c = -1
		default:
			c = cmp.Compare(before[0], after[0])
		}
		switch {
		case c < 0:
			k := before[0].key().in(r)
			e.remove[k] = append(e.remove[k], before[0].entry(ref))
			before = before[1:]
		case c > 0:
			k := after[0].key().in(r)
			e.add[k] = append(e.add[k], after[0].entry(ref))
			after = after[1:]
		default:
			before, after = before[1:], after[1:]
		}
	}
}

// queue reads what it needs of the postings through r and queues their new
// contents on w. New customers have the highest numbers, so most edits are an
// APPEND after a look at the posting's last number; a posting that loses
// numbers, or gains one below its last, is rewritten whole.
func (e *postingEdits) queue(ctx context.Context, r redis.Cmdable, w redis.Pipeliner, prefix string) error {
	for _, refs := range e.add {
		slices.Sort(refs)
	}
	for _, refs := range e.remove {
		slices.Sort(refs)
	}
	tails := map[pkey]*redis.StringCmd{}
	whole := map[pkey]*redis.StringCmd{}
	read := func(fn func(p redis.Pipeliner)) error {
		_, err := r.Pipelined(ctx, func(p redis.Pipeliner) error { fn(p); return nil })
		if errors.Is(err, redis.Nil) {
			return nil // a posting not there yet
		}
		return err
	}
	err := read(func(p redis.Pipeliner) {
		for k := range e.add {
			if len(e.remove[k]) == 0 {
				tails[k] = p.GetRange(ctx, prefix+k.name(), -refSize, -1)
			}
		}
		for k := range e.remove {
			whole[k] = p.Get(ctx, prefix+k.name())
		}
	})
	if err != nil {
		return err
	}
	var rewrite []pkey
	for k, c := range tails {
		switch tail := c.Val(); {
		case tail == "": // a new posting
			w.Append(ctx, prefix+k.name(), string(pack(e.add[k])))
			w.SetBit(ctx, prefix+k.presence(), k.rangeOf(), 1)
		case refAt(tail, 0) < e.add[k][0]:
			w.Append(ctx, prefix+k.name(), string(pack(e.add[k])))
		default:
			rewrite = append(rewrite, k)
		}
	}
	if len(rewrite) > 0 {
		if err := read(func(p redis.Pipeliner) {
			for _, k := range rewrite {
				whole[k] = p.Get(ctx, prefix+k.name())
			}
		}); err != nil {
			return err
		}
	}
	for k, c := range whole {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		cur := c.Val()
		merged := merge(cur, e.add[k], e.remove[k])
		switch {
		case len(merged) == 0 && cur != "":
			w.Del(ctx, prefix+k.name())
			w.Eval(ctx, clearPresence, []string{prefix + k.presence()}, k.rangeOf())
		case len(merged) > 0:
			w.Set(ctx, prefix+k.name(), merged, 0)
			if cur == "" {
				w.SetBit(ctx, prefix+k.presence(), k.rangeOf(), 1)
			}
		}
	}
	return nil
}

// clearPresence clears a range's bit, and deletes the bitmap once no range is
// left: a gram nobody holds any more leaves no key. Sent whole (EVAL, not
// EVALSHA) because it runs inside the commit's transaction, where a script
// Redis does not know could not be retried; postings empty out rarely.
const clearPresence = `
redis.call('SETBIT', KEYS[1], ARGV[1], 0)
if redis.call('BITCOUNT', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
return 0`

func pack(refs []uint32) []byte {
	b := make([]byte, 0, len(refs)*refSize)
	for _, ref := range refs {
		b = binary.BigEndian.AppendUint32(b, ref)
	}
	return b
}

// merge returns a posting with add (sorted) added and remove (sorted) removed.
func merge(cur string, add, remove []uint32) []byte {
	out := make([]byte, 0, len(cur)+len(add)*refSize)
	put := func(ref uint32) {
		if n := len(out); n == 0 || binary.BigEndian.Uint32(out[n-refSize:]) < ref {
			out = binary.BigEndian.AppendUint32(out, ref)
		}
	}
	for i := 0; i+refSize <= len(cur); i += refSize {
		ref := refAt(cur, i)
		for len(add) > 0 && add[0] < ref {
			put(add[0])
			add = add[1:]
		}
		for len(remove) > 0 && remove[0] < ref {
			remove = remove[1:]
		}
		if len(remove) > 0 && remove[0] == ref {
			continue
		}
		put(ref)
	}
	for _, ref := range add {
		put(ref)
	}
	return out
}

// refs decodes a posting's numbers.
func refs(b string) []uint32 {
	out := make([]uint32, len(b)/refSize)
	for i := range out {
		out[i] = refAt(b, i*refSize)
	}
	return out
}

// refAt reads the number at byte offset i of a posting.
func refAt(s string, i int) uint32 {
	return uint32(s[i])<<24 | uint32(s[i+1])<<16 | uint32(s[i+2])<<8 | uint32(s[i+3])
}

// compactPostings rewrites each posting in KEYS at its exact size.
var compactPostings = redis.NewScript(`
for _, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v then redis.call('SET', k, v) end
end
return #KEYS
`)

// Compact implements projections.Compactor: a rebuild appends to postings batch
// after batch, and Redis leaves room for as much again behind each APPEND.
// Rewriting them once caught up gives that memory back.
func (Projector) Compact(ctx context.Context, keys projections.Keys, rdb *redis.Client) error {
	iter := rdb.Scan(ctx, 0, keys.Prefix()+"*", 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := compactPostings.Run(ctx, rdb, batch).Err()
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		k := iter.Val()
		if family := strings.TrimPrefix(k, keys.Prefix()); len(family) < 2 || family[1] != ':' ||
			family[0] != famAnywhere && family[0] != famWordStart && family[0] != famWordNext && family[0] != famWhole {
			continue
		}
		if batch = append(batch, k); len(batch) == 256 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	return flush()
}
