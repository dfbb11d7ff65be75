package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/eventstore"
)

// Rebuild builds the read model again from the start of the log into a new
// generation while queries keep reading the current one, and switches to it in
// one transaction once it has caught up with the current generation's
// checkpoint. Run follows the switch by itself; the old generation's keys are
// then deleted.
func (r *Runner) Rebuild(ctx context.Context) error {
	name := r.cfg.Projector.Name()
	gen := r.cfg.Clock().UnixNano()
	keys := keysOf(name, gen)
	var cp eventstore.Position
	compacted := false
	// The next batch is read and decoded while this one is projected and
	// committed: unsealing is as much work as the projection.
	next := r.readAhead(ctx, cp)
	for {
		ahead := <-next
		if ahead.err != nil {
			return ahead.err
		}
		if batch := ahead.batch; batch.raw > 0 {
			next = r.readAhead(ctx, batch.last.Position)
			if err := r.commit(ctx, keys, cp, batch.events, batch.last, batch.raw, 0, true); err != nil {
				return fmt.Errorf("rebuild %s: %w", name, err)
			}
			cp = batch.last.Position
			continue
		}
		if c, ok := r.cfg.Projector.(Compactor); ok && !compacted {
			// Caught up: compact once, then read what came meanwhile.
			if err := c.Compact(ctx, keys, r.cfg.Redis); err != nil {
				return fmt.Errorf("rebuild %s: compact: %w", name, err)
			}
			compacted = true
			next = r.readAhead(ctx, cp)
			continue
		}
		old, switched, err := r.trySwitch(ctx, gen, cp)
		if err != nil {
			return fmt.Errorf("rebuild %s: %w", name, err)
		}
		if switched {
			r.mu.Lock()
			if to := r.rebuiltTo; to.Position == cp && cp.Compare(r.state.Checkpoint) > 0 {
				r.state.Checkpoint, r.state.LastEventAt = to.Position, to.RecordedAt
				r.signal()
			}
			r.mu.Unlock()
			if old != nil {
				return deleteKeys(ctx, r.cfg.Redis, old.Prefix())
			}
			return nil
		}
		next = r.readAhead(ctx, cp)
	}
}

type readBatch struct {
	batch batch
	err   error
}

// readAhead reads and decodes a rebuild's batch of events after cp, in the
// background.
func (r *Runner) readAhead(ctx context.Context, cp eventstore.Position) <-chan readBatch {
	out := make(chan readBatch, 1)
	go func() {
		raw, err := r.readAfter(ctx, cp, r.cfg.RebuildBatchSize)
		if err != nil || len(raw) == 0 {
			out <- readBatch{err: err}
			return
		}
		events, err := decode(ctx, r.cfg.Codec, raw, r.wants)
		out <- readBatch{batch: batch{events: events, last: raw[len(raw)-1], raw: len(raw)}, err: err}
	}()
	return out
}

// Compactor is a Projector whose rebuilt keys are worth compacting once the
// rebuild has caught up, before it becomes current: strings grown by APPEND
// keep up to as much room again as they hold.
type Compactor interface {
	Compact(ctx context.Context, keys Keys, rdb *redis.Client) error
}

// readAfter reads up to n events after cp.
func (r *Runner) readAfter(ctx context.Context, cp eventstore.Position, n int) ([]eventstore.RecordedEvent, error) {
	var out []eventstore.RecordedEvent
	for e, err := range r.cfg.Store.ReadAll(ctx, cp, n+1) {
		if err != nil {
			return nil, err
		}
		if e.Position == cp {
			continue // ReadAll starts at cp itself
		}
		if out = append(out, e); len(out) == n {
			break
		}
	}
	return out, nil
}

// trySwitch makes gen current if it is at least as far as the current one.
func (r *Runner) trySwitch(ctx context.Context, gen int64, cp eventstore.Position) (*Keys, bool, error) {
	name := r.cfg.Projector.Name()
	var old *Keys
	switched := false
	err := r.fenced(ctx, func(tx *redis.Tx, token string) error {
		cur, ok, err := CurrentKeys(ctx, tx, name)
		if err != nil {
			return err
		}
		if ok {
			// Watch the live checkpoint before reading it: it must not move past cp
			// before EXEC.
			if err := tx.Watch(ctx, checkpointKey(cur)).Err(); err != nil {
				return err
			}
			live, err := readCheckpoint(ctx, tx, cur)
			if err != nil {
				return err
			}
			if live.Compare(cp) > 0 {
				return nil // the live generation is ahead: read on
			}
			old = &cur
		}
		_, err = tx.TxPipelined(ctx, func(w redis.Pipeliner) error {
			w.Set(ctx, genKey(name), gen, 0)
			r.holdLease(ctx, w, token)
			w.Publish(ctx, CommitsChannel(name), fmt.Sprintf("%d %s %s", gen, cp, cp))
			return nil
		})
		switched = err == nil
		return err
	}, genKey(name))
	if errors.Is(err, redis.TxFailedErr) {
		return nil, false, nil
	}
	return old, switched, err
}

// deleteKeys removes every key under prefix.
func deleteKeys(ctx context.Context, rdb *redis.Client, prefix string) error {
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 1000 {
			if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return rdb.Unlink(ctx, batch...).Err()
	}
	return nil
}
