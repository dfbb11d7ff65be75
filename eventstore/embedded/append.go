package embedded

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/fieldservice/customer-service/eventstore"
)

// writer appends within one commit transaction. It writes only the log, whose keys
// only grow, so a commit dirties few pages. The stream and id indexes are left to the
// recent index and flushed later in bulk: writing the stream index, whose keys are
// scattered, in every commit cost three quarters of the throughput with 256 writers
// (see BenchmarkAppend), and the id index a fifth of a lone writer's.
type writer struct {
	tx    *bolt.Tx
	seq   uint64
	now   time.Time
	index *recentIndex
	added map[string][]uint64 // stream → seqs appended by this batch, not yet in index
	heads map[string]uint64   // stream → version after this batch's appends
	ids   map[uuid.UUID]uint64
}

// seqOfID finds where an event id is stored: this batch, the recent index, the disk.
func (w *writer) seqOfID(id uuid.UUID) (uint64, bool) {
	if seq, ok := w.ids[id]; ok {
		return seq, true
	}
	if seq, ok := w.index.seqOfID(id); ok {
		return seq, true
	}
	if v := w.tx.Bucket(bucketIDs).Get(id[:]); v != nil {
		return binary.BigEndian.Uint64(v), true
	}
	return 0, false
}

func (w *writer) head(stream string) uint64 {
	if v, ok := w.heads[stream]; ok {
		return v
	}
	if v := w.index.head(stream); v > 0 {
		return v
	}
	return headVersion(w.tx.Bucket(bucketStreams), stream)
}

func (w *writer) append(stream string, expected eventstore.ExpectedVersion, events []eventstore.EventData) (eventstore.AppendResult, error) {
	log := w.tx.Bucket(bucketLog)
	current := w.head(stream)
	fail := func(err error) (eventstore.AppendResult, error) {
		return eventstore.AppendResult{}, &eventstore.Error{Op: "append", Stream: stream, Expected: expected, Actual: current, Err: err}
	}
	if res, found, err := w.idempotentResult(stream, events); found || err != nil {
		if err != nil {
			return fail(err)
		}
		return res, nil
	}
	if !expected.Allows(current) {
		return fail(eventstore.ErrWrongVersion)
	}
	for i, e := range events {
		w.seq++
		rec := eventstore.RecordedEvent{ID: e.ID, Stream: stream, Version: current + uint64(i) + 1, Type: e.Type, Data: e.Data, Metadata: e.Metadata, RecordedAt: w.now}
		seqKey := u64(w.seq)
		if err := log.Put(seqKey, encodeRecord(rec)); err != nil {
			return fail(err)
		}
		w.ids[e.ID] = w.seq
		w.added[stream] = append(w.added[stream], w.seq)
	}
	w.heads[stream] = current + uint64(len(events))
	return eventstore.AppendResult{Version: w.heads[stream], Position: eventstore.Position{Commit: w.seq, Prepare: w.seq}}, nil
}

// idempotentResult recognises a retried append: if the first event's id is stored,
// every event must be stored in this stream, consecutively and in the same order, and
// the original result is returned. Any other overlap is refused: ids stored in another
// stream are duplicates, and a retry that only partly matches cannot be told apart
// from a conflicting write (KurrentDB calls this corrupted idempotency).
func (w *writer) idempotentResult(stream string, events []eventstore.EventData) (eventstore.AppendResult, bool, error) {
	var first, last eventstore.RecordedEvent
	for i, e := range events {
		seq, ok := w.seqOfID(e.ID)
		if !ok {
			if i == 0 {
				for j, e := range events[1:] {
					if _, ok := w.seqOfID(e.ID); ok {
						return eventstore.AppendResult{}, false, fmt.Errorf("%w: event %d (%s) is already stored", eventstore.ErrDuplicateEventID, j+1, e.ID)
					}
				}
				return eventstore.AppendResult{}, false, nil
			}
			return eventstore.AppendResult{}, false, fmt.Errorf("%w: a retried append only partly matches the stored events", eventstore.ErrWrongVersion)
		}
		rec, err := decodeRecord(seq, w.tx.Bucket(bucketLog).Get(u64(seq)))
		if err != nil {
			return eventstore.AppendResult{}, false, err
		}
		if i == 0 {
			if rec.Stream != stream {
				return eventstore.AppendResult{}, false, fmt.Errorf("%w: event %s is stored in another stream", eventstore.ErrDuplicateEventID, rec.ID)
			}
			first = rec
		} else if rec.Stream != stream || rec.Version != first.Version+uint64(i) {
			return eventstore.AppendResult{}, false, fmt.Errorf("%w: a retried append only partly matches the stored events", eventstore.ErrWrongVersion)
		}
		last = rec
	}
	return eventstore.AppendResult{Version: last.Version, Position: last.Position}, true, nil
}
