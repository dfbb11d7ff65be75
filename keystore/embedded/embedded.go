// Package embedded is the keystore.Store of embedded mode: wrapped keys in a file
// of fixed-size slots beside the event log (not in it).
//
// Destroying a key must leave no copy of it on disk. Stores that copy on write
// (bbolt, LSM trees, append-only logs) keep old values in freed pages or old
// segments until they are reused or compacted, so this file is overwritten in
// place: a slot never moves, and destroying a key zeroes its bytes where they are,
// then syncs. Every write is one aligned 128-byte slot, inside one disk sector, and
// carries a CRC so a torn write is detected rather than trusted.
//
// File layout (all integers big-endian):
//
//	slot 0 (header): "CUSTKEYS" | format uint32 (1) | slot size uint32 (128) | zeros
//	slot n ≥ 1:      state (1 live, 2 destroyed) | wrapped length | id (16) |
//	                 wrapped key (96, zero-padded) | zeros (10) | CRC-32C of bytes 0–123
package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/keystore"
)

const (
	slotSize     = 128
	formatV1     = 1
	stateLive    = 1
	stateDestroy = 2
	wrappedAt    = 18
	crcAt        = slotSize - 4
)

var (
	errClosed = errors.New("key file closed")
	magic     = []byte("CUSTKEYS")
	crcTable  = crc32.MakeTable(crc32.Castagnoli)
)

type slot struct {
	index int64
	state byte
}

// Store is a key file. It is safe for concurrent use; one process opens a file at a
// time (an exclusive lock is taken).
type Store struct {
	f    *os.File
	path string

	mu    sync.Mutex // guards slots, next and the file's contents
	slots map[uuid.UUID]slot
	next  int64 // index of the next free slot

	syncMu  sync.Mutex // one fsync at a time; waiters share the next one
	written uint64     // writes issued (under mu)
	synced  uint64     // writes known durable (under syncMu)
}

// Open opens the key file at path, creating it (mode 0600) when missing.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if err := lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("key file %s is in use by another process: %w", path, err)
	}
	s := &Store{f: f, path: path, slots: map[uuid.UUID]slot{}}
	if err := s.load(); err != nil {
		f.Close()
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return s, nil
}

// Path is the key file's path.
func (s *Store) Path() string { return s.path }

func (s *Store) load() error {
	data, err := io.ReadAll(s.f)
	if err != nil {
		return err
	}
	if len(data) < slotSize { // new (or torn while being created)
		hdr := make([]byte, slotSize)
		copy(hdr, magic)
		binary.BigEndian.PutUint32(hdr[8:], formatV1)
		binary.BigEndian.PutUint32(hdr[12:], slotSize)
		if _, err := s.f.WriteAt(hdr, 0); err != nil {
			return err
		}
		if err := s.f.Truncate(slotSize); err != nil {
			return err
		}
		s.next = 1
		return s.f.Sync()
	}
	if !bytes.Equal(data[:8], magic) || binary.BigEndian.Uint32(data[8:]) != formatV1 || binary.BigEndian.Uint32(data[12:]) != slotSize {
		return fmt.Errorf("%w: not a key file of format %d", keystore.ErrCorrupt, formatV1)
	}
	n := int64(len(data) / slotSize)
	for i := int64(1); i < n; i++ {
		b := data[i*slotSize : (i+1)*slotSize]
		if binary.BigEndian.Uint32(b[crcAt:]) != crc32.Checksum(b[:crcAt], crcTable) ||
			(b[0] != stateLive && b[0] != stateDestroy) {
			if i == n-1 { // an append torn by a crash: its Create never returned
				n--
				break
			}
			return fmt.Errorf("%w: slot %d fails its check", keystore.ErrCorrupt, i)
		}
		s.slots[uuid.UUID(b[2:18])] = slot{index: i, state: b[0]}
	}
	s.next = n
	if int64(len(data)) != n*slotSize {
		if err := s.f.Truncate(n * slotSize); err != nil {
			return err
		}
	}
	return nil
}

func encodeSlot(state byte, id uuid.UUID, wrapped []byte) []byte {
	b := make([]byte, slotSize)
	b[0], b[1] = state, byte(len(wrapped))
	copy(b[2:18], id[:])
	copy(b[wrappedAt:], wrapped)
	binary.BigEndian.PutUint32(b[crcAt:], crc32.Checksum(b[:crcAt], crcTable))
	return b
}

// write puts one slot in place; the caller holds mu and then calls durable with
// the returned generation, after releasing mu.
func (s *Store) write(index int64, b []byte) (uint64, error) {
	if s.f == nil {
		return 0, errClosed
	}
	if _, err := s.f.WriteAt(b, index*slotSize); err != nil {
		return 0, err
	}
	s.written++
	return s.written, nil
}

// durable returns once write generation gen is on disk. Concurrent callers share
// fsyncs: whoever syncs covers every write issued before it started.
func (s *Store) durable(gen uint64) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.synced >= gen {
		return nil
	}
	s.mu.Lock()
	target, f := s.written, s.f
	s.mu.Unlock()
	if f == nil {
		return errClosed
	}
	if err := f.Sync(); err != nil {
		return err
	}
	s.synced = target
	return nil
}

func (s *Store) readWrapped(index int64) ([]byte, error) {
	if s.f == nil {
		return nil, errClosed
	}
	b := make([]byte, slotSize)
	if _, err := s.f.ReadAt(b, index*slotSize); err != nil {
		return nil, err
	}
	if binary.BigEndian.Uint32(b[crcAt:]) != crc32.Checksum(b[:crcAt], crcTable) || int(b[1]) > keystore.MaxWrappedSize {
		return nil, fmt.Errorf("%w: slot %d fails its check", keystore.ErrCorrupt, index)
	}
	return b[wrappedAt : wrappedAt+int(b[1])], nil
}

// Create implements keystore.Store.
func (s *Store) Create(ctx context.Context, id uuid.UUID, wrapped []byte) error {
	if err := checkWrapped(wrapped); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if _, ok := s.slots[id]; ok {
		s.mu.Unlock()
		return fmt.Errorf("key %s: %w", id, keystore.ErrExists)
	}
	index := s.next
	gen, err := s.write(index, encodeSlot(stateLive, id, wrapped))
	if err == nil {
		s.next++
		s.slots[id] = slot{index: index, state: stateLive}
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("create key %s: %w", id, err)
	}
	return s.durable(gen)
}

// Get implements keystore.Store.
func (s *Store) Get(ctx context.Context, id uuid.UUID) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sl, err := s.live(id)
	if err != nil {
		return nil, err
	}
	return s.readWrapped(sl.index)
}

func (s *Store) live(id uuid.UUID) (slot, error) {
	sl, ok := s.slots[id]
	switch {
	case !ok:
		return sl, fmt.Errorf("key %s: %w", id, keystore.ErrNotFound)
	case sl.state == stateDestroy:
		return sl, fmt.Errorf("key %s: %w", id, keystore.ErrDestroyed)
	}
	return sl, nil
}

// Replace implements keystore.Store. The new key is written over the old one.
func (s *Store) Replace(ctx context.Context, id uuid.UUID, old, next []byte) error {
	if err := checkWrapped(next); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	sl, err := s.live(id)
	var cur []byte
	if err == nil {
		cur, err = s.readWrapped(sl.index)
	}
	if err == nil && !bytes.Equal(cur, old) {
		err = fmt.Errorf("key %s: %w", id, keystore.ErrChanged)
	}
	var gen uint64
	if err == nil {
		gen, err = s.write(sl.index, encodeSlot(stateLive, id, next))
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.durable(gen)
}

// Destroy implements keystore.Store: the slot keeps the id, marked destroyed, and
// zeros where the wrapped key was.
func (s *Store) Destroy(ctx context.Context, id uuid.UUID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	sl, err := s.live(id)
	var gen uint64
	if err == nil {
		gen, err = s.write(sl.index, encodeSlot(stateDestroy, id, nil))
	}
	if err == nil {
		s.slots[id] = slot{index: sl.index, state: stateDestroy}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.durable(gen)
}

// Keys implements keystore.Store.
func (s *Store) Keys(ctx context.Context) iter.Seq2[keystore.Entry, error] {
	return func(yield func(keystore.Entry, error) bool) {
		s.mu.Lock()
		ids := make([]uuid.UUID, 0, len(s.slots))
		for id, sl := range s.slots {
			if sl.state == stateLive {
				ids = append(ids, id)
			}
		}
		s.mu.Unlock()
		for _, id := range ids {
			if err := ctx.Err(); err != nil {
				yield(keystore.Entry{}, err)
				return
			}
			w, err := s.Get(ctx, id)
			if errors.Is(err, keystore.ErrDestroyed) {
				continue // destroyed since the snapshot
			}
			if !yield(keystore.Entry{ID: id, Wrapped: w}, err) || err != nil {
				return
			}
		}
	}
}

// Close implements keystore.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}

func checkWrapped(w []byte) error {
	if len(w) == 0 || len(w) > keystore.MaxWrappedSize {
		return fmt.Errorf("wrapped key of %d bytes: want 1 to %d", len(w), keystore.MaxWrappedSize)
	}
	return nil
}
