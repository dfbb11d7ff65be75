package kurrent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/fieldservice/customer-service/eventstore"
)

// ReadStream implements eventstore.Store. It reads in chunks, each a call with
// its own deadline.
func (s *Store) ReadStream(ctx context.Context, stream string, opts eventstore.ReadOptions) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		fail := func(err error) {
			yield(eventstore.RecordedEvent{}, &eventstore.Error{Op: "read stream", Stream: stream, Err: err})
		}
		back := opts.Direction == eventstore.Backwards
		var from esdb.StreamPosition = esdb.Start{}
		switch {
		case opts.From > 0:
			from = esdb.Revision(opts.From - 1)
		case back:
			from = esdb.End{}
		}
		yielded, first := 0, true
		for {
			count := uint64(readChunk)
			if opts.Limit > 0 {
				count = min(count, uint64(opts.Limit-yielded))
			}
			chunk, err := s.readStreamChunk(ctx, stream, back, from, count)
			if errors.Is(err, eventstore.ErrStreamNotFound) && !first {
				return
			}
			if err != nil {
				fail(err)
				return
			}
			first = false
			for _, e := range chunk {
				if !yield(e, nil) {
					return
				}
				yielded++
			}
			if uint64(len(chunk)) < count || opts.Limit > 0 && yielded >= opts.Limit {
				return
			}
			last := chunk[len(chunk)-1].Version // a version, from 1: the next revision is last (forwards) or last-2 (backwards)
			if back {
				if last <= 1 {
					return
				}
				from = esdb.Revision(last - 2)
			} else {
				from = esdb.Revision(last)
			}
		}
	}
}

func (s *Store) readStreamChunk(ctx context.Context, stream string, back bool, from esdb.StreamPosition, count uint64) ([]eventstore.RecordedEvent, error) {
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	dir := esdb.Forwards
	if back {
		dir = esdb.Backwards
	}
	client, err := s.begin()
	if err != nil {
		return nil, err
	}
	defer s.ops.Done()
	rs, err := client.ReadStream(cctx, stream, esdb.ReadStreamOptions{Direction: dir, From: from}, count)
	if err != nil {
		s.renew(client, err)
		return nil, mapError(err)
	}
	defer rs.Close()
	var out []eventstore.RecordedEvent
	for {
		e, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			s.renew(client, err)
			return nil, mapError(err)
		}
		out = append(out, recorded(e.OriginalEvent()))
	}
}

// ReadAll implements eventstore.Store: $all forwards from from (inclusive),
// without system streams and other services' streams.
func (s *Store) ReadAll(ctx context.Context, from eventstore.Position, limit int) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		var at esdb.AllPosition = esdb.Start{}
		if !from.IsZero() {
			at = esdb.Position{Commit: from.Commit, Prepare: from.Prepare}
		}
		yielded := 0
		skipFirst := false // the chunk after the first starts at the last event seen
		for {
			chunk, n, err := s.readAllChunk(ctx, at, readChunk)
			if err != nil {
				yield(eventstore.RecordedEvent{}, &eventstore.Error{Op: "read all", Err: err})
				return
			}
			for i, e := range chunk {
				if i == 0 && skipFirst && e.Position == positionOf(at) {
					continue
				}
				if !s.ours(e.Stream) {
					continue
				}
				if !yield(e, nil) {
					return
				}
				if yielded++; limit > 0 && yielded >= limit {
					return
				}
			}
			if n < readChunk {
				return
			}
			last := chunk[len(chunk)-1].Position
			at, skipFirst = esdb.Position{Commit: last.Commit, Prepare: last.Prepare}, true
		}
	}
}

func positionOf(p esdb.AllPosition) eventstore.Position {
	if q, ok := p.(esdb.Position); ok {
		return eventstore.Position{Commit: q.Commit, Prepare: q.Prepare}
	}
	return eventstore.Position{}
}

// readAllChunk reads up to count events of $all, system events included, and
// says how many the server sent.
func (s *Store) readAllChunk(ctx context.Context, from esdb.AllPosition, count uint64) ([]eventstore.RecordedEvent, uint64, error) {
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	client, err := s.begin()
	if err != nil {
		return nil, 0, err
	}
	defer s.ops.Done()
	rs, err := client.ReadAll(cctx, esdb.ReadAllOptions{Direction: esdb.Forwards, From: from}, count)
	if err != nil {
		s.renew(client, err)
		return nil, 0, mapError(err)
	}
	defer rs.Close()
	var out []eventstore.RecordedEvent
	for {
		e, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, uint64(len(out)), nil
		}
		if err != nil {
			s.renew(client, err)
			return nil, 0, mapError(err)
		}
		out = append(out, recorded(e.OriginalEvent()))
	}
}

// LastPosition implements eventstore.Store: the position of the newest event of
// this service's streams, found by reading $all backwards.
func (s *Store) LastPosition(ctx context.Context) (eventstore.Position, error) {
	var at esdb.AllPosition = esdb.End{}
	for {
		client, err := s.begin()
		if err != nil {
			return eventstore.Position{}, &eventstore.Error{Op: "last position", Err: err}
		}
		cctx, cancel := s.callCtx(ctx)
		rs, err := client.ReadAll(cctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: at}, 64)
		if err != nil {
			s.ops.Done()
			s.renew(client, err)
			cancel()
			return eventstore.Position{}, &eventstore.Error{Op: "last position", Err: mapError(err)}
		}
		n := 0
		for {
			e, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rs.Close()
				cancel()
				s.ops.Done()
				s.renew(client, err)
				return eventstore.Position{}, &eventstore.Error{Op: "last position", Err: mapError(err)}
			}
			n++
			r := recorded(e.OriginalEvent())
			if s.ours(r.Stream) {
				rs.Close()
				cancel()
				s.ops.Done()
				return r.Position, nil
			}
			at = esdb.Position{Commit: r.Position.Commit, Prepare: r.Position.Prepare} // backwards reads are exclusive
		}
		rs.Close()
		cancel()
		s.ops.Done()
		if n < 64 {
			return eventstore.Position{}, nil
		}
	}
}

// SubscribeAll implements eventstore.Store.
func (s *Store) SubscribeAll(ctx context.Context, after eventstore.Position) iter.Seq2[eventstore.RecordedEvent, error] {
	return s.Subscribe(ctx, after, nil)
}

// Subscribe is SubscribeAll that also reports the server's checkpoints: the
// position up to which the server has scanned $all for this subscription, which
// may be past the last event yielded. A consumer that saves checkpoints resumes
// there instead of rescanning other services' events. A dropped subscription is
// resubscribed after the last position seen, with backoff, for up to
// Config.ResubscribeFor; then the sequence yields ErrUnavailable.
func (s *Store) Subscribe(ctx context.Context, after eventstore.Position, checkpoint func(eventstore.Position)) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(s.done, cancel)() // Close ends subscriptions
		last := after
		var downSince time.Time
		backoff := 50 * time.Millisecond
		for {
			progressed, stop, err := s.subscribeOnce(ctx, &last, checkpoint, yield)
			if stop || ctx.Err() != nil {
				return
			}
			if progressed {
				downSince, backoff = time.Time{}, 50*time.Millisecond
			}
			if downSince.IsZero() {
				downSince = time.Now()
			}
			if time.Since(downSince) > s.cfg.ResubscribeFor {
				yield(eventstore.RecordedEvent{}, &eventstore.Error{Op: "subscribe", Err: fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)})
				return
			}
			wait := backoff/2 + rand.N(backoff/2+1)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}

// subscribeOnce runs one server subscription until it drops. It reports whether
// it confirmed (so the backoff resets), whether the consumer stopped, and why it
// ended.
func (s *Store) subscribeOnce(ctx context.Context, last *eventstore.Position, checkpoint func(eventstore.Position),
	yield func(eventstore.RecordedEvent, error) bool) (progressed, stop bool, err error) {
	var from esdb.AllPosition = esdb.Start{}
	if !last.IsZero() {
		from = esdb.Position{Commit: last.Commit, Prepare: last.Prepare}
	}
	filter := &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Regex: `^[^$]`}
	if len(s.cfg.StreamPrefixes) > 0 {
		filter = &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: s.cfg.StreamPrefixes}
	}
	client, err := s.begin()
	if err != nil {
		return false, true, err
	}
	defer s.ops.Done()
	sub, err := client.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: from, Filter: filter})
	if err != nil {
		s.renew(client, err)
		return false, false, mapError(err)
	}
	defer sub.Close()
	for {
		m := sub.Recv()
		switch {
		case m.SubscriptionDropped != nil:
			s.renew(client, m.SubscriptionDropped.Error)
			return progressed, false, mapError(m.SubscriptionDropped.Error)
		case m.EventAppeared != nil:
			progressed = true
			e := recorded(m.EventAppeared.OriginalEvent())
			if e.Position.Compare(*last) <= 0 {
				continue // already delivered before a resubscription
			}
			*last = e.Position
			if !s.ours(e.Stream) {
				continue
			}
			if !yield(e, nil) {
				return true, true, nil
			}
		case m.CheckPointReached != nil:
			progressed = true
			p := eventstore.Position{Commit: m.CheckPointReached.Commit, Prepare: m.CheckPointReached.Prepare}
			if p.Compare(*last) > 0 {
				*last = p
			}
			if checkpoint != nil {
				checkpoint(p)
			}
		case m.CaughtUp != nil:
			progressed = true
		}
	}
}
