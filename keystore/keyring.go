package keystore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
)

// DataKeySize is the size of a data key: AES-256.
const DataKeySize = 32

// wrapped key layout: format(1) | master key id(8) | nonce(12) | sealed key+tag(48).
const (
	wrapFormat  = 1
	wrappedSize = 1 + 8 + 12 + DataKeySize + 16
)

// indexKeyID names the keyring's own key for keyed hashes of unique values. It is
// kept in the Store like a data key, so master-key rotation rewraps it and the
// hashes it made stay valid.
var indexKeyID = uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:customerd:keystore:index-key:v1"))

// KeyringOptions tune a Keyring.
type KeyringOptions struct {
	// CacheSize is how many unwrapped keys stay in memory. Default 10,000.
	CacheSize int
	// Previous are master keys that earlier wrapped keys may still be wrapped by,
	// during an interrupted rotation. Keys are read with them, never written.
	Previous []*MasterKey
}

// Keyring creates, unwraps, caches and destroys data keys.
type Keyring struct {
	store Store

	// mu is held shared by cache misses and exclusively by Destroy and Rotate, so
	// a key being destroyed is never put back in the cache by a concurrent miss.
	mu       sync.RWMutex
	master   *MasterKey
	previous []*MasterKey

	cache        *lru.Cache[uuid.UUID, cipher.AEAD]
	hits, misses atomic.Uint64
}

// NewKeyring returns a keyring over store, wrapping new keys with master.
func NewKeyring(store Store, master *MasterKey, opts KeyringOptions) (*Keyring, error) {
	if store == nil || master == nil {
		return nil, errors.New("keyring: store and master key are required")
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 10_000
	}
	cache, err := lru.New[uuid.UUID, cipher.AEAD](opts.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return &Keyring{store: store, master: master, previous: opts.Previous, cache: cache}, nil
}

// MasterKeyID is the fingerprint of the master key new keys are wrapped with.
func (k *Keyring) MasterKeyID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.master.ID()
}

// DataKey returns id's data key as an AES-256-GCM AEAD. It fails with ErrNotFound
// or ErrDestroyed (the customer was erased).
func (k *Keyring) DataKey(ctx context.Context, id uuid.UUID) (cipher.AEAD, error) {
	if a, ok := k.cache.Get(id); ok {
		k.hits.Add(1)
		return a, nil
	}
	k.misses.Add(1)
	k.mu.RLock()
	defer k.mu.RUnlock()
	raw, err := k.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return k.remember(id, raw)
}

// CreateDataKey returns id's data key, creating it when id never had one. An id
// whose key was destroyed fails with ErrDestroyed: an erased customer gets no new key.
func (k *Keyring) CreateDataKey(ctx context.Context, id uuid.UUID) (cipher.AEAD, error) {
	a, err := k.DataKey(ctx, id)
	if !errors.Is(err, ErrNotFound) {
		return a, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	raw, err := k.create(ctx, id)
	if err != nil {
		return nil, err
	}
	return k.remember(id, raw)
}

// Destroy destroys id's data key for good: later DataKey calls fail with
// ErrDestroyed. The caller must have recorded why (CustomerErased) first.
func (k *Keyring) Destroy(ctx context.Context, id uuid.UUID) error {
	if id == indexKeyID {
		return errors.New("keyring: the index key cannot be destroyed")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cache.Remove(id)
	if err := k.store.Destroy(ctx, id); err != nil {
		return fmt.Errorf("destroy data key %s: %w", id, err)
	}
	return nil
}

// IndexKey returns the keyring's 32-byte key for keyed hashes of unique values
// (email reservations), creating it on first use. It is stable across master-key
// rotations.
func (k *Keyring) IndexKey(ctx context.Context) ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	raw, err := k.load(ctx, indexKeyID)
	if errors.Is(err, ErrNotFound) {
		raw, err = k.create(ctx, indexKeyID)
	}
	if err != nil {
		return nil, fmt.Errorf("index key: %w", err)
	}
	return raw, nil
}

// CacheStats reports how many DataKey calls were answered from memory.
func (k *Keyring) CacheStats() (hits, misses uint64) { return k.hits.Load(), k.misses.Load() }

// Rotate rewraps every key with next and makes next the master key; it returns
// how many keys it rewrapped. No event changes. Afterwards the store holds nothing
// the old master key can unwrap. Keys are not handed out while it runs. A rotation
// cut short is finished by running it again with the old key among
// KeyringOptions.Previous.
func (k *Keyring) Rotate(ctx context.Context, next *MasterKey) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	old := k.master
	k.master = next
	k.previous = append([]*MasterKey{old}, k.previous...)
	n := 0
	for e, err := range k.store.Keys(ctx) {
		if err != nil {
			return n, fmt.Errorf("rotate: %w", err)
		}
		if len(e.Wrapped) == wrappedSize && [8]byte(e.Wrapped[1:9]) == next.id {
			continue
		}
		raw, err := k.unwrap(e.ID, e.Wrapped)
		if err != nil {
			return n, fmt.Errorf("rotate key %s: %w", e.ID, err)
		}
		if err := k.store.Replace(ctx, e.ID, e.Wrapped, k.wrap(e.ID, raw)); err != nil {
			return n, fmt.Errorf("rotate key %s: %w", e.ID, err)
		}
		n++
	}
	k.previous = nil
	return n, nil
}

func (k *Keyring) load(ctx context.Context, id uuid.UUID) ([]byte, error) {
	w, err := k.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return k.unwrap(id, w)
}

func (k *Keyring) create(ctx context.Context, id uuid.UUID) ([]byte, error) {
	raw := make([]byte, DataKeySize)
	rand.Read(raw)
	err := k.store.Create(ctx, id, k.wrap(id, raw))
	if errors.Is(err, ErrExists) { // created concurrently, or destroyed
		return k.load(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	return raw, nil
}

func (k *Keyring) remember(id uuid.UUID, raw []byte) (cipher.AEAD, error) {
	a, err := newAEAD(raw)
	if err != nil {
		return nil, err
	}
	k.cache.Add(id, a)
	return a, nil
}

func newAEAD(raw []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// wrapAAD binds a wrapped key to its id and master key: a wrapped key copied to
// another id does not unwrap.
func wrapAAD(id uuid.UUID, master [8]byte) []byte {
	aad := append([]byte("customerd data key v1"), id[:]...)
	return append(aad, master[:]...)
}

func (k *Keyring) wrap(id uuid.UUID, raw []byte) []byte {
	out := make([]byte, 1+8+12, wrappedSize)
	out[0] = wrapFormat
	copy(out[1:9], k.master.id[:])
	rand.Read(out[9:21])
	return k.master.aead.Seal(out, out[9:21], raw, wrapAAD(id, k.master.id))
}

func (k *Keyring) unwrap(id uuid.UUID, w []byte) ([]byte, error) {
	if len(w) != wrappedSize || w[0] != wrapFormat {
		return nil, fmt.Errorf("key %s: %w: unknown wrapping", id, ErrCorrupt)
	}
	mid := [8]byte(w[1:9])
	for _, m := range append([]*MasterKey{k.master}, k.previous...) {
		if m.id != mid {
			continue
		}
		raw, err := m.aead.Open(nil, w[9:21], w[21:], wrapAAD(id, mid))
		if err != nil {
			return nil, fmt.Errorf("key %s: %w: it does not unwrap", id, ErrCorrupt)
		}
		return raw, nil
	}
	return nil, fmt.Errorf("key %s: %w (fingerprint %x)", id, ErrWrongMaster, mid)
}
