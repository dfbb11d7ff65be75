package embedded

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// CheckIntegrity verifies the file: bbolt's own page check, then that every event in
// the log is indexed by its id and (up to the flushed watermark) by its stream, that
// every stream is dense from version 1, and that the indexes point at nothing else.
// It reads the whole file in one transaction.
func (s *Store) CheckIntegrity() error {
	return s.view(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("bbolt check: %w", errors.Join(errs...))
		}
		streams, ids := tx.Bucket(bucketStreams), tx.Bucket(bucketIDs)
		var indexed uint64 // events after it are in the recent index, not yet on disk
		if v := tx.Bucket(bucketMeta).Get(keyIndexed); v != nil {
			indexed = binary.BigEndian.Uint64(v)
		}
		seen, seenIndexed, indexedEvents := map[string]uint64{}, map[string]uint64{}, 0
		err := tx.Bucket(bucketLog).ForEach(func(k, v []byte) error {
			seq := binary.BigEndian.Uint64(k)
			e, err := decodeRecord(seq, v)
			if err != nil {
				return err
			}
			if e.Version != seen[e.Stream]+1 {
				return fmt.Errorf("log %d: %s version %d follows version %d", seq, e.Stream, e.Version, seen[e.Stream])
			}
			seen[e.Stream] = e.Version
			if got, ok := diskSeq(streams, e.Stream, e.Version); seq <= indexed && got != seq {
				return fmt.Errorf("log %d: stream index of %s@%d does not point at it", seq, e.Stream, e.Version)
			} else if seq > indexed && ok {
				return fmt.Errorf("log %d: stream index holds %s@%d beyond its watermark %d", seq, e.Stream, e.Version, indexed)
			}
			if seq <= indexed {
				seenIndexed[e.Stream] = e.Version
				indexedEvents++
			}
			if got := ids.Get(e.ID[:]); seq <= indexed && !bytes.Equal(got, k) {
				return fmt.Errorf("log %d: id index of %s does not point at it", seq, e.ID)
			} else if seq > indexed && got != nil {
				return fmt.Errorf("log %d: id index holds %s beyond its watermark %d", seq, e.ID, indexed)
			}
			return nil
		})
		if err != nil {
			return err
		}
		entries := 0
		err = streams.ForEach(func(k, v []byte) error {
			if len(v) == 0 || len(v)%8 != 0 {
				return fmt.Errorf("stream index entry %q: %d bytes: %w", k, len(v), errCorrupt)
			}
			entries += len(v) / 8
			return nil
		})
		if err != nil {
			return err
		}
		if entries != indexedEvents {
			return fmt.Errorf("stream index holds %d entries for %d indexed events", entries, indexedEvents)
		}
		if n := ids.Stats().KeyN; n != indexedEvents {
			return fmt.Errorf("id index holds %d entries for %d indexed events", n, indexedEvents)
		}
		for stream, last := range seenIndexed {
			if h := headVersion(streams, stream); h != last {
				return fmt.Errorf("head of %s reads as %d, its last event is %d", stream, h, last)
			}
		}
		return nil
	})
}
