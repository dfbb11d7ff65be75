package embedded

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
)

// recentIndex is the stream index of the events committed since the last flush.
// The log is the truth: after a crash, Open rebuilds this from the log records after
// the flushed watermark, so keeping it in memory loses nothing.
//
// Readers take what they need from it before opening their read transaction: a flush
// that lands in between only moves entries to the disk index, where the transaction
// then finds them too.
type recentIndex struct {
	mu      sync.RWMutex
	streams map[string]*recentStream
	ids     map[uuid.UUID]uint64
	events  int
}

type recentStream struct {
	first uint64   // version of seqs[0]
	seqs  []uint64 // log sequence of each version from first on
}

func newRecentIndex() *recentIndex {
	return &recentIndex{streams: map[string]*recentStream{}, ids: map[uuid.UUID]uint64{}}
}

// seqOfID returns the log sequence of a recent event id.
func (x *recentIndex) seqOfID(id uuid.UUID) (uint64, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	seq, ok := x.ids[id]
	return seq, ok
}

// head returns the stream's last version known here, or 0.
func (x *recentIndex) head(stream string) uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if r := x.streams[stream]; r != nil {
		return r.first + uint64(len(r.seqs)) - 1
	}
	return 0
}

// snapshot copies the stream's recent entries.
func (x *recentIndex) snapshot(stream string) recentStream {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if r := x.streams[stream]; r != nil {
		return recentStream{first: r.first, seqs: append([]uint64(nil), r.seqs...)}
	}
	return recentStream{}
}

func (r recentStream) head() uint64 {
	if len(r.seqs) == 0 {
		return 0
	}
	return r.first + uint64(len(r.seqs)) - 1
}

// seq returns the log sequence of version v if it is held here.
func (r recentStream) seq(v uint64) (uint64, bool) {
	if len(r.seqs) == 0 || v < r.first || v > r.head() {
		return 0, false
	}
	return r.seqs[v-r.first], true
}

// add records a committed batch: for each stream, the seqs it appended and the
// version its last one got, and the seq of every event id.
func (x *recentIndex) add(added map[string][]uint64, heads map[string]uint64, ids map[uuid.UUID]uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for id, seq := range ids {
		x.ids[id] = seq
	}
	for stream, seqs := range added {
		r := x.streams[stream]
		if r == nil {
			r = &recentStream{first: heads[stream] - uint64(len(seqs)) + 1}
			x.streams[stream] = r
		}
		r.seqs = append(r.seqs, seqs...)
		x.events += len(seqs)
	}
}

func (x *recentIndex) len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.events
}

// flush writes every entry to the disk stream index and moves the watermark to
// upTo, in one transaction; only then does it forget them. Only the commit loop
// calls it, so nothing is added meanwhile.
func (x *recentIndex) flush(db *bolt.DB, upTo uint64) error {
	x.mu.RLock()
	err := db.Update(func(tx *bolt.Tx) error {
		streams := tx.Bucket(bucketStreams)
		for _, stream := range slices.Sorted(maps.Keys(x.streams)) {
			r := x.streams[stream]
			run := make([]byte, 0, 8*len(r.seqs))
			for _, seq := range r.seqs {
				run = binary.BigEndian.AppendUint64(run, seq)
			}
			if err := streams.Put(streamKey(stream, r.first), run); err != nil {
				return err
			}
		}
		// Insert in key order: bbolt splits nodes only at commit, and inserting into
		// the middle of a growing node moves its tail every time.
		ids := tx.Bucket(bucketIDs)
		for _, id := range slices.SortedFunc(maps.Keys(x.ids), func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }) {
			if err := ids.Put(id[:], u64(x.ids[id])); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyIndexed, u64(upTo))
	})
	x.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("flush stream index: %w", err)
	}
	x.mu.Lock()
	clear(x.streams)
	clear(x.ids)
	x.events = 0
	x.mu.Unlock()
	return nil
}

// rebuild rebuilds the index from the log records after the flushed watermark.
func (x *recentIndex) rebuild(tx *bolt.Tx) error {
	from := uint64(1)
	if v := tx.Bucket(bucketMeta).Get(keyIndexed); v != nil {
		from = binary.BigEndian.Uint64(v) + 1
	}
	added, heads, ids := map[string][]uint64{}, map[string]uint64{}, map[uuid.UUID]uint64{}
	c := tx.Bucket(bucketLog).Cursor()
	for k, v := c.Seek(u64(from)); k != nil; k, v = c.Next() {
		e, err := decodeRecord(binary.BigEndian.Uint64(k), v)
		if err != nil {
			return err
		}
		added[e.Stream] = append(added[e.Stream], e.Position.Commit)
		heads[e.Stream] = e.Version
		ids[e.ID] = e.Position.Commit
	}
	x.add(added, heads, ids)
	return nil
}

// The disk stream index holds one entry per stream per flush: the key names the
// stream and the first version of a run, the value packs the run's log sequences
// (8 bytes each). A flush thus writes one key per stream it touched, not one per
// event, and the index stays small.

// diskRun finds the run holding version v of stream (v = MaxUint64: the last run).
// It returns the run's first version and packed sequences, or ok = false.
func diskRun(streams *bolt.Bucket, stream string, v uint64) (first uint64, run []byte, ok bool) {
	c := streams.Cursor()
	k, val := c.Seek(streamKey(stream, v))
	if k == nil || !bytes.Equal(k, streamKey(stream, v)) {
		if k == nil {
			k, val = c.Last()
		} else {
			k, val = c.Prev()
		}
	}
	if len(k) != len(stream)+9 || string(k[:len(stream)]) != stream || k[len(stream)] != 0 {
		return 0, nil, false
	}
	return binary.BigEndian.Uint64(k[len(stream)+1:]), val, true
}

// headVersion returns a stream's last version in the disk index, or 0.
func headVersion(streams *bolt.Bucket, stream string) uint64 {
	first, run, ok := diskRun(streams, stream, math.MaxUint64)
	if !ok {
		return 0
	}
	return first + uint64(len(run)/8) - 1
}

// diskSeq returns the log sequence of version v of stream from the disk index.
func diskSeq(streams *bolt.Bucket, stream string, v uint64) (uint64, bool) {
	first, run, ok := diskRun(streams, stream, v)
	if !ok || v < first || (v-first)*8 >= uint64(len(run)) {
		return 0, false
	}
	return binary.BigEndian.Uint64(run[(v-first)*8:]), true
}
