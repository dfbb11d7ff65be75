// Package projectionstest runs read models for tests: a runner over a test's
// write side (commandstest), stopped when the test ends, and a bounded wait for
// read-your-writes.
package projectionstest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/commands/commandstest"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/projections"
)

// Runner returns a runner of p over the world's log, writing to rdb; it checks
// for lost Redis data every 20 ms, so tests of that finish quickly.
func Runner(t testing.TB, w commandstest.World, rdb *redis.Client, p projections.Projector, batch int) *projections.Runner {
	t.Helper()
	r, err := projections.NewRunner(projections.Config{Store: w.Store, Codec: w.Codec, Redis: rdb, Projector: p,
		BatchSize: batch, CheckEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Start runs r until the test ends, or until stop is called.
func Start(t testing.TB, r *projections.Runner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

// Sync waits, for at most 20 seconds, until r reflects position p.
func Sync(t testing.TB, r *projections.Runner, p eventstore.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.WaitFor(ctx, p); err != nil {
		t.Fatalf("the read model did not reach %v: %v (status %+v)", p, err, r.Status())
	}
}
