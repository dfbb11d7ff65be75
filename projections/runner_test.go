package projections_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/commands/commandstest"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/customerview"
	"github.com/fieldservice/customer-service/projections/projectionstest"
	"github.com/fieldservice/customer-service/projections/redistest"
)

var coordinator = commandstest.Coordinator

type world struct{ commandstest.World }

func newWorld(t *testing.T) world { return world{commandstest.New(t)} }

// write registers n customers and edits every third, returning the last result.
func (w world) write(t *testing.T, n int, tag string) commands.Result {
	t.Helper()
	var last commands.Result
	for i := range n {
		res, err := w.App.RegisterCustomer.Handle(context.Background(), commands.RegisterCustomer{Meta: coordinator,
			Details: customer.Details{Kind: customer.Company, BusinessName: fmt.Sprintf("%s %03d", tag, i), Email: fmt.Sprintf("%s%d@example.org", tag, i)}})
		if err != nil {
			t.Fatal(err)
		}
		last = res
		if i%3 == 0 {
			if last, err = w.App.UpdateCustomer.Handle(context.Background(), commands.UpdateCustomer{Meta: coordinator, CustomerID: res.CustomerID,
				Patch: customer.Patch{ServiceZone: ptr("Zone " + tag)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return last
}

func ptr[T any](v T) *T { return &v }

func (w world) runner(t *testing.T, rdb *redis.Client, batch int) *projections.Runner {
	t.Helper()
	return projectionstest.Runner(t, w.World, rdb, customerview.Projector{}, batch)
}

var (
	start   = projectionstest.Start
	waitFor = projectionstest.Sync
)

// digest hashes every key of the customer view's current generation.
func digest(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	return projectionstest.Digest(t, rdb, customerview.Name)
}

func TestStoppedRunsResumeToTheSameModel(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		w := newWorld(t)
		// Write while runners with tiny batches are started and stopped: every
		// stop is a crash between batches.
		var last commands.Result
		for round := range 5 {
			stop := start(t, w.runner(t, rdb, 3))
			last = w.write(t, 12, fmt.Sprint("R", round))
			stop()
		}
		r := w.runner(t, rdb, 3)
		start(t, r)
		waitFor(t, r, last.Position)
		got := digest(t, rdb)

		// A fresh build of the same log in another Redis gives the same model.
		_, fresh := redistest.Mini(t)
		r2 := w.runner(t, fresh, 512)
		start(t, r2)
		waitFor(t, r2, last.Position)
		if want := digest(t, fresh); got != want {
			t.Fatal("a model built across stops differs from a fresh build")
		}
	})
}

func TestLostRedisDataIsRebuiltByItself(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		w := newWorld(t)
		r := w.runner(t, rdb, 64)
		start(t, r)
		last := w.write(t, 20, "F")
		waitFor(t, r, last.Position)
		before := digest(t, rdb)
		gen := r.Status().Generation
		if err := rdb.FlushAll(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := r.Await(ctx, func(s projections.Status) bool {
			return s.Running && s.Generation != gen && s.Checkpoint.Compare(last.Position) >= 0
		})
		if err != nil {
			t.Fatalf("no rebuild after FLUSHALL: %v (status %+v)", err, r.Status())
		}
		if after := digest(t, rdb); after != before {
			t.Fatal("the rebuilt model differs from the lost one")
		}
	})
}

func TestRedisRestartIsSurvived(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	w := newWorld(t)
	r := w.runner(t, rdb, 64)
	start(t, r)
	last := w.write(t, 10, "S")
	waitFor(t, r, last.Position)
	gen := r.Status().Generation
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	last = w.write(t, 5, "T") // written while the runner reconnects
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Await(ctx, func(s projections.Status) bool {
		return s.Running && s.Generation != gen && s.Checkpoint.Compare(last.Position) >= 0
	}); err != nil {
		t.Fatalf("no recovery after a Redis restart: %v (status %+v)", err, r.Status())
	}
	page, err := customerview.List(ctx, rdb, customerview.ListQuery{Limit: 100})
	if err != nil || len(page.Items) != 15 {
		t.Fatalf("after the restart the list holds %d customers (%v), want 15", len(page.Items), err)
	}
}

func TestRebuildSwitchesGenerations(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		w := newWorld(t)
		r := w.runner(t, rdb, 16)
		start(t, r)
		last := w.write(t, 30, "G")
		waitFor(t, r, last.Position)
		old, _, _ := projections.CurrentKeys(context.Background(), rdb, customerview.Name)

		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- r.Rebuild(ctx) }()
		last = w.write(t, 6, "H") // writes go on during the rebuild
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		cur, _, _ := projections.CurrentKeys(ctx, rdb, customerview.Name)
		if cur == old {
			t.Fatal("the rebuild did not switch generations")
		}
		if n, _ := rdb.Keys(ctx, old.Prefix()+"*").Result(); len(n) != 0 {
			t.Fatalf("%d keys of the old generation are left", len(n))
		}
		if err := r.Await(ctx, func(s projections.Status) bool {
			onNew := "rm:"+customerview.Name+":"+fmt.Sprint(s.Generation)+":" == cur.Prefix()
			return s.Running && onNew && s.Checkpoint.Compare(last.Position) >= 0
		}); err != nil {
			t.Fatalf("the runner did not follow the switch: %v (status %+v)", err, r.Status())
		}
		page, _ := customerview.List(ctx, rdb, customerview.ListQuery{Limit: 100})
		if len(page.Items) != 36 {
			t.Fatalf("the rebuilt list holds %d customers, want 36", len(page.Items))
		}
	})
}

func TestWaitForGivesUpWithItsContext(t *testing.T) {
	t.Parallel()
	_, rdb := redistest.Mini(t)
	w := newWorld(t)
	r := w.runner(t, rdb, 16)
	start(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.WaitFor(ctx, eventstore.Position{Commit: 1 << 40, Prepare: 1 << 40}); err == nil {
		t.Fatal("WaitFor for a position never written returned without error")
	}
}

func TestStatusReportsProgress(t *testing.T) {
	t.Parallel()
	_, rdb := redistest.Mini(t)
	w := newWorld(t)
	r := w.runner(t, rdb, 8)
	if s := r.Status(); s.Running || s.Processed != 0 || s.Name != customerview.Name {
		t.Fatalf("status before Run: %+v", s)
	}
	start(t, r)
	last := w.write(t, 10, "P")
	waitFor(t, r, last.Position)
	s := r.Status()
	if !s.Running || s.Checkpoint != last.Position || s.Processed < 30 || s.LastEventAt.IsZero() || s.Generation == 0 || s.LastError != nil {
		t.Fatalf("status after catching up: %+v", s)
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := projections.NewRunner(projections.Config{BatchSize: -1})
	for _, want := range []string{"store is required", "codec is required", "redis is required", "projector is required", "must not be negative"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewRunner with an empty config: %v; want it to say %q", err, want)
		}
	}
}

// A read model ahead of the log (a snapshot of another log, a log restored from
// an older backup) is rebuilt, not trusted.
func TestModelAheadOfTheLogIsRebuilt(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		long := newWorld(t)
		r := long.runner(t, rdb, 64)
		stop := start(t, r)
		last := long.write(t, 10, "X")
		waitFor(t, r, last.Position)
		stop()
		gen := r.Status().Generation

		short := newWorld(t) // another log, shorter
		last = short.write(t, 2, "Y")
		r2 := short.runner(t, rdb, 64)
		start(t, r2)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := r2.Await(ctx, func(s projections.Status) bool {
			return s.Running && s.Generation != gen && s.Checkpoint.Compare(last.Position) >= 0
		}); err != nil {
			t.Fatalf("no rebuild of a model ahead of the log: %v (status %+v)", err, r2.Status())
		}
		page, err := customerview.List(ctx, rdb, customerview.ListQuery{Limit: 100})
		if err != nil || len(page.Items) != 2 {
			t.Fatalf("the rebuilt list holds %d customers (%v), want the short log's 2", len(page.Items), err)
		}
		if n, _ := rdb.Keys(ctx, projections.KeysAt(customerview.Name, gen).Prefix()+"*").Result(); len(n) != 0 {
			t.Fatalf("%d keys of the discarded generation are left", len(n))
		}
	})
}
