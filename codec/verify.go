package codec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fieldservice/customer-service/eventstore"
)

// Break is the first broken link a verification found.
type Break struct {
	Stream   string
	Version  uint64              // the version the event claims, or the one expected where none could be read
	Position eventstore.Position // zero when the event could not be read
	Reason   string
}

func (b *Break) Error() string {
	return fmt.Sprintf("hash chain broken in %s at version %d (position %s): %s", b.Stream, b.Version, b.Position, b.Reason)
}

// Report is the outcome of a verification: how much was checked, and the first
// broken link (nil when every link holds).
type Report struct {
	Streams, Events int
	Break           *Break
}

// Verify walks one stream and checks every link of its chain: versions count up
// from 1 without a gap, each prev_hash is the previous event's hash (the genesis
// value first), and each hash matches the event as stored. It needs no keys: it
// hashes the sealed payloads. The error is for failures to read, not for breaks.
func Verify(ctx context.Context, store eventstore.Store, stream string) (Report, error) {
	r := Report{Streams: 1}
	var head Head
	for rec, err := range store.ReadStream(ctx, stream, eventstore.ReadOptions{}) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return Report{}, err
		}
		if err != nil {
			if ctx.Err() != nil {
				return r, err
			}
			// Reads come in chunks: go on one event at a time to name the first
			// event that cannot be read.
			return verifyOneByOne(ctx, store, stream, head, r)
		}
		next, brk := check(rec, head)
		if brk != nil {
			r.Break = brk
			return r, nil
		}
		head = next
		r.Events++
	}
	return r, nil
}

func verifyOneByOne(ctx context.Context, store eventstore.Store, stream string, head Head, r Report) (Report, error) {
	for {
		found := false
		for rec, err := range store.ReadStream(ctx, stream, eventstore.ReadOptions{From: head.Version + 1, Limit: 1}) {
			if err != nil {
				if ctx.Err() != nil {
					return r, err
				}
				r.Break = &Break{Stream: stream, Version: head.Version + 1, Reason: "the store cannot read the event: " + err.Error()}
				return r, nil
			}
			next, brk := check(rec, head)
			if brk != nil {
				r.Break = brk
				return r, nil
			}
			head, found = next, true
			r.Events++
		}
		if !found {
			return r, nil
		}
	}
}

// VerifyAll checks every stream's chain in one pass over the global log. It keeps
// each stream's head in memory (about 100 bytes a stream).
func VerifyAll(ctx context.Context, store eventstore.Store) (Report, error) {
	var r Report
	heads := map[string]Head{}
	for rec, err := range store.ReadAll(ctx, eventstore.Position{}, 0) {
		if err != nil {
			return r, err
		}
		next, brk := check(rec, heads[rec.Stream])
		if brk != nil {
			r.Break = brk
			break
		}
		heads[rec.Stream] = next
		r.Events++
	}
	r.Streams = len(heads)
	return r, nil
}

// check verifies one event against its stream's head before it.
func check(rec eventstore.RecordedEvent, head Head) (Head, *Break) {
	brk := func(format string, args ...any) (Head, *Break) {
		return head, &Break{Stream: rec.Stream, Version: rec.Version, Position: rec.Position, Reason: fmt.Sprintf(format, args...)}
	}
	if rec.Version != head.Version+1 {
		return brk("version %d follows version %d: events are missing or out of order", rec.Version, head.Version)
	}
	var w wireMetadata
	dec := json.NewDecoder(bytes.NewReader(rec.Metadata))
	dec.DisallowUnknownFields() // a field the hash does not cover could be altered unseen
	if err := dec.Decode(&w); err != nil {
		return brk("metadata is not the chained format: %v", err)
	}
	prev, err := ParseHash(w.PrevHash)
	if err != nil {
		return brk("prev_hash: %v", err)
	}
	stored, err := ParseHash(w.Hash)
	if err != nil {
		return brk("hash: %v", err)
	}
	if prev != head.Hash {
		return brk("prev_hash %s is not the previous event's hash %s", prev, head.Hash)
	}
	computed := link{stream: rec.Stream, version: rec.Version, id: rec.ID, typ: rec.Type, meta: &w, data: rec.Data, prev: prev}.hash()
	if computed != stored {
		return brk("the event's contents hash to %s, not to its stored hash %s: it was altered", computed, stored)
	}
	return Head{Version: rec.Version, Hash: stored}, nil
}
