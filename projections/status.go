package projections

import (
	"context"
	"time"

	"github.com/fieldservice/customer-service/eventstore"
)

// Status is what a runner reports for metrics and readiness.
type Status struct {
	Name       string
	Generation int64
	// Checkpoint is the position of the last event the read model reflects.
	Checkpoint eventstore.Position
	// LastEventAt is when the store recorded that event.
	LastEventAt time.Time
	// Queued counts events received and not yet projected: a lower bound of the lag.
	Queued int
	// Lag is how far behind the log the read model is in time: the age of the last
	// projected event while more are queued, else zero.
	Lag time.Duration
	// Processed counts events projected since the runner started.
	Processed uint64
	// EventsPerSecond is the recent projection rate.
	EventsPerSecond float64
	// Running is false while the runner waits to reconnect to Redis.
	Running bool
	// Joined says the runner is fed by the shared feed; false while it catches up
	// on its own.
	Joined bool
	// Leader says this instance holds the read model's lease and projects it;
	// a follower's checkpoint is the leader's, as read from Redis.
	Leader bool
	// LastError is the last failure, if any since the last success.
	LastError error
}

// Status returns the runner's current figures.
func (r *Runner) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.state
	now := r.cfg.Clock()
	s.EventsPerSecond = r.rate.perSecond(now)
	if s.Queued > 0 && !s.LastEventAt.IsZero() {
		s.Lag = now.Sub(s.LastEventAt)
	}
	return s
}

// WaitFor returns once the read model reflects position p (read-your-writes), or
// with ctx's error. It waits on the runner's commits, without polling.
func (r *Runner) WaitFor(ctx context.Context, p eventstore.Position) error {
	return r.Await(ctx, func(s Status) bool { return s.Running && s.Checkpoint.Compare(p) >= 0 })
}

// Await returns once cond holds for the runner's status, which it checks after
// every change, or with ctx's error.
func (r *Runner) Await(ctx context.Context, cond func(Status) bool) error {
	for {
		s := r.Status()
		r.mu.Lock()
		changed := r.changed
		r.mu.Unlock()
		if cond(s) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// rateMeter is events per second over the last few seconds.
type rateMeter struct {
	buckets [8]struct {
		second int64
		n      int
	}
}

func (m *rateMeter) add(now time.Time, n int) {
	sec := now.Unix()
	b := &m.buckets[sec%int64(len(m.buckets))]
	if b.second != sec {
		b.second, b.n = sec, 0
	}
	b.n += n
}

func (m *rateMeter) perSecond(now time.Time) float64 {
	sec, total := now.Unix(), 0
	for _, b := range m.buckets {
		if b.second < sec && b.second >= sec-int64(len(m.buckets)-1) { // whole seconds only
			total += b.n
		}
	}
	return float64(total) / float64(len(m.buckets)-1)
}

// Behind reports how far the read model is behind the log: zero when it reflects
// the newest event, else the age of the oldest event it has not projected yet.
// It reads the store; an error means the store could not be read.
func (r *Runner) Behind(ctx context.Context) (time.Duration, error) {
	cp := r.Status().Checkpoint
	last, err := r.cfg.Store.LastPosition(ctx)
	if err != nil || cp.Compare(last) >= 0 {
		return 0, err
	}
	for rec, err := range r.cfg.Store.ReadAll(ctx, cp, 2) {
		if err != nil {
			return 0, err
		}
		if rec.Position.Compare(cp) > 0 {
			return r.cfg.Clock().Sub(rec.RecordedAt), nil
		}
	}
	return 0, nil
}
