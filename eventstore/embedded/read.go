package embedded

import (
	"context"
	"encoding/binary"
	"fmt"
	"iter"

	bolt "go.etcd.io/bbolt"

	"github.com/fieldservice/customer-service/eventstore"
)

// readChunk is how many events one read transaction collects. Reads never hold a
// transaction while the caller runs: a caller that appends inside its loop would
// otherwise wait on its own read (bbolt remaps only when no reader is open).
const readChunk = 512

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, opts eventstore.ReadOptions) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		fail := func(err error) {
			yield(eventstore.RecordedEvent{}, &eventstore.Error{Op: "read stream", Stream: stream, Err: err})
		}
		next, yielded := opts.From, 0
		first := true
		for {
			if err := ctx.Err(); err != nil {
				fail(err)
				return
			}
			var chunk []eventstore.RecordedEvent
			var head uint64
			recent := s.index.snapshot(stream) // before the transaction: see recentIndex
			err := s.view(func(tx *bolt.Tx) error {
				head = max(recent.head(), headVersion(tx.Bucket(bucketStreams), stream))
				if head == 0 {
					return nil
				}
				if first {
					first = false
					if next == 0 && opts.Direction == eventstore.Forwards {
						next = 1
					}
					if next == 0 || next > head && opts.Direction == eventstore.Backwards {
						next = head
					}
				}
				streams, log := tx.Bucket(bucketStreams), tx.Bucket(bucketLog)
				for len(chunk) < readChunk && next >= 1 && next <= head && (opts.Limit == 0 || yielded+len(chunk) < opts.Limit) {
					seq, ok := recent.seq(next)
					if !ok {
						if seq, ok = diskSeq(streams, stream, next); !ok {
							return fmt.Errorf("stream index misses version %d: %w", next, errCorrupt)
						}
					}
					e, err := decodeRecord(seq, log.Get(u64(seq)))
					if err != nil {
						return err
					}
					chunk = append(chunk, e)
					if opts.Direction == eventstore.Backwards {
						next--
					} else {
						next++
					}
				}
				return nil
			})
			if err != nil {
				fail(err)
				return
			}
			if head == 0 {
				fail(eventstore.ErrStreamNotFound)
				return
			}
			for _, e := range chunk {
				if !yield(e, nil) {
					return
				}
			}
			yielded += len(chunk)
			if len(chunk) < readChunk {
				return
			}
		}
	}
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, from eventstore.Position, limit int) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		next, yielded := from.Commit, 0
		if from.Prepare > from.Commit {
			next++ // positions of this store have commit == prepare; this one lies after commit
		}
		for {
			n := readChunk
			if limit > 0 && limit-yielded < n {
				n = limit - yielded
			}
			if n == 0 {
				return
			}
			chunk, err := s.readLog(ctx, next, n)
			if err != nil {
				yield(eventstore.RecordedEvent{}, &eventstore.Error{Op: "read all", Stream: "$all", Err: err})
				return
			}
			for _, e := range chunk {
				if !yield(e, nil) {
					return
				}
			}
			yielded += len(chunk)
			if len(chunk) < n {
				return
			}
			next = chunk[len(chunk)-1].Position.Commit + 1
		}
	}
}

// SubscribeAll implements eventstore.Store. Catching up and following live are the
// same loop: read what is stored after the last delivered position; when nothing is
// left, wait for the next commit. The wake-up channel is taken before each read, so a
// commit that lands between the read and the wait is never missed.
func (s *Store) SubscribeAll(ctx context.Context, after eventstore.Position) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		next := after.Commit + 1
		if after.IsZero() {
			next = 1
		}
		for {
			s.mu.Lock()
			wake := s.notify
			s.mu.Unlock()
			select {
			case <-s.stop:
				yield(eventstore.RecordedEvent{}, &eventstore.Error{Op: "subscribe", Stream: "$all", Err: fmt.Errorf("%w: store closed", eventstore.ErrUnavailable)})
				return
			default:
			}
			chunk, err := s.readLog(ctx, next, readChunk)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				yield(eventstore.RecordedEvent{}, &eventstore.Error{Op: "subscribe", Stream: "$all", Err: err})
				return
			}
			for _, e := range chunk {
				if !yield(e, nil) {
					return
				}
				next = e.Position.Commit + 1
			}
			if len(chunk) > 0 {
				continue
			}
			select {
			case <-wake:
			case <-ctx.Done():
				return
			case <-s.stop:
			}
		}
	}
}

// readLog reads up to n events of the log from sequence from (inclusive).
func (s *Store) readLog(ctx context.Context, from uint64, n int) ([]eventstore.RecordedEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var chunk []eventstore.RecordedEvent
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLog).Cursor()
		for k, v := c.Seek(u64(from)); k != nil && len(chunk) < n; k, v = c.Next() {
			e, err := decodeRecord(binary.BigEndian.Uint64(k), v)
			if err != nil {
				return err
			}
			chunk = append(chunk, e)
		}
		return nil
	})
	return chunk, err
}

// view runs a read transaction unless the store is closed.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	select {
	case <-s.stop:
		return fmt.Errorf("%w: store closed", eventstore.ErrUnavailable)
	default:
	}
	return s.db.View(fn)
}
