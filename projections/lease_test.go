package projections_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/customerview"
	"github.com/fieldservice/customer-service/projections/redistest"
)

// instance is one process's runner of the customer view: its own Redis
// connections, its own feed, a short lease.
func (w world) instance(t *testing.T, addr, name string, lease time.Duration) (*projections.Runner, *redis.Client) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	r, err := projections.NewRunner(projections.Config{Store: w.Store, Codec: w.Codec, Redis: rdb,
		Projector: customerview.Projector{}, Lease: lease, Instance: name, CheckEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return r, rdb
}

func await(t *testing.T, r *projections.Runner, what string, cond func(projections.Status) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Await(ctx, cond); err != nil {
		t.Fatalf("%s: %v (status %+v)", what, err, r.Status())
	}
}

// One of two instances leads; the other follows the leader's checkpoint (so
// read-your-writes holds on it) and takes over when the leader dies without
// giving the lease up. The model is the same as a fresh build's.
func TestFollowerTakesOverFromADeadLeader(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	w := newWorld(t)
	a, aRedis := w.instance(t, srv.Addr, "a", 300*time.Millisecond)
	b, _ := w.instance(t, srv.Addr, "b", 300*time.Millisecond)
	start(t, a)
	await(t, a, "a leads", func(s projections.Status) bool { return s.Leader })
	start(t, b)

	last := w.write(t, 12, "L")
	waitFor(t, b, last.Position) // b waits on a's commits
	if s := b.Status(); s.Leader {
		t.Fatalf("both instances lead: %+v", s)
	}
	if who, _ := projections.Leader(context.Background(), srv.Client(t), customerview.Name); who != "a" {
		t.Fatalf("the lease names %q, want a", who)
	}

	_ = aRedis.Close() // a dies: no more renewals, no release
	last = w.write(t, 9, "M")
	await(t, b, "b takes over and catches up", func(s projections.Status) bool {
		return s.Leader && s.Running && s.Checkpoint.Compare(last.Position) >= 0
	})
	got := digest(t, srv.Client(t))
	_, fresh := redistest.Mini(t)
	r := w.runner(t, fresh, 512)
	start(t, r)
	waitFor(t, r, last.Position)
	if want := digest(t, fresh); got != want {
		t.Fatal("the model after the takeover differs from a fresh build")
	}
}

// A leader that lost its lease without noticing (paused past it, say) has its
// next commit refused: nothing of it is applied.
func TestStaleLeaderCommitIsRefused(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		w := newWorld(t)
		r, err := projections.NewRunner(projections.Config{Store: w.Store, Codec: w.Codec, Redis: rdb,
			Projector: customerview.Projector{}, Lease: time.Minute}) // renewed only every 20 s: it will not notice
		if err != nil {
			t.Fatal(err)
		}
		start(t, r)
		last := w.write(t, 3, "N")
		waitFor(t, r, last.Position)
		ctx := context.Background()
		keys, _, _ := projections.CurrentKeys(ctx, rdb, customerview.Name)
		before := rdb.Get(ctx, keys.Key("checkpoint")).Val()

		// Another instance holds the lease now.
		if err := rdb.Set(ctx, projections.ModelPrefix(customerview.Name)+"lease", "elsewhere/1", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		w.write(t, 2, "O")
		await(t, r, "the stale leader's commit is refused", func(s projections.Status) bool {
			return errors.Is(s.LastError, projections.ErrNotLeader)
		})
		if after := rdb.Get(ctx, keys.Key("checkpoint")).Val(); after != before {
			t.Fatalf("the checkpoint moved from %s to %s under a lease the runner does not hold", before, after)
		}
		page, _ := customerview.List(ctx, rdb, customerview.ListQuery{Limit: 100})
		if len(page.Items) != 3 {
			t.Fatalf("the list holds %d customers, want the 3 committed before the lease was lost", len(page.Items))
		}
	})
}

// slow is a recorder whose every transaction takes about as long as the
// lease's renewal interval.
type slow struct{ recorder }

func (p slow) Project(ctx context.Context, keys projections.Keys, r redis.Cmdable, w redis.Pipeliner, batch []projections.Event) error {
	time.Sleep(60 * time.Millisecond) // work that spans a renewal, not a wait for anything
	return p.recorder.Project(ctx, keys, r, w, batch)
}

// A leader's own renewals of its lease do not fail its transactions (they
// watch the lease key), in a build or live: slow transactions finish.
func TestRenewalsDoNotFailTheLeadersTransactions(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		w := newWorld(t)
		last := w.write(t, 6, "Q") // a first build
		r, err := projections.NewRunner(projections.Config{Store: w.Store, Codec: w.Codec, Redis: rdb,
			Projector: slow{recorder{name: "slow"}}, Lease: 180 * time.Millisecond, BatchSize: 4, RebuildBatchSize: 4})
		if err != nil {
			t.Fatal(err)
		}
		start(t, r)
		waitFor(t, r, last.Position)
		last = w.write(t, 3, "R") // and live commits
		waitFor(t, r, last.Position)
		if got, want := seen(t, rdb, "slow"), logPositions(t, w.Store, func(string) bool { return true }); !slices.Equal(got, want) {
			t.Fatalf("the model holds %d positions, the log %d", len(got), len(want))
		}
	})
}
