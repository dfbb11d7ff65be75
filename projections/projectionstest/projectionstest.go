// Package projectionstest runs read models for tests: a runner over a test's
// write side (commandstest), stopped when the test ends, and a bounded wait for
// read-your-writes.
package projectionstest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
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

// Digest hashes every key of the read model's current generation, by its name
// without the generation, and its value (scores included), leaving out the
// checkpoint: two builds of one log digest alike.
func Digest(t testing.TB, rdb *redis.Client, name string) string {
	t.Helper()
	ctx := context.Background()
	k, ok, err := projections.CurrentKeys(ctx, rdb, name)
	if err != nil || !ok {
		t.Fatalf("%s has no current generation: %v", name, err)
	}
	names, err := rdb.Keys(ctx, k.Prefix()+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		if strings.HasSuffix(n, ":checkpoint") {
			continue
		}
		fmt.Fprintf(h, "%q\n", strings.TrimPrefix(n, k.Prefix()))
		switch typ := rdb.Type(ctx, n).Val(); typ {
		case "string":
			fmt.Fprintf(h, "%q\n", rdb.Get(ctx, n).Val())
		case "zset":
			fmt.Fprintf(h, "%v\n", rdb.ZRangeWithScores(ctx, n, 0, -1).Val())
		case "hash":
			m := rdb.HGetAll(ctx, n).Val()
			fields := slices.Sorted(maps.Keys(m))
			for _, f := range fields {
				fmt.Fprintf(h, "%q=%q\n", f, m[f])
			}
		case "set":
			ms := rdb.SMembers(ctx, n).Val()
			slices.Sort(ms)
			fmt.Fprintf(h, "%q\n", ms)
		default:
			t.Fatalf("unexpected key type %s of %s", typ, n)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
