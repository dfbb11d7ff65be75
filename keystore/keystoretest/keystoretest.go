// Package keystoretest is the contract suite every keystore.Store adapter must
// pass, in the manner of eventstore/storetest: an adapter's test calls Run with a
// Harness; every case runs in parallel on ids of its own.
package keystoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/keystore"
)

// Harness tells the suite how to get stores from the adapter under test.
type Harness struct {
	// New returns an open store, which the adapter's test closes. Required.
	New func(t *testing.T) keystore.Store
	// Reopen closes s and opens the same storage again. Nil skips the durability case.
	Reopen func(t *testing.T, s keystore.Store) keystore.Store
}

// Run runs every contract case.
func Run(t *testing.T, h Harness) {
	if h.New == nil {
		t.Fatal("keystoretest: Harness.New is required")
	}
	cases := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"CreateThenGet", testCreateThenGet},
		{"IDsAreNeverReused", testNoReuse},
		{"MissingIsNotFound", testMissing},
		{"DestroyIsFinal", testDestroy},
		{"ReplaceComparesFirst", testReplace},
		{"KeysListsLiveKeysOnly", testKeys},
		{"RacingCreatesOneWinner", testRacingCreates},
		{"BadInputIsRefused", testBadInput},
		{"CancelledContextIsRefused", testCancelled},
		{"ReopenKeepsEverything", testReopen},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, h)
		})
	}
}

func wrapped(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

func testCreateThenGet(t *testing.T, h Harness) {
	s, ctx := h.New(t), context.Background()
	id, w := uuid.New(), wrapped(69)
	must(t, s.Create(ctx, id, w))
	got, err := s.Get(ctx, id)
	must(t, err)
	if !bytes.Equal(got, w) {
		t.Fatalf("Get returned %x, want %x", got, w)
	}
	full := wrapped(keystore.MaxWrappedSize)
	id2 := uuid.New()
	must(t, s.Create(ctx, id2, full))
	if got, _ := s.Get(ctx, id2); !bytes.Equal(got, full) {
		t.Fatalf("a key of MaxWrappedSize came back as %x", got)
	}
}

func testNoReuse(t *testing.T, h Harness) {
	s, ctx := h.New(t), context.Background()
	id, w := uuid.New(), wrapped(69)
	must(t, s.Create(ctx, id, w))
	wantErr(t, s.Create(ctx, id, wrapped(69)), keystore.ErrExists, "second Create")
	if got, _ := s.Get(ctx, id); !bytes.Equal(got, w) {
		t.Fatal("a refused Create changed the key")
	}
	must(t, s.Destroy(ctx, id))
	wantErr(t, s.Create(ctx, id, wrapped(69)), keystore.ErrExists, "Create after Destroy")
	_, err := s.Get(ctx, id)
	wantErr(t, err, keystore.ErrDestroyed, "Get after a refused re-Create")
}

func testMissing(t *testing.T, h Harness) {
	s, ctx := h.New(t), context.Background()
	id := uuid.New()
	_, err := s.Get(ctx, id)
	wantErr(t, err, keystore.ErrNotFound, "Get of a missing key")
	wantErr(t, s.Destroy(ctx, id), keystore.ErrNotFound, "Destroy of a missing key")
	wantErr(t, s.Replace(ctx, id, wrapped(69), wrapped(69)), keystore.ErrNotFound, "Replace of a missing key")
}

func testDestroy(t *testing.T, h Harness) {
	s, ctx := h.New(t), context.Background()
	id, other := uuid.New(), uuid.New()
	must(t, s.Create(ctx, id, wrapped(69)))
	ow := wrapped(69)
	must(t, s.Create(ctx, other, ow))
	must(t, s.Destroy(ctx, id))
	_, err := s.Get(ctx, id)
	wantErr(t, err, keystore.ErrDestroyed, "Get after Destroy")
	wantErr(t, s.Destroy(ctx, id), keystore.ErrDestroyed, "second Destroy")
	wantErr(t, s.Replace(ctx, id, wrapped(69), wrapped(69)), keystore.ErrDestroyed, "Replace after Destroy")
	if got, err := s.Get(ctx, other); err != nil || !bytes.Equal(got, ow) {
		t.Fatalf("destroying one key touched another: %x, %v", got, err)
	}
}

func testReplace(t *testing.T, h Harness) {
	s, ctx := h.New(t), context.Background()
	id, w := uuid.New(), wrapped(69)
	must(t, s.Create(ctx, id, w))
	next := wrapped(69)
	wantErr(t, s.Replace(ctx, id, wrapped(69), next), keystore.ErrChanged, "Replace with a wrong old key")
	must(t, s.Replace(ctx, id, w, next))
	if got, _ := s.Get(ctx, id); !bytes.Equal(got, next) {
		t.Fatalf("after Replace Get gave %x, want %x", got, next)
	}
	wantErr(t, s.Replace(ctx, id, w, wrapped(69)), keystore.ErrChanged, "Replace expecting the replaced key")
}

func testKeys(t *testing.T, h Harness) {
	s, ctx := h.New(t), context.Background()
	want := map[uuid.UUID][]byte{}
	for range 5 {
		id, w := uuid.New(), wrapped(69)
		must(t, s.Create(ctx, id, w))
		want[id] = w
	}
	gone := uuid.New()
	must(t, s.Create(ctx, gone, wrapped(69)))
	must(t, s.Destroy(ctx, gone))
	got := map[uuid.UUID][]byte{}
	for e, err := range s.Keys(ctx) {
		must(t, err)
		got[e.ID] = e.Wrapped
	}
	if _, ok := got[gone]; ok {
		t.Fatal("Keys listed a destroyed key")
	}
	for id, w := range want { // other cases' keys may be listed too
		if !bytes.Equal(got[id], w) {
			t.Fatalf("Keys gave %x for %s, want %x", got[id], id, w)
		}
	}
}

func testRacingCreates(t *testing.T, h Harness) {
	s, ctx := h.New(t), context.Background()
	id := uuid.New()
	const n = 32
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners [][]byte
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := wrapped(69)
			<-start
			err := s.Create(ctx, id, w)
			if err == nil {
				mu.Lock()
				winners = append(winners, w)
				mu.Unlock()
			} else if !errors.Is(err, keystore.ErrExists) {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d of %d racing Creates won, want 1", len(winners), n)
	}
	if got, _ := s.Get(ctx, id); !bytes.Equal(got, winners[0]) {
		t.Fatal("the stored key is not the winner's")
	}
}

func testBadInput(t *testing.T, h Harness) {
	s, ctx := h.New(t), context.Background()
	id := uuid.New()
	if err := s.Create(ctx, id, nil); err == nil {
		t.Fatal("an empty wrapped key was accepted")
	}
	if err := s.Create(ctx, id, wrapped(keystore.MaxWrappedSize+1)); err == nil {
		t.Fatal("an oversized wrapped key was accepted")
	}
	_, err := s.Get(ctx, id)
	wantErr(t, err, keystore.ErrNotFound, "Get after refused Creates")
}

func testCancelled(t *testing.T, h Harness) {
	s := h.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	id := uuid.New()
	if err := s.Create(ctx, id, wrapped(69)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Create with a cancelled context: %v", err)
	}
	if _, err := s.Get(context.Background(), id); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("a cancelled Create stored a key: %v", err)
	}
}

func testReopen(t *testing.T, h Harness) {
	if h.Reopen == nil {
		t.Skip("adapter cannot reopen its storage")
	}
	s, ctx := h.New(t), context.Background()
	live, gone, replaced := uuid.New(), uuid.New(), uuid.New()
	lw, rw, next := wrapped(69), wrapped(69), wrapped(69)
	must(t, s.Create(ctx, live, lw))
	must(t, s.Create(ctx, gone, wrapped(69)))
	must(t, s.Create(ctx, replaced, rw))
	must(t, s.Destroy(ctx, gone))
	must(t, s.Replace(ctx, replaced, rw, next))
	s = h.Reopen(t, s)
	if got, err := s.Get(ctx, live); err != nil || !bytes.Equal(got, lw) {
		t.Fatalf("after reopen: %x, %v", got, err)
	}
	if got, err := s.Get(ctx, replaced); err != nil || !bytes.Equal(got, next) {
		t.Fatalf("replaced key after reopen: %x, %v", got, err)
	}
	_, err := s.Get(ctx, gone)
	wantErr(t, err, keystore.ErrDestroyed, "destroyed key after reopen")
	wantErr(t, s.Create(ctx, gone, wrapped(69)), keystore.ErrExists, "re-Create of a destroyed key after reopen")
	fresh := uuid.New()
	must(t, s.Create(ctx, fresh, wrapped(69)))
}
