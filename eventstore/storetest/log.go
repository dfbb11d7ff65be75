package storetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/eventstore"
)

// ours collects the events of the global log that belong to streams with prefix,
// skipping other cases' events (and, on a real server, system events).
func ours(prefix string) func(eventstore.RecordedEvent) bool {
	return func(e eventstore.RecordedEvent) bool { return strings.HasPrefix(e.Stream, prefix+"-") }
}

func testGlobalLogOrder(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	prefix := "order" + uuid.NewString()[:8]
	before, err := s.LastPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Interleave appends to three streams; the log must list them in append order.
	var appended []uuid.UUID
	streams := []string{newStream(prefix), newStream(prefix), newStream(prefix)}
	for round := range 4 {
		for _, st := range streams {
			es := newEvents(2, "E")
			mustAppend(t, s, st, eventstore.Exact(uint64(round*2)), es...)
			appended = append(appended, es[0].ID, es[1].ID)
		}
	}
	var got []eventstore.RecordedEvent
	var prev eventstore.Position
	for e, err := range s.ReadAll(ctx, before, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if !prev.IsZero() && e.Position.Compare(prev) <= 0 {
			t.Fatalf("global log not strictly increasing: %v then %v", prev, e.Position)
		}
		prev = e.Position
		if ours(prefix)(e) {
			got = append(got, e)
		}
	}
	if len(got) != len(appended) {
		t.Fatalf("global log holds %d of our events, want %d", len(got), len(appended))
	}
	for i, e := range got {
		if e.ID != appended[i] {
			t.Fatalf("global log event %d is %s, want %s (append order)", i, e.ID, appended[i])
		}
	}
	last, err := s.LastPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last.Compare(got[len(got)-1].Position) < 0 {
		t.Fatalf("LastPosition %v is before our last event %v", last, got[len(got)-1].Position)
	}
	// Reading from a position includes the event at it; a limit caps the read.
	n := 0
	for e, err := range s.ReadAll(ctx, got[5].Position, 3) {
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 && e.ID != got[5].ID {
			t.Fatalf("ReadAll from %v starts with %s, want %s (inclusive)", got[5].Position, e.ID, got[5].ID)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("ReadAll with limit 3 yielded %d events", n)
	}
}

func testAppendPosition(t *testing.T, h Harness) {
	s := h.New(t)
	stream := newStream("position")
	es := newEvents(3, "E")
	res := mustAppend(t, s, stream, eventstore.NoStream(), es...)
	for e, err := range s.ReadAll(ctxFor(t), res.Position, 1) {
		if err != nil {
			t.Fatal(err)
		}
		if e.ID != es[2].ID {
			t.Fatalf("the event at the append's position %v is %s, want its last event %s", res.Position, e.ID, es[2].ID)
		}
	}
}

// collect pulls n of our events from a subscription, failing on errors or timeout.
func collect(t *testing.T, ctx context.Context, s eventstore.Store, after eventstore.Position, keep func(eventstore.RecordedEvent) bool, n int) []eventstore.RecordedEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var got []eventstore.RecordedEvent
	for e, err := range s.SubscribeAll(ctx, after) {
		if err != nil {
			t.Fatalf("subscription failed after %d events: %v", len(got), err)
		}
		if keep(e) {
			got = append(got, e)
		}
		if len(got) == n {
			return got
		}
	}
	t.Fatalf("subscription ended after %d of %d events: %v", len(got), n, ctx.Err())
	return nil
}

func testSubscribeHandover(t *testing.T, h Harness) {
	const stored, live = 700, 700
	s := h.New(t)
	ctx := ctxFor(t)
	prefix := "handover" + uuid.NewString()[:8]
	start, err := s.LastPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stream := newStream(prefix)
	var want []uuid.UUID
	appendBatch := func(version uint64) {
		es := newEvents(10, "E")
		mustAppend(t, s, stream, eventstore.Exact(version), es...)
		for _, e := range es {
			want = append(want, e.ID)
		}
	}
	for v := uint64(0); v < stored; v += 10 {
		appendBatch(v)
	}
	// Keep appending while the subscriber catches up, so the hand-over from stored
	// to live events happens mid-stream.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for v := uint64(stored); v < stored+live; v += 10 {
			appendBatch(v)
		}
	}()
	got := collect(t, ctx, s, start, ours(prefix), stored+live)
	wg.Wait()
	for i, e := range got {
		if e.ID != want[i] || e.Version != uint64(i+1) {
			t.Fatalf("subscription event %d is %s@%d, want %s@%d: a gap, a duplicate or a reordering", i, e.ID, e.Version, want[i], i+1)
		}
	}
}

func testSubscribeExclusive(t *testing.T, h Harness) {
	s := h.New(t)
	prefix := "exclusive" + uuid.NewString()[:8]
	stream := newStream(prefix)
	es := newEvents(4, "E")
	mustAppend(t, s, stream, eventstore.NoStream(), es[:2]...)
	mid := readStream(t, s, stream, eventstore.ReadOptions{Direction: eventstore.Backwards, Limit: 1})[0].Position
	mustAppend(t, s, stream, eventstore.Exact(2), es[2:]...)
	got := collect(t, ctxFor(t), s, mid, ours(prefix), 2)
	if got[0].ID != es[2].ID || got[1].ID != es[3].ID {
		t.Fatalf("subscribing after %v yielded %s, %s; want the events after it", mid, got[0].ID, got[1].ID)
	}
}

func testSubscribeCancel(t *testing.T, h Harness) {
	s := h.New(t)
	start, err := s.LastPosition(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctxFor(t))
	ended := make(chan error, 1)
	waiting := make(chan struct{})
	prefix := "cancel" + uuid.NewString()[:8]
	go func() {
		var last error
		for e, err := range s.SubscribeAll(ctx, start) {
			if err != nil {
				last = err
			}
			if ours(prefix)(e) {
				close(waiting) // live and caught up: now cancel while it waits for more
			}
		}
		ended <- last
	}()
	mustAppend(t, s, newStream(prefix), eventstore.NoStream(), newEvents(1, "E")...)
	select {
	case <-waiting:
	case <-time.After(20 * time.Second):
		t.Fatal("subscription did not deliver a live event")
	}
	cancel()
	select {
	case err := <-ended:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("subscription ended with %v after cancel, want a clean stop", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("subscription did not stop after its context was cancelled")
	}
}
