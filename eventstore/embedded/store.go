// Package embedded is the event store of the service's embedded mode: one bbolt file,
// fsynced on every commit, with appends from concurrent callers group-committed so
// that many share one commit while a lone writer pays for one and waits for no timer.
package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/fieldservice/customer-service/eventstore"
)

// Config configures a Store.
type Config struct {
	// Path of the bbolt file; created (mode 0600) if missing. Required.
	Path string
	// MaxBatch caps how many appends share one commit. Default 1024.
	MaxBatch int
	// OpenTimeout bounds the wait for the file lock held by another process. Default 2s.
	OpenTimeout time.Duration
	// Clock stamps RecordedAt. Default time.Now.
	Clock func() time.Time
	// FlushEvents and FlushInterval bound how far the on-disk stream index lags the
	// log: it is written once this many events are unindexed (default 65,536) or
	// this long after the last flush (default 1s), and on Close. A larger lag costs
	// memory and recovery time at Open, never durability.
	FlushEvents   int
	FlushInterval time.Duration
}

func (c *Config) setDefaults() {
	if c.MaxBatch == 0 {
		c.MaxBatch = 1024
	}
	if c.OpenTimeout == 0 {
		c.OpenTimeout = 2 * time.Second
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.FlushEvents == 0 {
		c.FlushEvents = 1 << 16
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = time.Second
	}
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("path is required"))
	}
	if c.MaxBatch < 0 {
		errs = append(errs, errors.New("max batch must not be negative"))
	}
	if c.OpenTimeout < 0 {
		errs = append(errs, errors.New("open timeout must not be negative"))
	}
	if c.FlushEvents < 0 || c.FlushInterval < 0 {
		errs = append(errs, errors.New("flush events and flush interval must not be negative"))
	}
	return errors.Join(errs...)
}

// Store is an eventstore.Store in a bbolt file.
type Store struct {
	cfg  Config
	db   *bolt.DB
	reqs chan *appendReq // unbuffered: a request is pending while its sender blocks
	stop chan struct{}   // closed by Close
	done chan struct{}   // closed when the commit loop has exited

	lastSeq atomic.Uint64 // newest committed sequence; only the commit loop writes it
	index   *recentIndex

	mu     sync.Mutex
	notify chan struct{} // closed and replaced after every commit, to wake subscribers

	closeOnce sync.Once
	closeErr  error
}

var _ eventstore.Store = (*Store)(nil)

type appendReq struct {
	ctx      context.Context
	stream   string
	expected eventstore.ExpectedVersion
	events   []eventstore.EventData
	result   eventstore.AppendResult
	err      error
	done     chan struct{}
}

// Open opens (or creates) the store's file and starts its commit loop.
func Open(cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("embedded event store: invalid config: %w", err)
	}
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{
		Timeout:      cfg.OpenTimeout,
		FreelistType: bolt.FreelistMapType,
		// Reserve address space up front so the file rarely needs a remap, which
		// would wait for every open read transaction.
		InitialMmapSize: 1 << 30,
	})
	if err != nil {
		return nil, fmt.Errorf("open event store %s: %w", cfg.Path, err)
	}
	s := &Store{
		cfg:    cfg,
		db:     db,
		reqs:   make(chan *appendReq),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		notify: make(chan struct{}),
		index:  newRecentIndex(),
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketLog, bucketStreams, bucketIDs, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if k, _ := tx.Bucket(bucketLog).Cursor().Last(); k != nil {
			s.lastSeq.Store(binary.BigEndian.Uint64(k))
		}
		return s.index.rebuild(tx)
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open event store %s: %w", cfg.Path, err)
	}
	go s.commitLoop()
	return s, nil
}

// Path returns the store's file.
func (s *Store) Path() string { return s.cfg.Path }

// Close stops accepting appends, lets the commit in progress finish, and closes the file.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// Append implements eventstore.Store. A cancelled context either stops the append
// before it is written (returning the context's error) or, if its commit has
// begun, lets it finish and reports its result: never "maybe written".
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := validateAppend(stream, expected, events); err != nil {
		return eventstore.AppendResult{}, &eventstore.Error{Op: "append", Stream: stream, Expected: expected, Err: err}
	}
	r := &appendReq{ctx: ctx, stream: stream, expected: expected, events: events, done: make(chan struct{})}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return eventstore.AppendResult{}, &eventstore.Error{Op: "append", Stream: stream, Expected: expected, Err: ctx.Err()}
	case <-s.stop:
		return eventstore.AppendResult{}, &eventstore.Error{Op: "append", Stream: stream, Expected: expected, Err: fmt.Errorf("%w: store closed", eventstore.ErrUnavailable)}
	}
	<-r.done
	return r.result, r.err
}

// commitLoop is the single writer. It takes every append pending when the previous
// commit ends and writes them in one transaction (one fsync pair), so the batch size
// follows the load with no timer: idle, an append commits at once.
func (s *Store) commitLoop() {
	defer close(s.done)
	defer s.flushIndex()
	tick := time.NewTicker(s.cfg.FlushInterval)
	defer tick.Stop()
	batch := make([]*appendReq, 0, s.cfg.MaxBatch)
	for {
		select {
		case r := <-s.reqs:
			batch = append(batch[:0], r)
		case <-tick.C:
			s.flushIndex()
			continue
		case <-s.stop:
			return
		}
	drain:
		for len(batch) < s.cfg.MaxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.commit(batch)
		clear(batch)
		if s.index.len() >= s.cfg.FlushEvents {
			s.flushIndex()
		}
	}
}

// flushIndex writes the recent stream index to disk. A failure leaves it in memory
// (reads stay correct) and is retried at the next tick.
func (s *Store) flushIndex() {
	if s.index.len() == 0 {
		return
	}
	_ = s.index.flush(s.db, s.lastSeq.Load())
}

func (s *Store) commit(batch []*appendReq) {
	now := s.cfg.Clock().UTC()
	seq := s.lastSeq.Load()
	var w writer
	err := s.db.Update(func(tx *bolt.Tx) error {
		w = writer{tx: tx, seq: seq, now: now, index: s.index, added: map[string][]uint64{}, heads: map[string]uint64{}, ids: map[uuid.UUID]uint64{}}
		tx.Bucket(bucketLog).FillPercent = 1.0 // keys only ever grow: pack pages full
		for _, r := range batch {
			if err := r.ctx.Err(); err != nil {
				r.err = &eventstore.Error{Op: "append", Stream: r.stream, Expected: r.expected, Err: err}
				continue
			}
			r.result, r.err = w.append(r.stream, r.expected, r.events)
			if r.err != nil && !isRequestError(r.err) {
				return r.err // storage failure: abort the whole transaction
			}
		}
		seq = w.seq
		return nil
	})
	if err != nil {
		for _, r := range batch {
			if r.err == nil || !isRequestError(r.err) {
				r.result = eventstore.AppendResult{}
				r.err = &eventstore.Error{Op: "append", Stream: r.stream, Expected: r.expected, Err: fmt.Errorf("commit: %w", err)}
			}
		}
	} else if seq != s.lastSeq.Load() {
		s.index.add(w.added, w.heads, w.ids) // before any caller learns of its append
		s.lastSeq.Store(seq)
		s.mu.Lock()
		close(s.notify)
		s.notify = make(chan struct{})
		s.mu.Unlock()
	}
	for _, r := range batch {
		close(r.done)
	}
}

// isRequestError tells a refusal of one append (which leaves the others in its batch
// alone) from a storage failure (which fails the batch).
func isRequestError(err error) bool {
	return errors.Is(err, eventstore.ErrWrongVersion) || errors.Is(err, eventstore.ErrDuplicateEventID) ||
		errors.Is(err, eventstore.ErrInvalidEvent) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// LastPosition implements eventstore.Store.
func (s *Store) LastPosition(context.Context) (eventstore.Position, error) {
	n := s.lastSeq.Load()
	return eventstore.Position{Commit: n, Prepare: n}, nil
}
