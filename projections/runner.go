package projections

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/eventstore"
)

// Event is a stored event, decoded (personal fields unsealed, or empty when the
// customer was erased), as projectors receive it.
type Event struct {
	eventstore.RecordedEvent
	Event codec.Event
	Meta  codec.Metadata
}

// Projector maintains one read model.
type Projector interface {
	// Name identifies the read model and its checkpoint. Renaming it means a
	// rebuild under the new name.
	Name() string
	// Project folds a batch into writes: it reads the model as it was before the
	// batch through r and queues its writes on w, which the runner executes with
	// the checkpoint in one transaction. It must give the same writes for the same
	// batch and model, since a crash can make a batch run twice. A batch may be
	// empty: a stretch of the log with nothing for this projector.
	Project(ctx context.Context, keys Keys, r redis.Cmdable, w redis.Pipeliner, batch []Event) error
}

// Subscriber is a Projector that needs only some event types: the runner hands
// it those alone, and events no runner wants are never decoded.
type Subscriber interface {
	EventTypes() []string
}

// RebuildBatcher is a Projector that rebuilds best in transactions of its own
// size: one whose keys are shared by many customers gains from larger ones.
type RebuildBatcher interface {
	RebuildBatchSize() int
}

// Retirer is a Projector that replaced read models under other names (a new
// layout is a new name): before it builds its own, the runner deletes their
// keys, so an upgraded Redis does not keep both.
type Retirer interface {
	Retired() []string
}

// Runner runs one projector.
type Runner struct {
	cfg     Config
	ownFeed bool
	wants   func(string) bool // the event types the projector is handed

	// fence serializes the transactions that watch the lease key with this
	// runner's own renewals of it, which would fail them.
	fence sync.Mutex

	mu      sync.Mutex
	token   string // the lease's token while this runner leads
	state   Status
	changed chan struct{} // closed and replaced when the checkpoint moves
	rate    rateMeter
	// rebuiltTo is the last event a rebuild has committed.
	rebuiltTo eventstore.RecordedEvent
	// retired is set once the retired models' keys are gone.
	retired bool
}

// NewRunner returns a runner; Run starts it.
func NewRunner(cfg Config) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("projections: invalid config: %w", err)
	}
	r := &Runner{cfg: cfg, state: Status{Name: cfg.Projector.Name()}, changed: make(chan struct{}),
		wants: func(string) bool { return true }}
	if s, ok := cfg.Projector.(Subscriber); ok {
		types := map[string]bool{}
		for _, t := range s.EventTypes() {
			types[t] = true
		}
		r.wants = func(t string) bool { return types[t] }
	}
	if r.cfg.Feed == nil {
		f, err := NewFeed(FeedConfig{Store: cfg.Store, Codec: cfg.Codec, BatchSize: cfg.BatchSize})
		if err != nil {
			return nil, err
		}
		r.cfg.Feed, r.ownFeed = f, true
	}
	r.cfg.Feed.register(cfg.Projector)
	return r, nil
}

// Run keeps the read model up to date until ctx ends, while this instance
// holds the read model's lease; otherwise it follows the leader's commits
// (lease.go). Failures (Redis down, its data lost, the store unreachable) are
// retried with backoff from the checkpoint in Redis; Status reports them
// meanwhile.
func (r *Runner) Run(ctx context.Context) error {
	if r.ownFeed {
		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { _ = r.cfg.Feed.Run(ctx) })
		defer func() { cancel(); wg.Wait() }()
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		token, err := r.tryLead(ctx)
		if err == nil && token == "" {
			token, err = r.followLeader(ctx)
		}
		if ctx.Err() != nil {
			if token != "" {
				r.release(ctx, token) // taken as the runner was stopped
			}
			break
		}
		if err != nil {
			r.failed(err)
			select {
			case <-ctx.Done():
			case <-time.After(jitter(backoff)):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		r.lead(ctx, token)
	}
	return nil
}

// failed records a failure: the runner is not running until it recovers.
func (r *Runner) failed(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state.Running, r.state.LastError = false, err
	r.signal()
}

func (r *Runner) setLeader(token string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.token, r.state.Leader = token, token != ""
	r.signal()
}

func (r *Runner) leaseToken() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.token
}

// jitter is a backoff of about d: between d/2 and d, so that instances that
// failed together do not retry together.
func jitter(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }

// errRestart ends a run whose view of Redis is stale (another generation, lost
// data): the next run reloads it.
var errRestart = errors.New("projections: read model changed under the runner")

// errDropped ends a run the feed stopped feeding (it could not read the log).
var errDropped = errors.New("projections: the feed stopped")

// load reads (or builds) the current generation and its checkpoint.
func (r *Runner) load(ctx context.Context) (Keys, int64, eventstore.Position, error) {
	name := r.cfg.Projector.Name()
	rdb := r.cfg.Redis
	gen, err := rdb.Get(ctx, genKey(name)).Int64()
	if errors.Is(err, redis.Nil) {
		// A first build, or Redis lost its data: build a new generation aside and
		// make it current only once it has caught up with the log, so that readers
		// get "not built yet" meanwhile, never a half-built model.
		r.cfg.Logger.Info("building read model from the event log", "read_model", name)
		if err := r.Rebuild(ctx); err != nil {
			return Keys{}, 0, eventstore.Position{}, err
		}
		return r.load(ctx)
	} else if err != nil {
		return Keys{}, 0, eventstore.Position{}, err
	}
	keys := keysOf(name, gen)
	cp, err := readCheckpoint(ctx, rdb, keys)
	if err != nil {
		return keys, gen, cp, err
	}
	// A model ahead of the log was built from another log, or the log was
	// restored from an older backup: it cannot be caught up, only rebuilt.
	last, err := r.cfg.Store.LastPosition(ctx)
	if err != nil {
		return keys, gen, cp, err
	}
	if cp.Compare(last) > 0 {
		r.cfg.Logger.Warn("read model is ahead of the event log: rebuilding it", "read_model", name,
			"checkpoint", cp.String(), "log_ends_at", last.String())
		if err := r.discard(ctx, keys); err != nil {
			return keys, gen, cp, err
		}
		return r.load(ctx)
	}
	return keys, gen, cp, nil
}

// discard makes a generation no longer current and deletes its keys, if it is
// still the current one.
func (r *Runner) discard(ctx context.Context, keys Keys) error {
	name := r.cfg.Projector.Name()
	err := r.fenced(ctx, func(tx *redis.Tx, token string) error {
		gen, err := tx.Get(ctx, genKey(name)).Int64()
		if errors.Is(err, redis.Nil) || err == nil && gen != keys.gen {
			return nil // another generation is current already, or none
		}
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(w redis.Pipeliner) error {
			w.Del(ctx, genKey(name))
			r.holdLease(ctx, w, token)
			return nil
		})
		return err
	}, genKey(name))
	if errors.Is(err, redis.TxFailedErr) {
		return errRestart
	}
	if err != nil {
		return err
	}
	return deleteKeys(ctx, r.cfg.Redis, keys.Prefix())
}

func (r *Runner) runOnce(ctx context.Context) (progressed bool, err error) {
	// Before anything is built: readers of this model never read the retired
	// ones, and the space is free for the build.
	if err := r.retire(ctx); err != nil {
		return false, err
	}
	keys, gen, cp, err := r.load(ctx)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	if r.state.Generation != gen || r.state.Checkpoint.Compare(cp) > 0 {
		// A new generation (rebuild, lost data) starts over; a checkpoint never
		// goes back within one.
		r.state.Checkpoint = cp
	}
	r.state.Generation, r.state.Running, r.state.LastError = gen, true, nil
	r.signal()
	r.mu.Unlock()

	m, cp, progressed, err := r.catchUp(ctx, keys, cp)
	if err != nil {
		return progressed, err
	}
	r.setJoined(true)
	defer func() { r.cfg.Feed.leave(m); r.setJoined(false) }()
	fed, err := r.follow(ctx, m, keys, gen, cp)
	return progressed || fed, err
}

// catchUp reads the log on its own from cp until the feed has handed out
// nothing after the read model's checkpoint, then joins the feed.
func (r *Runner) catchUp(ctx context.Context, keys Keys, cp eventstore.Position) (*member, eventstore.Position, bool, error) {
	progressed := false
	for {
		if m, ok := r.cfg.Feed.join(cp); ok {
			return m, cp, progressed, nil
		}
		raw, err := r.readAfter(ctx, cp, r.cfg.BatchSize)
		if err != nil {
			return nil, cp, progressed, err
		}
		if len(raw) == 0 {
			// The feed handed out events after cp, so the log has them: a read
			// that finds none raced a store that is catching up. Try again.
			select {
			case <-time.After(10 * time.Millisecond):
			case <-ctx.Done():
				return nil, cp, progressed, ctx.Err()
			}
			continue
		}
		events, err := decode(ctx, r.cfg.Codec, raw, r.wants)
		if err != nil {
			return nil, cp, progressed, err
		}
		last := raw[len(raw)-1]
		if err := r.commit(ctx, keys, cp, events, last, len(raw), 0, false); err != nil {
			return nil, cp, progressed, err
		}
		cp, progressed = last.Position, true
	}
}

// follow projects the feed's batches until a commit fails, the generation
// changes or the feed stops.
func (r *Runner) follow(ctx context.Context, m *member, keys Keys, gen int64, cp eventstore.Position) (progressed bool, err error) {
	// While no events come, check now and then that the generation is still there:
	// a FLUSHALL or a Redis restart would otherwise go unnoticed until the next
	// event, and queries would find nothing meanwhile.
	check := time.NewTicker(r.cfg.CheckEvery)
	defer check.Stop()
	for {
		var b batch
		var ok bool
		select {
		case b, ok = <-m.ch:
		case <-check.C:
			cur, err := r.cfg.Redis.Get(ctx, genKey(r.cfg.Projector.Name())).Int64()
			if err != nil && !errors.Is(err, redis.Nil) {
				return progressed, err
			}
			if cur != gen {
				return progressed, errRestart
			}
			continue
		case <-ctx.Done():
			return progressed, ctx.Err()
		}
		if !ok {
			return progressed, errDropped
		}
		// Take in what else is waiting, up to a batch: a member behind commits
		// fewer, larger transactions, as it would reading the log itself.
		b = gather(b, m.ch, r.cfg.BatchSize)
		if b.last.Position.Compare(cp) <= 0 {
			continue // joined ahead of the feed: the model has this stretch already
		}
		events := make([]Event, 0, len(b.events))
		for _, e := range b.events {
			if e.Position.Compare(cp) > 0 && r.wants(e.Type) {
				events = append(events, e)
			}
		}
		if err := r.commit(ctx, keys, cp, events, b.last, b.raw, b.queued, false); err != nil {
			return progressed, err
		}
		cp, progressed = b.last.Position, true
	}
}

// retire deletes the keys of the models the projector replaced, once.
func (r *Runner) retire(ctx context.Context) error {
	rt, ok := r.cfg.Projector.(Retirer)
	if !ok || r.retired {
		return nil
	}
	for _, name := range rt.Retired() {
		if name == r.cfg.Projector.Name() {
			continue // never its own
		}
		if err := deleteKeys(ctx, r.cfg.Redis, ModelPrefix(name)); err != nil {
			return fmt.Errorf("projections: delete retired read model %s: %w", name, err)
		}
	}
	r.retired = true
	return nil
}

// commit projects the events of a stretch of the log that ends at last and moves
// the checkpoint from cp to last, in one transaction that fails if the
// checkpoint or the generation moved meanwhile. covered counts the stretch's
// events, queued those received after it.
func (r *Runner) commit(ctx context.Context, keys Keys, cp eventstore.Position, events []Event,
	last eventstore.RecordedEvent, covered, queued int, shadow bool) error {
	name := r.cfg.Projector.Name()
	apply := func(tx *redis.Tx, token string) error {
		if !shadow {
			gen, err := tx.Get(ctx, genKey(name)).Result()
			if err != nil || ModelPrefix(name)+gen+":" != keys.Prefix() {
				return errRestart // lost data, or switched to a rebuilt generation
			}
		}
		cur, err := readCheckpoint(ctx, tx, keys)
		if err != nil {
			return err
		}
		if cur != cp {
			return errRestart
		}
		_, err = tx.TxPipelined(ctx, func(w redis.Pipeliner) error {
			if err := r.cfg.Projector.Project(ctx, keys, tx, w, events); err != nil {
				return err
			}
			w.Set(ctx, checkpointKey(keys), last.Position.String(), 0)
			if !shadow {
				r.holdLease(ctx, w, token)
				w.Publish(ctx, CommitsChannel(name), fmt.Sprintf("%d %s %s", keys.gen, cp, last.Position))
			}
			return nil
		})
		return err
	}
	var err error
	if shadow {
		// Nobody reads a generation being built: its writes need no fence.
		err = r.cfg.Redis.Watch(ctx, func(tx *redis.Tx) error { return apply(tx, "") }, genKey(name), checkpointKey(keys))
	} else {
		err = r.fenced(ctx, apply, genKey(name), checkpointKey(keys))
	}
	if errors.Is(err, redis.TxFailedErr) {
		err = errRestart
	}
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// A rebuild's events count as processed; its checkpoint becomes the
	// runner's once it is current (Rebuild).
	r.state.Processed += uint64(covered)
	r.rate.add(r.cfg.Clock(), covered)
	if shadow {
		r.rebuiltTo = last
		return nil
	}
	r.state.Checkpoint, r.state.LastEventAt, r.state.Queued = last.Position, last.RecordedAt, queued
	r.signal()
	return nil
}

func (r *Runner) setJoined(joined bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state.Joined = joined
	r.signal()
}

// signal wakes WaitFor callers; r.mu is held.
func (r *Runner) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}
