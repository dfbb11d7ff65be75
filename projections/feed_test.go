package projections_test

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/customerbatch"
	"github.com/fieldservice/customer-service/projections/customerview"
	"github.com/fieldservice/customer-service/projections/redistest"
)

// countingStore counts the events it yields from the log, however read.
type countingStore struct {
	eventstore.Store
	read atomic.Int64
}

func (s *countingStore) count(seq iter.Seq2[eventstore.RecordedEvent, error]) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		for e, err := range seq {
			if err == nil {
				s.read.Add(1)
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

func (s *countingStore) ReadAll(ctx context.Context, from eventstore.Position, limit int) iter.Seq2[eventstore.RecordedEvent, error] {
	return s.count(s.Store.ReadAll(ctx, from, limit))
}

func (s *countingStore) SubscribeAll(ctx context.Context, after eventstore.Position) iter.Seq2[eventstore.RecordedEvent, error] {
	return s.count(s.Store.SubscribeAll(ctx, after))
}

// recorder is a read model of the positions it was handed, appended in the
// same transaction as its checkpoint: what it holds is what was committed.
type recorder struct {
	name  string
	types []string // nil: every type
}

func (p recorder) Name() string { return p.name }

func (p recorder) Project(ctx context.Context, keys projections.Keys, _ redis.Cmdable, w redis.Pipeliner, batch []projections.Event) error {
	for _, e := range batch {
		w.RPush(ctx, keys.Key("seen"), e.Position.String())
	}
	return nil
}

type typedRecorder struct{ recorder }

func (p typedRecorder) EventTypes() []string { return p.types }

// seen is what a recorder's current generation holds.
func seen(t *testing.T, rdb *redis.Client, name string) []string {
	t.Helper()
	k, ok, err := projections.CurrentKeys(context.Background(), rdb, name)
	if err != nil || !ok {
		t.Fatalf("%s has no generation: %v", name, err)
	}
	got, err := rdb.LRange(context.Background(), k.Key("seen"), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// logPositions lists the positions of the log's events whose type keep accepts.
func logPositions(t *testing.T, s eventstore.Store, keep func(string) bool) []string {
	t.Helper()
	var out []string
	for e, err := range s.ReadAll(context.Background(), eventstore.Position{}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if keep(e.Type) {
			out = append(out, e.Position.String())
		}
	}
	return out
}

// runFeed runs a feed of store's log, with the world's codec, until the test
// ends; runners run on the context it returns.
func runFeed(t *testing.T, store eventstore.Store, w world, batch int) (*projections.Feed, context.Context) {
	t.Helper()
	feed, err := projections.NewFeed(projections.FeedConfig{Store: store, Codec: w.Codec, BatchSize: batch})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go feed.Run(ctx)
	return feed, ctx
}

func awaitJoined(t *testing.T, r *projections.Runner, p eventstore.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Await(ctx, func(s projections.Status) bool { return s.Joined && s.Checkpoint.Compare(p) >= 0 }); err != nil {
		t.Fatalf("the runner did not join the feed at %v: %v (status %+v)", p, err, r.Status())
	}
}

// Runners on one feed read each new event of the log once between them, and
// each is handed exactly the events of its types, in order, once.
func TestFeedReadsEachEventOnceForAllRunners(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		w := newWorld(t)
		store := &countingStore{Store: w.Store}
		feed, ctx := runFeed(t, store, w, 0)
		customerTypes := customerbatch.EventTypes()
		var runners []*projections.Runner
		for _, p := range []projections.Projector{
			customerview.Projector{},
			recorder{name: "all"},
			typedRecorder{recorder{name: "customers", types: customerTypes}},
		} {
			r, err := projections.NewRunner(projections.Config{Store: store, Codec: w.Codec, Redis: rdb, Projector: p, Feed: feed})
			if err != nil {
				t.Fatal(err)
			}
			runners = append(runners, r)
			go r.Run(ctx)
		}
		last := w.write(t, 5, "A") // first builds: each runner reads on its own
		for _, r := range runners {
			awaitJoined(t, r, last.Position)
		}
		before := store.read.Load()
		written := len(logPositions(t, w.Store, func(string) bool { return true }))
		last = w.write(t, 30, "B")
		for _, r := range runners {
			awaitJoined(t, r, last.Position)
		}
		newEvents := len(logPositions(t, w.Store, func(string) bool { return true })) - written
		if got := store.read.Load() - before; got != int64(newEvents) {
			t.Errorf("the log was read %d times for %d new events: each new event should be read once for all runners", got, newEvents)
		}
		all := logPositions(t, w.Store, func(string) bool { return true })
		if got := seen(t, rdb, "all"); !slices.Equal(got, all) {
			t.Errorf("the untyped recorder holds %d positions, the log %d (gap, duplicate or disorder)", len(got), len(all))
		}
		mine := logPositions(t, w.Store, func(typ string) bool { return slices.Contains(customerTypes, typ) })
		if got := seen(t, rdb, "customers"); !slices.Equal(got, mine) {
			t.Errorf("the typed recorder holds %d positions, the log has %d customer events", len(got), len(mine))
		}
	})
}

// A runner that starts while others are fed, with the log moving on, builds on
// its own, catches up and joins the feed, without a gap or a duplicate.
func TestLateRunnerJoinsWithoutGapOrDuplicate(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		w := newWorld(t)
		feed, ctx := runFeed(t, w.Store, w, 4)
		newRunner := func(name string) *projections.Runner {
			r, err := projections.NewRunner(projections.Config{Store: w.Store, Codec: w.Codec, Redis: rdb,
				Projector: recorder{name: name}, Feed: feed, BatchSize: 3, RebuildBatchSize: 5})
			if err != nil {
				t.Fatal(err)
			}
			go r.Run(ctx)
			return r
		}
		early := newRunner("early")
		last := w.write(t, 20, "C")
		awaitJoined(t, early, last.Position)

		done := make(chan struct{})
		go func() { defer close(done); last = w.write(t, 40, "D") }() // the log moves on meanwhile
		late := newRunner("late")
		<-done
		awaitJoined(t, late, last.Position)
		awaitJoined(t, early, last.Position)
		all := logPositions(t, w.Store, func(string) bool { return true })
		for _, name := range []string{"early", "late"} {
			if got := seen(t, rdb, name); !slices.Equal(got, all) {
				t.Errorf("%s holds %d positions, the log %d: %s", name, len(got), len(all), firstDiff(got, all))
			}
		}
	})
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("at %d: %s, want %s", i, got[i], want[i])
		}
	}
	return "one is a prefix of the other"
}

// A runner made while the feed runs, wanting types nobody wanted before, is
// handed them: the feed decodes for it from then on.
func TestRunnerWithNewTypesJoinsARunningFeed(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		w := newWorld(t)
		feed, ctx := runFeed(t, w.Store, w, 0)
		customerTypes := customerbatch.EventTypes()
		otherTypes := []string{"EmailReserved", "EmailReleased", "CustomerNumberAssigned"}
		newRunner := func(p projections.Projector) *projections.Runner {
			r, err := projections.NewRunner(projections.Config{Store: w.Store, Codec: w.Codec, Redis: rdb, Projector: p, Feed: feed})
			if err != nil {
				t.Fatal(err)
			}
			go r.Run(ctx)
			return r
		}
		first := newRunner(typedRecorder{recorder{name: "reservations", types: otherTypes}})
		last := w.write(t, 5, "E")
		awaitJoined(t, first, last.Position)

		second := newRunner(typedRecorder{recorder{name: "customers", types: customerTypes}})
		last = w.write(t, 10, "F")
		awaitJoined(t, second, last.Position)
		awaitJoined(t, first, last.Position)
		mine := logPositions(t, w.Store, func(typ string) bool { return slices.Contains(customerTypes, typ) })
		if got := seen(t, rdb, "customers"); !slices.Equal(got, mine) {
			t.Errorf("the late runner holds %d positions, the log has %d customer events", len(got), len(mine))
		}
		theirs := logPositions(t, w.Store, func(typ string) bool { return slices.Contains(otherTypes, typ) })
		if got := seen(t, rdb, "reservations"); !slices.Equal(got, theirs) {
			t.Errorf("the first runner holds %d positions, the log has %d of its events", len(got), len(theirs))
		}
	})
}
