package projections

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/eventstore"
)

// FeedConfig configures a Feed.
type FeedConfig struct {
	// Store is the log the feed tails. Required.
	Store eventstore.Store
	// Codec decodes (and unseals) the log's events. Required.
	Codec *codec.Codec
	// BatchSize caps the events of one batch. Default 512.
	BatchSize int
}

func (c *FeedConfig) setDefaults() {
	if c.BatchSize == 0 {
		c.BatchSize = 512
	}
}

// Validate reports every problem at once.
func (c FeedConfig) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("store is required"))
	}
	if c.Codec == nil {
		errs = append(errs, errors.New("codec is required"))
	}
	if c.BatchSize < 0 {
		errs = append(errs, errors.New("batch size must not be negative"))
	}
	return errors.Join(errs...)
}

// Feed reads the log once for many runners: one subscription, each event decoded
// (and unsealed) once, each batch handed to every runner that has joined. A
// runner joins once it has caught up with the feed on its own; one that falls
// out (a failed commit, a rebuild that switched generations) catches up on its
// own again and rejoins, while the others go on.
type Feed struct {
	cfg FeedConfig

	mu sync.Mutex
	// types are the event types some registered runner wants; all says that one
	// wants every type.
	types map[string]bool
	all   bool
	// typesVer counts registrations: a batch decoded for fewer types than a
	// member wants is decoded again before it is handed out.
	typesVer uint64
	// members are the runners fed now; cursor is the last position handed to
	// them (or, while there are none, where the next subscription starts).
	members map[*member]struct{}
	cursor  eventstore.Position
	// changed is closed and replaced when the members change.
	changed chan struct{}
	// epoch counts restarts: a first member after the feed was idle may start
	// it anywhere, so the running subscription must stop.
	epoch uint64
}

// member is one runner's place in the feed.
type member struct {
	ch   chan batch    // batches, in order; closed when the feed drops the member
	done chan struct{} // closed when the runner leaves
}

// batch is a stretch of the log as the feed hands it out.
type batch struct {
	events []Event                  // the decoded events some runner wants, in order
	last   eventstore.RecordedEvent // the stretch's last event (wanted or not)
	raw    int                      // how many events of the log it covers
	queued int                      // events received after it and not handed out yet
}

// NewFeed returns a feed; Run starts it.
func NewFeed(cfg FeedConfig) (*Feed, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("projections: invalid feed config: %w", err)
	}
	return &Feed{cfg: cfg, types: map[string]bool{}, members: map[*member]struct{}{}, changed: make(chan struct{})}, nil
}

// register adds the event types p wants to those the feed decodes.
func (f *Feed) register(p Projector) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.typesVer++
	s, ok := p.(Subscriber)
	if !ok {
		f.all = true
		return
	}
	for _, t := range s.EventTypes() {
		f.types[t] = true
	}
}

// wanted returns the test of whether an event type is decoded, and the
// registrations it reflects.
func (f *Feed) wanted() (func(string) bool, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.all {
		return func(string) bool { return true }, f.typesVer
	}
	types := make(map[string]bool, len(f.types))
	for t := range f.types {
		types[t] = true
	}
	return func(t string) bool { return types[t] }, f.typesVer
}

// join makes a runner whose read model reflects the log up to cp a member, if
// the feed has not handed out anything after cp yet: the member then gets every
// batch after the cursor, and skips what it has. With no members, the feed
// restarts from cp.
func (f *Feed) join(cp eventstore.Position) (*member, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.members) == 0 {
		f.cursor = cp
		f.epoch++
	} else if cp.Compare(f.cursor) < 0 {
		return nil, false
	}
	m := &member{ch: make(chan batch, 2), done: make(chan struct{})}
	f.members[m] = struct{}{}
	f.signal()
	return m, true
}

// leave ends a membership. The runner calls it once, whatever happened.
func (f *Feed) leave(m *member) {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(m.done)
	delete(f.members, m)
	f.signal()
}

// drop ends every membership from the feed's side: the members see their
// channel closed and catch up on their own.
func (f *Feed) drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for m := range f.members {
		close(m.ch)
		delete(f.members, m)
	}
	f.signal()
}

// signal wakes whoever waits on a change of members; f.mu is held.
func (f *Feed) signal() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// Run feeds the members until ctx ends. While there are none, it reads nothing.
// A failure to read the log drops every member (they catch up on their own and
// rejoin) and is retried with backoff.
func (f *Feed) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		f.mu.Lock()
		for len(f.members) == 0 {
			changed := f.changed
			f.mu.Unlock()
			select {
			case <-changed:
			case <-ctx.Done():
				return nil
			}
			f.mu.Lock()
		}
		from, epoch := f.cursor, f.epoch
		f.mu.Unlock()
		fed, err := f.tail(ctx, from, epoch)
		if ctx.Err() != nil {
			f.drop()
			return nil
		}
		if err == nil {
			continue
		}
		f.drop()
		if fed {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(jitter(backoff)):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// tail subscribes after from and hands out batches until the members are gone,
// the feed restarts elsewhere (another epoch), or the log cannot be read.
func (f *Feed) tail(ctx context.Context, from eventstore.Position, epoch uint64) (fed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan eventstore.RecordedEvent, f.cfg.BatchSize)
	subErr := make(chan error, 1)
	go func() {
		defer close(events)
		for e, err := range f.cfg.Store.SubscribeAll(ctx, from) {
			if err != nil {
				subErr <- err
				return
			}
			select {
			case events <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	raw := make([]eventstore.RecordedEvent, 0, f.cfg.BatchSize)
	wants, ver := f.wanted()
	for {
		f.mu.Lock()
		changed, stale := f.changed, len(f.members) == 0 || f.epoch != epoch
		f.mu.Unlock()
		if stale {
			return fed, nil
		}
		var e eventstore.RecordedEvent
		var ok bool
		select {
		case e, ok = <-events:
		case <-changed:
			continue
		case <-ctx.Done():
			return fed, ctx.Err()
		}
		if !ok {
			select {
			case err := <-subErr:
				return fed, fmt.Errorf("projections: subscription: %w", err)
			default:
				return fed, ctx.Err()
			}
		}
		raw = append(raw[:0], e)
	drain:
		for len(raw) < f.cfg.BatchSize {
			select {
			case e, ok := <-events:
				if !ok {
					break drain
				}
				raw = append(raw, e)
			default:
				break drain
			}
		}
		for {
			decoded, err := decode(ctx, f.cfg.Codec, raw, wants)
			if err != nil {
				return fed, err
			}
			b := batch{events: decoded, last: raw[len(raw)-1], raw: len(raw), queued: len(events)}
			handed, stale := f.handOut(ctx, b, epoch, ver)
			if !stale {
				if !handed {
					return fed, ctx.Err()
				}
				break
			}
			wants, ver = f.wanted() // a runner registered meanwhile: decode for it too
		}
		fed = true
	}
}

// handOut gives b to every member, at the pace of the slowest. It reports
// false when the feed is to stop, and stale, handing out nothing, when b was
// decoded before a runner registered types it does not hold.
func (f *Feed) handOut(ctx context.Context, b batch, epoch, typesVer uint64) (handed, stale bool) {
	f.mu.Lock()
	if f.typesVer != typesVer {
		f.mu.Unlock()
		return false, true
	}
	if f.epoch != epoch {
		f.mu.Unlock()
		return true, false // a new start: this batch is nobody's
	}
	f.cursor = b.last.Position
	members := make([]*member, 0, len(f.members))
	for m := range f.members {
		members = append(members, m)
	}
	f.mu.Unlock()
	for _, m := range members {
		select {
		case m.ch <- b:
		case <-m.done:
		case <-ctx.Done():
			return false, false
		}
	}
	return true, false
}

// decode decodes the events of raw whose type wants accepts, on every core:
// unsealing, not Redis, bounds a rebuild.
func decode(ctx context.Context, c *codec.Codec, raw []eventstore.RecordedEvent, wants func(string) bool) ([]Event, error) {
	idx := make([]int, 0, len(raw))
	for i := range raw {
		if wants(raw[i].Type) {
			idx = append(idx, i)
		}
	}
	out := make([]Event, len(idx))
	workers := min(runtime.GOMAXPROCS(0), (len(idx)+63)/64)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for j := w; j < len(idx); j += workers {
				rec := raw[idx[j]]
				e, m, err := c.Decode(ctx, rec)
				if err != nil {
					errs[w] = fmt.Errorf("projections: %w", err)
					return
				}
				out[j] = Event{RecordedEvent: rec, Event: e, Meta: m}
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// gather adds to b the batches already waiting on ch, while b covers fewer
// than limit events of the log.
func gather(b batch, ch <-chan batch, limit int) batch {
	for b.raw < limit {
		select {
		case next, ok := <-ch:
			if !ok {
				return b // dropped: the caller sees it at its next receive
			}
			b.events = append(slices.Clip(b.events), next.events...) // a new array: other members read the batch too
			b.last, b.raw, b.queued = next.last, b.raw+next.raw, next.queued
		default:
			return b
		}
	}
	return b
}
