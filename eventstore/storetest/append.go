package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/eventstore"
)

func testAppendThenReadStream(t *testing.T, h Harness) {
	s := h.New(t)
	stream := newStream("append")
	first, second := newEvents(2, "Opened"), newEvents(3, "Changed")
	r1 := mustAppend(t, s, stream, eventstore.NoStream(), first...)
	r2 := mustAppend(t, s, stream, eventstore.Exact(2), second...)
	if r1.Version != 2 || r2.Version != 5 {
		t.Fatalf("versions after appends = %d, %d; want 2, 5", r1.Version, r2.Version)
	}
	if r2.Position.Compare(r1.Position) <= 0 {
		t.Fatalf("second append's position %v is not after the first's %v", r2.Position, r1.Position)
	}
	got := readStream(t, s, stream, eventstore.ReadOptions{})
	want := append(first, second...)
	if len(got) != len(want) {
		t.Fatalf("read %d events, want %d", len(got), len(want))
	}
	for i := range want {
		sameEvent(t, got[i], want[i], stream, uint64(i+1))
		if i > 0 && got[i].Position.Compare(got[i-1].Position) <= 0 {
			t.Fatalf("positions not increasing in stream: %v then %v", got[i-1].Position, got[i].Position)
		}
	}
}

func testExpectedVersions(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	stream := newStream("expect")

	_, err := s.Append(ctx, stream, eventstore.StreamExists(), newEvents(1, "E")...)
	wantWrongVersion(t, err, stream, 0)
	_, err = s.Append(ctx, stream, eventstore.Exact(1), newEvents(1, "E")...)
	wantWrongVersion(t, err, stream, 0)

	mustAppend(t, s, stream, eventstore.NoStream(), newEvents(1, "E")...)
	_, err = s.Append(ctx, stream, eventstore.NoStream(), newEvents(1, "E")...)
	wantWrongVersion(t, err, stream, 1)
	mustAppend(t, s, stream, eventstore.StreamExists(), newEvents(1, "E")...)
	_, err = s.Append(ctx, stream, eventstore.Exact(1), newEvents(1, "E")...)
	wantWrongVersion(t, err, stream, 2)
	_, err = s.Append(ctx, stream, eventstore.Exact(3), newEvents(1, "E")...)
	wantWrongVersion(t, err, stream, 2)
	mustAppend(t, s, stream, eventstore.Exact(2), newEvents(1, "E")...)
	if r := mustAppend(t, s, stream, eventstore.Any(), newEvents(2, "E")...); r.Version != 5 {
		t.Fatalf("version after Any append = %d, want 5", r.Version)
	}
	if got := readStream(t, s, stream, eventstore.ReadOptions{}); len(got) != 5 {
		t.Fatalf("stream holds %d events after refused appends, want 5", len(got))
	}
}

func testUnsetExpectation(t *testing.T, h Harness) {
	s := h.New(t)
	stream := newStream("unset")
	_, err := s.Append(ctxFor(t), stream, eventstore.ExpectedVersion{}, newEvents(1, "E")...)
	if !errors.Is(err, eventstore.ErrInvalidEvent) {
		t.Fatalf("append with unset expectation: got %v, want ErrInvalidEvent", err)
	}
	assertNoStream(t, s, stream)
}

func testInvalidEvents(t *testing.T, h Harness) {
	s := h.New(t)
	stream := newStream("invalid")
	noID := newEvents(1, "E")
	noID[0].ID = uuid.Nil
	noType := newEvents(1, "")
	repeated := newEvents(2, "E")
	repeated[1].ID = repeated[0].ID
	for name, es := range map[string][]eventstore.EventData{"no id": noID, "no type": noType, "repeated id": repeated, "none": nil} {
		if _, err := s.Append(ctxFor(t), stream, eventstore.Any(), es...); !errors.Is(err, eventstore.ErrInvalidEvent) {
			t.Errorf("append with %s: got %v, want ErrInvalidEvent", name, err)
		}
	}
	assertNoStream(t, s, stream)
}

func assertNoStream(t *testing.T, s eventstore.Store, stream string) {
	t.Helper()
	for _, err := range s.ReadStream(ctxFor(t), stream, eventstore.ReadOptions{}) {
		if !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Fatalf("stream %s after refused appends: got %v, want ErrStreamNotFound", stream, err)
		}
	}
}

func testIdempotentRetry(t *testing.T, h Harness) {
	s := h.New(t)
	stream := newStream("idem")
	es := newEvents(3, "E")
	orig := mustAppend(t, s, stream, eventstore.NoStream(), es...)
	mustAppend(t, s, stream, eventstore.Exact(3), newEvents(1, "Later")...)

	// The same request again (a client retrying after a lost reply), then with Any.
	for _, exp := range []eventstore.ExpectedVersion{eventstore.NoStream(), eventstore.Any()} {
		again := mustAppend(t, s, stream, exp, es...)
		if again.Version != orig.Version {
			t.Fatalf("retry expecting %s returned version %d, want the original %d", exp, again.Version, orig.Version)
		}
	}
	got := readStream(t, s, stream, eventstore.ReadOptions{})
	if len(got) != 4 {
		t.Fatalf("stream holds %d events after retries, want 4 (no duplicates)", len(got))
	}
	if got[2].Position != orig.Position {
		t.Fatalf("original result position %v, but event 3 is at %v", orig.Position, got[2].Position)
	}
}

func testPartialRetry(t *testing.T, h Harness) {
	s := h.New(t)
	stream := newStream("partial")
	es := newEvents(2, "E")
	mustAppend(t, s, stream, eventstore.NoStream(), es...)
	_, err := s.Append(ctxFor(t), stream, eventstore.NoStream(), append(es[:1:1], newEvents(1, "E")...)...)
	if !errors.Is(err, eventstore.ErrWrongVersion) {
		t.Fatalf("retry that only partly matches: got %v, want ErrWrongVersion", err)
	}
	if got := readStream(t, s, stream, eventstore.ReadOptions{}); len(got) != 2 {
		t.Fatalf("stream holds %d events, want 2", len(got))
	}
}

func testReadStreamOptions(t *testing.T, h Harness) {
	s := h.New(t)
	stream := newStream("readopts")
	es := newEvents(1200, "E") // more than one read chunk of the embedded store
	for i := 0; i < len(es); i += 300 {
		mustAppend(t, s, stream, eventstore.Exact(uint64(i)), es[i:i+300]...)
	}
	versions := func(events []eventstore.RecordedEvent) []uint64 {
		out := make([]uint64, len(events))
		for i, e := range events {
			out[i] = e.Version
		}
		return out
	}
	cases := []struct {
		name  string
		opts  eventstore.ReadOptions
		first uint64
		n     int
		step  int
	}{
		{"all forwards", eventstore.ReadOptions{}, 1, 1200, 1},
		{"forwards from 600", eventstore.ReadOptions{From: 600}, 600, 601, 1},
		{"forwards limit 10", eventstore.ReadOptions{From: 5, Limit: 10}, 5, 10, 1},
		{"forwards past end", eventstore.ReadOptions{From: 1201}, 0, 0, 1},
		{"all backwards", eventstore.ReadOptions{Direction: eventstore.Backwards}, 1200, 1200, -1},
		{"backwards from 700 limit 600", eventstore.ReadOptions{Direction: eventstore.Backwards, From: 700, Limit: 600}, 700, 600, -1},
		{"last event", eventstore.ReadOptions{Direction: eventstore.Backwards, Limit: 1}, 1200, 1, -1},
	}
	for _, c := range cases {
		got := versions(readStream(t, s, stream, c.opts))
		if len(got) != c.n {
			t.Fatalf("%s: read %d events, want %d", c.name, len(got), c.n)
		}
		for i, v := range got {
			if want := int(c.first) + i*c.step; v != uint64(want) {
				t.Fatalf("%s: event %d has version %d, want %d", c.name, i, v, want)
			}
		}
	}
}

func testMissingStream(t *testing.T, h Harness) {
	s := h.New(t)
	stream := newStream("missing")
	for _, dir := range []eventstore.Direction{eventstore.Forwards, eventstore.Backwards} {
		n := 0
		for _, err := range s.ReadStream(ctxFor(t), stream, eventstore.ReadOptions{Direction: dir}) {
			n++
			if !errors.Is(err, eventstore.ErrStreamNotFound) {
				t.Fatalf("reading a missing stream: got %v, want ErrStreamNotFound", err)
			}
		}
		if n != 1 {
			t.Fatalf("reading a missing stream yielded %d items, want one error", n)
		}
	}
}

func testConcurrentWriters(t *testing.T, h Harness) {
	const writers, versions = 50, 10
	s := h.New(t)
	ctx := ctxFor(t)
	stream := newStream("race")
	for v := range uint64(versions) {
		start := make(chan struct{})
		var wg sync.WaitGroup
		wins, conflicts := make(chan eventstore.EventData, writers), make(chan error, writers)
		for range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := newEvents(1, "Raced")[0]
				<-start // release every writer at once
				_, err := s.Append(ctx, stream, eventstore.Exact(v), e)
				if err == nil {
					wins <- e
				} else {
					conflicts <- err
				}
			}()
		}
		close(start)
		wg.Wait()
		close(wins)
		close(conflicts)
		if len(wins) != 1 {
			t.Fatalf("version %d: %d appends won, want exactly one", v+1, len(wins))
		}
		for err := range conflicts {
			wantWrongVersion(t, err, stream, v+1)
		}
		winner := <-wins
		last := readStream(t, s, stream, eventstore.ReadOptions{Direction: eventstore.Backwards, Limit: 1})
		if len(last) != 1 || last[0].ID != winner.ID || last[0].Version != v+1 {
			t.Fatalf("version %d holds %+v, want the winner %s", v+1, last, winner.ID)
		}
	}
}

func testReopen(t *testing.T, h Harness) {
	if h.Reopen == nil {
		t.Skip("adapter cannot reopen its storage")
	}
	s := h.New(t)
	stream := newStream("reopen")
	es := newEvents(5, "E")
	res := mustAppend(t, s, stream, eventstore.NoStream(), es...)
	s = h.Reopen(t, s)
	got := readStream(t, s, stream, eventstore.ReadOptions{})
	if len(got) != len(es) {
		t.Fatalf("after reopen: %d events, want %d", len(got), len(es))
	}
	for i := range es {
		sameEvent(t, got[i], es[i], stream, uint64(i+1))
	}
	if got[4].Position != res.Position {
		t.Fatalf("after reopen the last event is at %v, was %v", got[4].Position, res.Position)
	}
	// The version, the idempotency index and the log's position all survive.
	_, err := s.Append(ctxFor(t), stream, eventstore.Exact(4), newEvents(1, "E")...)
	wantWrongVersion(t, err, stream, 5)
	if again := mustAppend(t, s, stream, eventstore.NoStream(), es...); again != res {
		t.Fatalf("retry after reopen returned %+v, want the original %+v", again, res)
	}
	next := mustAppend(t, s, stream, eventstore.Exact(5), newEvents(1, "E")...)
	if next.Position.Compare(res.Position) <= 0 {
		t.Fatalf("append after reopen at %v, not after %v", next.Position, res.Position)
	}
}
