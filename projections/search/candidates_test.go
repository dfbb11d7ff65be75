package search

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/redistest"
)

// The candidate script on its own: postings laid out by hand (random entries,
// random range widths, chunks of random sizes), walked chunk by chunk as a
// search does, must give exactly the customers that a plain intersection of
// the postings gives, each once, in order.
func TestCandidateScriptIntersectsPostings(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		rng := rand.New(rand.NewPCG(7, 11))
		for round := range 60 {
			gen := int64(round + 1)
			bits := 2 + rng.IntN(6)                // ranges of 4 to 128 entries
			maxEntry := uint32(8 + rng.IntN(2000)) // a few to many ranges
			nPostings := 1 + rng.IntN(4)
			postings := make([][]uint32, nPostings)
			for i := range postings {
				density := 0.05 + rng.Float64()*0.9
				for e := uint32(4); e <= maxEntry; e++ { // customer numbers from 1
					if rng.Float64() < density {
						postings[i] = append(postings[i], e)
					}
				}
			}
			bases := layOut(t, rdb, gen, bits, postings)
			want := bruteForce(postings)
			c := &chunk{postings: bases, size: 1 + rng.IntN(64)}
			var got []uint32
			for {
				if err := readChunks(t.Context(), rdb, []*chunk{c}, rng.IntN(8)); err != nil {
					t.Fatal(err)
				}
				if c.gen != gen {
					t.Fatalf("round %d: generation %d, want %d", round, c.gen, gen)
				}
				got = append(got, c.candidates...)
				if c.end == 0 {
					break
				}
				c.after, c.size = c.end, min(4*c.size, 1024)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("round %d (ranges of %d entries, %d postings): candidates\n%v\nwant\n%v", round, 1<<bits, nPostings, got, want)
			}
		}
	})
}

// layOut writes postings as generation gen of the read model, in ranges of
// 2^bits entries, with the bitmaps of the ranges they are present in, and
// returns their bases.
func layOut(t *testing.T, rdb *redis.Client, gen int64, bits int, postings [][]uint32) []string {
	t.Helper()
	keys := projections.KeysAt(Name, gen)
	var top uint32
	var bases []string
	for i, p := range postings {
		base := fmt.Sprintf("g:p%03d", i)
		bases = append(bases, base)
		byRange := map[uint32][]byte{}
		for _, e := range p {
			r := e >> bits
			byRange[r] = binary.BigEndian.AppendUint32(byRange[r], e)
			top = max(top, e)
		}
		for r, b := range byRange {
			if err := rdb.Set(t.Context(), keys.Key(base)+string([]byte{byte(r >> 8), byte(r)}), b, 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := rdb.SetBit(t.Context(), keys.Key("p"+base), int64(r), 1).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := rdb.HSet(t.Context(), keys.Key("m"), "top", top, "bits", bits).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(t.Context(), modelPrefix+"gen", gen, 0).Err(); err != nil {
		t.Fatal(err)
	}
	return bases
}

// bruteForce is the customers whose entries are in every posting.
func bruteForce(postings [][]uint32) []uint32 {
	var out []uint32
	for _, e := range postings[0] {
		in := true
		for _, p := range postings[1:] {
			if _, ok := slices.BinarySearch(p, e); !ok {
				in = false
				break
			}
		}
		if ref := refOfEntry(e); in && (len(out) == 0 || out[len(out)-1] != ref) {
			out = append(out, ref)
		}
	}
	return out
}
