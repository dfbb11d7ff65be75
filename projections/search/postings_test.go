package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/projections/redistest"
)

// TestEditPostings edits postings on both servers: appended, spliced, cut,
// deleted when emptied.
func TestEditPostings(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		ctx := context.Background()
		for i, c := range []struct {
			cur         []uint32
			add, remove []uint32
			want        []uint32
		}{
			{nil, []uint32{3, 7}, nil, []uint32{3, 7}},                                // a new posting
			{[]uint32{2, 5}, []uint32{6, 9}, nil, []uint32{2, 5, 6, 9}},               // appended
			{[]uint32{2, 5, 9}, []uint32{1, 6, 10}, nil, []uint32{1, 2, 5, 6, 9, 10}}, // spliced in
			{[]uint32{2, 5, 9}, nil, []uint32{5}, []uint32{2, 9}},                     // cut out
			{[]uint32{2, 5, 9}, []uint32{4}, []uint32{2, 9}, []uint32{4, 5}},          // both
			{[]uint32{2, 5, 9}, []uint32{5}, []uint32{7}, []uint32{2, 5, 9}},          // already there, never there
			{[]uint32{2}, nil, []uint32{2}, nil},                                      // emptied: deleted
			{[]uint32{1 << 31, math.MaxUint32}, []uint32{1 << 24, 1<<31 + 1}, nil, []uint32{1 << 24, 1 << 31, 1<<31 + 1, math.MaxUint32}},
			// Long postings.
			{seq(1, 8000), []uint32{0, 4001, 9000}, []uint32{1, 2, 4000, 7999, 8000, 8001}, append(append(append([]uint32{0}, seq(3, 3999)...), seq(4001, 7998)...), 9000)},
			{seq(1, 5000), nil, seq(1, 5000), nil},
		} {
			var k string
			e := newPostingEdits()
			key := gramKey(famAnywhere, fmt.Sprintf("%04d", i))
			e.add[key], e.remove[key] = c.add, c.remove
			k = key.name()
			if c.cur != nil {
				rdb.Set(ctx, k, pack(c.cur), 0)
			}
			if _, err := rdb.TxPipelined(ctx, func(w redis.Pipeliner) error { return e.queue(ctx, rdb, w, "") }); err != nil {
				t.Fatal(err)
			}
			got, err := rdb.Get(ctx, k).Result()
			if c.want == nil {
				if !errors.Is(err, redis.Nil) {
					t.Errorf("%v +%v -%v: %v left, want no key", c.cur, c.add, c.remove, refs(got))
				}
				continue
			}
			if !slices.Equal(refs(got), c.want) {
				t.Errorf("%v +%v -%v = %v, want %v", c.cur, c.add, c.remove, refs(got), c.want)
			}
		}
	})
}

func TestIntersectKeepsCommonNumbers(t *testing.T) {
	got := intersect([]uint32{1, 4, 6, 9, 12}, string(pack([]uint32{2, 4, 5, 9, 13})))
	if !slices.Equal(got, []uint32{4, 9}) {
		t.Fatalf("intersect = %v", got)
	}
}

func TestPostingNames(t *testing.T) {
	for k, want := range map[pkey]string{
		gramKey(famAnywhere, "mull"):              "g:mull\x00\x00",
		gramKey(famAnywhere, "mull").in(3):        "g:mull\x00\x03",
		gramKey(famWordStart, "müll"[:4]).in(258): "s:m\xc3\xbcl\x01\x02",
		wholeKey("james"):                         "x:ames\x05\x00\x00",
		wholeKey("james").in(65535):               "x:ames\x05\xff\xff",
		wholeKey(string(make([]byte, 300))).in(1): "x:\x00\x00\x00\x00\xff\x00\x01",
	} {
		if got := k.name(); got != want {
			t.Errorf("name = %q, want %q", got, want)
		}
	}
	// Sorted keys compare by range, then like their names' bytes, family first.
	if !(gramKey(famAnywhere, "zzzz") < gramKey(famWordStart, "aaaa") && gramKey(famAnywhere, "abcd") < gramKey(famAnywhere, "abce") &&
		gramKey(famWhole, "zzzz") < gramKey(famAnywhere, "aaaa").in(1)) {
		t.Fatal("posting keys do not sort like their bytes")
	}
	if got := wholeKey("james").in(7).in(2).base(); got != "x:ames\x05" {
		t.Fatalf("base = %q", got)
	}
}

func TestPostingKeysOfAValue(t *testing.T) {
	got := postingKeys([]value{{field: FieldName, address: -1, text: "ann lee"}, {field: FieldPhone, address: -1, text: "012"},
		{field: FieldStreet, address: 0, text: "lee st"}})
	var names []string
	for _, m := range got {
		names = append(names, fmt.Sprintf("%s/%d", m.key().name(), m.entry(5)))
	}
	// Windows of 4 bytes anywhere, those at a word start and one byte into a
	// word, and the whole value's last window with its length, each with the
	// value's field: customer 5 is
	// entry 20 for a name, 23 for a street. "012" is too short for any query.
	want := []string{"g:ann \x00\x00/20", "g:n le\x00\x00/20", "g:nn l\x00\x00/20", "g: lee\x00\x00/20", "s:ann \x00\x00/20", "t:nn l\x00\x00/20", "x: lee\x07\x00\x00/20",
		"g:lee \x00\x00/23", "g:ee s\x00\x00/23", "g:e st\x00\x00/23", "s:lee \x00\x00/23", "t:ee s\x00\x00/23", "x:e st\x06\x00\x00/23"}
	slices.Sort(want)
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Fatalf("postings %q, want %q", names, want)
	}
}

// seq lists the numbers from..to.
func seq(from, to uint32) []uint32 {
	var out []uint32
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}
