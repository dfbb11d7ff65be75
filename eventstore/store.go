// Package eventstore defines the port through which the service appends and reads
// immutable events, whatever holds them: a bbolt file (package embedded) or a
// KurrentDB cluster (package kurrent). It moves envelopes and bytes only: what
// the bytes mean is the codec's business (package codec).
//
// Conventions shared by every adapter:
//
//   - A stream's versions count its events from 1; version 0 means "no stream".
//     (KurrentDB revisions count from 0: an adapter maps version v to revision v-1.)
//   - Every event has a global Position in the store's log. Positions only grow but
//     are not dense: compare them, never compute the next one by adding one.
//   - An event's ID (a UUIDv7) is its idempotency key: appending an event whose ID is
//     already stored in that stream returns the original result instead of a copy.
package eventstore

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/google/uuid"
)

// Store is an append-only log of events grouped in streams.
//
// Implementations are safe for concurrent use.
type Store interface {
	// Append writes events to the end of stream, atomically, if the stream is at
	// the expected version. It returns once the events are durable.
	//
	// A stale expectation fails with an error matching ErrWrongVersion that carries
	// the stream's actual version (*Error). Retrying an append whose events were
	// already stored in this stream at the expected place returns the original
	// result and stores nothing. An append needs at least one event, and every event
	// an ID and a Type; otherwise it fails with ErrInvalidEvent.
	Append(ctx context.Context, stream string, expected ExpectedVersion, events ...EventData) (AppendResult, error)

	// ReadStream yields a stream's events in the given direction. A stream that
	// was never written yields one error matching ErrStreamNotFound.
	ReadStream(ctx context.Context, stream string, opts ReadOptions) iter.Seq2[RecordedEvent, error]

	// ReadAll yields the global log forwards, starting at the first event whose
	// position is at or after from (from is inclusive, as in KurrentDB), at most
	// limit events (0: no limit).
	ReadAll(ctx context.Context, from Position, limit int) iter.Seq2[RecordedEvent, error]

	// SubscribeAll yields every event after the position after (exclusive; the zero
	// Position means from the beginning), first those already stored, then new ones
	// as they are committed, without gaps or duplicates across the hand-over. The
	// consumer sets the pace: nothing is buffered beyond what it has not yet pulled.
	// The sequence ends when ctx is cancelled (yielding no error) or on a failure
	// (yielding the error).
	SubscribeAll(ctx context.Context, after Position) iter.Seq2[RecordedEvent, error]

	// LastPosition returns the position of the newest event in the log, or the zero
	// Position when the log is empty. Readers use it to measure their lag.
	LastPosition(ctx context.Context) (Position, error)

	// Close releases the store. Appends in progress finish first.
	Close() error
}

// EventData is an event to append.
type EventData struct {
	// ID identifies the event (a UUIDv7) and is its idempotency key. Required.
	ID uuid.UUID
	// Type is the registered event type name, e.g. "CustomerRegistered". Required.
	Type string
	// Data is the payload (JSON).
	Data []byte
	// Metadata is the envelope's metadata (JSON): actor, correlation, causation, … Optional.
	Metadata []byte
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	ID         uuid.UUID
	Stream     string
	Version    uint64 // the event's place in its stream, from 1
	Position   Position
	Type       string
	Data       []byte
	Metadata   []byte
	RecordedAt time.Time // when the store committed it (UTC)
}

// AppendResult reports where an append's last event landed.
type AppendResult struct {
	// Version is the stream's version after the append: the last event's version.
	Version uint64
	// Position is the global position of the append's last event.
	Position Position
}

// Position is a place in the global log. It holds KurrentDB's (commit, prepare) pair;
// the embedded store uses its sequence number for both. The zero Position is before
// every event.
type Position struct {
	Commit  uint64
	Prepare uint64
}

// Compare returns -1, 0 or +1 as p is before, equal to or after o.
func (p Position) Compare(o Position) int {
	switch {
	case p.Commit < o.Commit:
		return -1
	case p.Commit > o.Commit:
		return 1
	case p.Prepare < o.Prepare:
		return -1
	case p.Prepare > o.Prepare:
		return 1
	}
	return 0
}

// IsZero reports whether p is the start of the log.
func (p Position) IsZero() bool { return p == Position{} }

// String formats p as "commit/prepare", the form ParsePosition reads.
func (p Position) String() string { return fmt.Sprintf("%d/%d", p.Commit, p.Prepare) }

// ParsePosition reads a position written by Position.String. A single number n is
// read as n/n, the embedded store's form.
func ParsePosition(s string) (Position, error) {
	var p Position
	if n, err := fmt.Sscanf(s, "%d/%d", &p.Commit, &p.Prepare); err == nil && n == 2 {
		if p.Prepare > p.Commit {
			return Position{}, fmt.Errorf("position %q: prepare after commit", s)
		}
		return p, nil
	}
	var n uint64
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || fmt.Sprint(n) != s {
		return Position{}, fmt.Errorf("position %q: want <commit>/<prepare> or a number", s)
	}
	return Position{Commit: n, Prepare: n}, nil
}

// Direction is the order in which ReadStream yields events.
type Direction int

const (
	Forwards Direction = iota
	Backwards
)

// ReadOptions select part of a stream.
type ReadOptions struct {
	Direction Direction
	// From is the first version to yield. 0 means the first event when reading
	// forwards and the last event when reading backwards.
	From uint64
	// Limit caps the number of events yielded; 0 means no limit.
	Limit int
}
