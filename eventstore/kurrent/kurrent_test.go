package kurrent_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/eventstore/kurrent"
	"github.com/fieldservice/customer-service/eventstore/kurrent/kurrenttest"
	"github.com/fieldservice/customer-service/eventstore/storetest"
)

// server returns the connection string of the server under test: KURRENTDB_URL
// when set (a real KurrentDB), else a test server of this test's own.
func server(t *testing.T) (string, *kurrenttest.Server) {
	t.Helper()
	if url := os.Getenv("KURRENTDB_URL"); url != "" {
		return url, nil
	}
	srv, err := kurrenttest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv.URL(), srv
}

func open(t *testing.T, cfg kurrent.Config) *kurrent.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := kurrent.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	url, _ := server(t)
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) eventstore.Store { return open(t, kurrent.Config{URL: url}) },
		Reopen: func(t *testing.T, s eventstore.Store) eventstore.Store {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, kurrent.Config{URL: url})
		},
	})
}

func event(typ string) eventstore.EventData {
	return eventstore.EventData{ID: uuid.Must(uuid.NewV7()), Type: typ, Data: []byte(`{"n":1}`), Metadata: []byte(`{"m":1}`)}
}

func TestSubscriptionResumesAfterDrops(t *testing.T) {
	t.Parallel()
	url, srv := server(t)
	if srv == nil {
		t.Skip("dropping subscriptions needs the test server")
	}
	prefix := "drop" + strings.ReplaceAll(uuid.NewString()[:8], "-", "") + "-"
	s := open(t, kurrent.Config{URL: url, StreamPrefixes: []string{prefix}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const total = 300
	go func() {
		for i := range total {
			if _, err := s.Append(ctx, prefix+"a", eventstore.Exact(uint64(i)), event("E")); err != nil {
				t.Error(err)
				return
			}
			if i%50 == 25 {
				srv.DropSubscriptions()
			}
		}
	}()
	var got []eventstore.RecordedEvent
	for e, err := range s.SubscribeAll(ctx, eventstore.Position{}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
		if len(got) == total {
			break
		}
	}
	for i, e := range got {
		if e.Version != uint64(i+1) {
			t.Fatalf("event %d has version %d: a gap or a duplicate across a resubscription", i, e.Version)
		}
	}
}

func TestCheckpointsAdvancePastOtherServicesEvents(t *testing.T) {
	t.Parallel()
	url, _ := server(t)
	tag := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	mine, theirs := open(t, kurrent.Config{URL: url, StreamPrefixes: []string{"mine" + tag + "-"}}), open(t, kurrent.Config{URL: url})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start, err := theirs.LastPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var lastForeign eventstore.Position
	for i := range 100 {
		r, err := theirs.Append(ctx, "theirs"+tag+"-x", eventstore.Exact(uint64(i)), event("Foreign"))
		if err != nil {
			t.Fatal(err)
		}
		lastForeign = r.Position
	}
	reached := make(chan eventstore.Position, 100)
	go func() {
		for e, err := range mine.Subscribe(ctx, start, func(p eventstore.Position) { reached <- p }) {
			if err == nil {
				t.Errorf("yielded another service's event %s", e.Stream)
			}
			return
		}
	}()
	for {
		select {
		case p := <-reached:
			if p.Compare(lastForeign) >= 0 {
				return // the checkpoint covers every foreign event, though none was delivered
			}
		case <-ctx.Done():
			t.Fatal("no checkpoint reached the last foreign event")
		}
	}
}

func TestSystemStreamsAreNotInTheLog(t *testing.T) {
	t.Parallel()
	url, srv := server(t)
	if srv == nil {
		t.Skip("writing system events needs the test server")
	}
	s := open(t, kurrent.Config{URL: url})
	ctx := t.Context()
	r, err := s.Append(ctx, "plain-"+uuid.NewString(), eventstore.NoStream(), event("E"))
	if err != nil {
		t.Fatal(err)
	}
	srv.AppendSystemEvent("$stats-127.0.0.1:2113", "$statsCollected")
	last, err := s.LastPosition(ctx)
	if err != nil || last != r.Position {
		t.Fatalf("LastPosition %v (%v), want the last user event's %v", last, err, r.Position)
	}
	for e, err := range s.ReadAll(ctx, eventstore.Position{}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(e.Stream, "$") {
			t.Fatalf("ReadAll yielded the system stream %s", e.Stream)
		}
	}
}

func TestUnreachableServerFailsAtOpen(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = kurrent.Open(ctx, kurrent.Config{URL: "esdb://admin:s3cret@" + addr + "?tls=false", Timeout: 3 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "cannot reach") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("opening an unreachable server: %v (want a clear error without the password)", err)
	}
	if _, err := kurrent.Open(ctx, kurrent.Config{URL: "http://" + addr}); err == nil {
		t.Fatal("a connection string of the wrong scheme was accepted")
	}
}

func TestAppendsFromManyClientsKeepOneOrder(t *testing.T) {
	t.Parallel()
	url, _ := server(t)
	s := open(t, kurrent.Config{URL: url})
	stream := "order-" + uuid.NewString()
	var wg sync.WaitGroup
	var mu sync.Mutex
	positions := map[uint64]eventstore.Position{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				r, err := s.Append(t.Context(), stream, eventstore.Any(), event("E"))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				positions[r.Version] = r.Position
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var prev eventstore.Position
	for v := uint64(1); v <= 80; v++ {
		p, ok := positions[v]
		if !ok || p.Compare(prev) <= 0 {
			t.Fatalf("version %d at %v after %v: positions must grow with versions", v, p, prev)
		}
		prev = p
	}
}

// TestServerDownAndBack: while the server is down, calls fail with ErrUnavailable;
// once it is back, calls work again on the same Store, and a subscription that
// was open goes on from where it was, without gap or duplicate.
func TestServerDownAndBack(t *testing.T) {
	t.Parallel()
	url, srv := server(t)
	if srv == nil {
		t.Skip("stopping the server needs the test server")
	}
	prefix := "down" + strings.ReplaceAll(uuid.NewString()[:8], "-", "") + "-"
	s := open(t, kurrent.Config{URL: url, StreamPrefixes: []string{prefix}, Timeout: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got := make(chan eventstore.RecordedEvent, 100)
	go func() {
		for e, err := range s.SubscribeAll(ctx, eventstore.Position{}) {
			if err != nil {
				t.Error(err)
				return
			}
			got <- e
		}
	}()
	stream := prefix + "a"
	if _, err := s.Append(ctx, stream, eventstore.NoStream(), event("Before")); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if _, err := s.Append(ctx, stream, eventstore.Exact(1), event("While")); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("append while the server is down: %v, want ErrUnavailable", err)
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := s.Append(ctx, stream, eventstore.Exact(1), event("After"))
		if err == nil {
			break
		}
		if !errors.Is(err, eventstore.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("append after the server came back: %v", err)
		}
	}
	for v := uint64(1); v <= 2; v++ {
		select {
		case e := <-got:
			if e.Version != v {
				t.Fatalf("subscription gave version %d, want %d", e.Version, v)
			}
		case <-ctx.Done():
			t.Fatalf("the subscription did not deliver version %d after the server came back", v)
		}
	}
}

func TestCloseEndsSubscriptionsAndRefusesCalls(t *testing.T) {
	t.Parallel()
	url, _ := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := kurrent.Open(ctx, kurrent.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for _, err := range s.SubscribeAll(ctx, eventstore.Position{}) {
			if err != nil {
				t.Error(err)
			}
		}
	}()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	case <-ctx.Done():
		t.Fatal("Close did not end the subscription")
	}
	if _, err := s.Append(ctx, "closed-"+uuid.NewString(), eventstore.NoStream(), event("E")); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("append after Close: %v, want ErrUnavailable", err)
	}
}
