package search

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"

	"github.com/redis/go-redis/v9"
)

// refSize is the width of a customer number in a posting.
const refSize = 4

// postingEdits are a batch's changes to postings, by key (family and gram):
// customer numbers to add and to remove.
type postingEdits struct {
	add, remove map[string][]uint32
}

func newPostingEdits() *postingEdits {
	return &postingEdits{add: map[string][]uint32{}, remove: map[string][]uint32{}}
}

// customer records that a customer's postings went from before to after.
func (e *postingEdits) customer(ref uint32, before, after map[string]struct{}) {
	for k := range before {
		if _, kept := after[k]; !kept {
			e.remove[k] = append(e.remove[k], ref)
		}
	}
	for k := range after {
		if _, had := before[k]; !had {
			e.add[k] = append(e.add[k], ref)
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
	tails := map[string]*redis.StringCmd{}
	whole := map[string]*redis.StringCmd{}
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
				tails[k] = p.GetRange(ctx, prefix+k, -refSize, -1)
			}
		}
		for k := range e.remove {
			whole[k] = p.Get(ctx, prefix+k)
		}
	})
	if err != nil {
		return err
	}
	var rewrite []string
	for k, c := range tails {
		if tail := c.Val(); len(tail) != refSize || refAt(tail, 0) < e.add[k][0] {
			w.Append(ctx, prefix+k, string(pack(e.add[k])))
		} else {
			rewrite = append(rewrite, k)
		}
	}
	if len(rewrite) > 0 {
		if err := read(func(p redis.Pipeliner) {
			for _, k := range rewrite {
				whole[k] = p.Get(ctx, prefix+k)
			}
		}); err != nil {
			return err
		}
	}
	for k, c := range whole {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if merged := merge(c.Val(), e.add[k], e.remove[k]); len(merged) == 0 {
			w.Del(ctx, prefix+k)
		} else {
			w.Set(ctx, prefix+k, merged, 0)
		}
	}
	return nil
}

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
