package e2e

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/eventstore"
)

// TestSIGKILLDuringWrites kills the server while clients write, restarts it,
// and checks that every acknowledged write is there and that the read models
// equal what a fresh rebuild from the log produces.
func TestSIGKILLDuringWrites(t *testing.T) {
	s := startServer(t, false)
	var (
		mu    sync.Mutex
		acked []write
		wg    sync.WaitGroup
	)
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				a, err := s.call("POST", "/v1/customers", s.admin, person("Kill", fmt.Sprintf("W%dN%d", g, i), fmt.Sprintf("k%d.%d@example.com", g, i)), nil)
				if err != nil {
					return // the server is gone
				}
				if a.Status != http.StatusCreated {
					continue // e.g. 503 while it dies
				}
				var w write
				a.decode(t, &w)
				mu.Lock()
				acked = append(acked, w)
				mu.Unlock()
			}
		})
	}
	eventually(t, 60*time.Second, "150 acknowledged registrations", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 150
	})
	s.kill(syscall.SIGKILL)
	wg.Wait()
	s.start(t)

	marker := s.register(t, person("After", "Restart", "after@example.com"))
	s.caughtUp(t, marker)
	for _, w := range acked {
		if a := s.do(t, "GET", "/v1/customers/"+w.ID, s.admin, nil, nil); a.Status != http.StatusOK {
			t.Fatalf("acknowledged customer %s is missing after the crash: %d %s", w.ID, a.Status, a.Body)
		}
	}
	before, keys := digest(t, s.redis.Addr)

	// A fresh rebuild: the same log into an empty Redis.
	if err := s.kill(syscall.SIGTERM); err != nil {
		t.Fatalf("customerd did not stop cleanly on SIGTERM: %v", err)
	}
	if err := s.redis.Restart(); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	s.caughtUp(t, marker)
	after, rebuiltKeys := digest(t, s.redis.Addr)
	if before != after || keys != rebuiltKeys {
		t.Fatalf("read models after the crash (%d keys, %s) differ from a rebuild (%d keys, %s)", keys, before, rebuiltKeys, after)
	}
	t.Logf("%d acknowledged writes survived SIGKILL; %d read-model keys equal a rebuild", len(acked), keys)
}

// caughtUp waits until both read models reflect w, which is the last write.
func (s *server) caughtUp(t *testing.T, w write) {
	t.Helper()
	pos := map[string]string{"X-Min-Position": w.Position}
	if a := s.do(t, "GET", "/v1/customers/"+w.ID, s.admin, nil, pos); a.Status != http.StatusOK {
		t.Fatalf("customer view: %d %s", a.Status, a.Body)
	}
	if a := s.do(t, "GET", "/v1/customers?q=restart", s.admin, nil, pos); a.Status != http.StatusOK {
		t.Fatalf("search: %d %s", a.Status, a.Body)
	}
}

// TestFLUSHALLWhileServing: the read models vanish under the server; it answers
// 503 (never a wrong 404) until it has rebuilt them by itself, then serves again.
func TestFLUSHALLWhileServing(t *testing.T) {
	s := startServer(t, false)
	w := s.register(t, person("Flush", "All", "flush@example.com"))
	s.caughtUp(t, w)
	gen := s.metric(t, `customerd_projection_generation{projection="customers-v1"}`)
	c := redis.NewClient(&redis.Options{Addr: s.redis.Addr})
	defer c.Close()
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	s.servesAgain(t, w)
	if now := s.metric(t, `customerd_projection_generation{projection="customers-v1"}`); now <= gen {
		t.Fatalf("generation %v after FLUSHALL, was %v: no rebuild", now, gen)
	}
}

// TestRedisRestart: Redis goes away (unready), comes back empty, and the server
// rebuilds and serves again by itself.
func TestRedisRestart(t *testing.T) {
	s := startServer(t, false)
	w := s.register(t, person("Red", "Is", "redis@example.com"))
	s.caughtUp(t, w)
	s.redis.Stop()
	s.waitReady(t, false)
	if a := s.do(t, "GET", "/v1/customers/"+w.ID, s.admin, nil, nil); a.Status != http.StatusServiceUnavailable || a.Header.Get("Retry-After") == "" {
		t.Fatalf("a read while Redis is down: %d %s", a.Status, a.Body)
	}
	// Writes go to the event store and still succeed.
	w2 := s.register(t, person("While", "Down", "down@example.com"))
	if err := s.redis.Restart(); err != nil {
		t.Fatal(err)
	}
	s.servesAgain(t, w)
	s.caughtUp(t, w2)
}

// servesAgain waits for readiness and for w to be readable; until then every
// read must answer 503, never a wrong answer.
func (s *server) servesAgain(t *testing.T, w write) {
	t.Helper()
	eventually(t, 60*time.Second, "the customer to be readable again", func() bool {
		a, err := s.call("GET", "/v1/customers/"+w.ID, s.admin, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		switch a.Status {
		case http.StatusOK:
			return true
		case http.StatusServiceUnavailable:
			return false
		}
		t.Fatalf("while rebuilding, a read answered %d %s", a.Status, a.Body)
		return false
	})
	s.waitReady(t, true)
}

// metric reads one sample from /metrics.
func (s *server) metric(t *testing.T, series string) float64 {
	t.Helper()
	a := s.do(t, "GET", "/metrics", "", nil, nil)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)`).FindSubmatch(a.Body)
	if m == nil {
		t.Fatalf("/metrics has no %s", series)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestEmbeddedModeKeepsDataAcrossRestarts: the default mode keeps events in the
// data directory and rebuilds its in-process read models at start.
func TestEmbeddedModeKeepsDataAcrossRestarts(t *testing.T) {
	s := startServer(t, true)
	w := s.register(t, person("Emma", "Bedded", "emma@example.com"))
	if err := s.kill(syscall.SIGTERM); err != nil {
		t.Fatalf("customerd did not stop cleanly: %v", err)
	}
	s.start(t)
	a := s.do(t, "GET", "/v1/customers/"+w.ID, s.admin, nil, map[string]string{"X-Min-Position": w.Position})
	if a.Status != http.StatusOK {
		t.Fatalf("after a restart: %d %s", a.Status, a.Body)
	}
	if _, err := eventstore.ParsePosition(w.Position); err != nil {
		t.Fatalf("the write's position %q does not parse: %v", w.Position, err)
	}
}

// TestGracefulShutdownFinishesRequestsInFlight: SIGTERM while a read waits for a
// position the log never reaches; the read still gets its answer (the bounded
// wait's 503), not a dropped connection, and customerd exits cleanly.
func TestGracefulShutdownFinishesRequestsInFlight(t *testing.T) {
	s := startServer(t, true, "--min-position-wait", "2s")
	type result struct {
		a   answer
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := s.call("GET", "/v1/customers", s.admin, nil, map[string]string{"X-Min-Position": "999999/999999"})
		done <- result{a, err}
	}()
	eventually(t, 10*time.Second, "the read to be in flight", func() bool {
		return s.metric(t, "customerd_http_requests_in_flight") >= 2 // the read and this scrape
	})
	if err := s.kill(syscall.SIGTERM); err != nil {
		t.Fatalf("customerd did not exit cleanly: %v", err)
	}
	r := <-done
	if r.err != nil || r.a.Status != http.StatusServiceUnavailable {
		t.Fatalf("the request in flight got %v %d %s, want its 503", r.err, r.a.Status, r.a.Body)
	}
}
