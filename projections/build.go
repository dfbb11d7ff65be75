package projections

import (
	"context"
	"fmt"

	"github.com/fieldservice/customer-service/eventstore"
)

// build gathers the feed's batches for a generation being built: one commit
// per rebuild batch (RebuildBatchSize events, or what has come once caught up
// with the log), then, once caught up, a compaction
// (Compactor) and the switch that makes the generation current. Runners that
// build at once (every read model of an empty Redis) share the feed, and so
// one reading and decoding of the log.
type build struct {
	events    []Event
	raw       int
	compacted bool
}

// add takes in a batch of the feed (events are the runner's, after cp),
// moving cp as it commits, and reports whether the generation became current.
func (b *build) add(ctx context.Context, r *Runner, keys Keys, cp *eventstore.Position, events []Event, fb batch) (bool, error) {
	b.events = append(b.events, events...)
	b.raw += fb.raw
	// Caught up? The feed's queue runs dry now and then while it reads ahead, so
	// only the log can say.
	caughtUp := false
	if fb.queued == 0 {
		last, err := r.cfg.Store.LastPosition(ctx)
		if err != nil {
			return false, err
		}
		caughtUp = fb.last.Position.Compare(last) >= 0
	}
	if !caughtUp && len(b.events) < r.cfg.RebuildBatchSize && b.raw < r.cfg.RebuildBatchSize {
		return false, nil // more is coming: one transaction for a rebuild batch
	}
	if err := r.commit(ctx, keys, *cp, b.events, fb.last, b.raw, fb.queued, true); err != nil {
		return false, err
	}
	*cp = fb.last.Position
	b.events, b.raw = b.events[:0], 0
	if !caughtUp {
		return false, nil
	}
	return b.finish(ctx, r, keys, fb.last)
}

// joined finishes the build of a runner that joined the feed with its
// generation caught up with the whole log (it read the rest on its own): no
// batch may come to tell it so.
func (b *build) joined(ctx context.Context, r *Runner, keys Keys, cp eventstore.Position) (bool, error) {
	last, err := r.cfg.Store.LastPosition(ctx)
	if err != nil || cp.Compare(last) < 0 {
		return false, err
	}
	return b.finish(ctx, r, keys, eventstore.RecordedEvent{Position: cp})
}

// finish compacts the generation, once, and makes it current at last, if it
// is as far as the current one.
func (b *build) finish(ctx context.Context, r *Runner, keys Keys, last eventstore.RecordedEvent) (bool, error) {
	name := r.cfg.Projector.Name()
	if c, ok := r.cfg.Projector.(Compactor); ok && !b.compacted {
		if err := c.Compact(ctx, keys, r.cfg.Redis); err != nil {
			return false, fmt.Errorf("build %s: compact: %w", name, err)
		}
		b.compacted = true
	}
	old, switched, err := r.trySwitch(ctx, keys.gen, last.Position)
	if err != nil || !switched {
		return false, err
	}
	r.mu.Lock()
	if r.state.Generation == keys.gen && last.Position.Compare(r.state.Checkpoint) > 0 {
		r.state.Checkpoint, r.state.LastEventAt = last.Position, last.RecordedAt
	}
	r.signal()
	r.mu.Unlock()
	if old != nil {
		return true, deleteKeys(ctx, r.cfg.Redis, old.Prefix())
	}
	return true, nil
}
