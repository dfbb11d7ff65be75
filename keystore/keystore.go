// Package keystore keeps the keys that seal customers' personal data
// (crypto-shredding): one data key per customer, stored wrapped by a
// master key in a store that is not the event log, so destroying a customer's key
// erases its personal data from every event without touching the events.
//
// Store is the port for wrapped keys (package embedded holds them in a file of
// fixed-size slots, overwritten in place on destruction). Keyring sits on a Store:
// it wraps and unwraps with the master key, caches unwrapped keys, creates and
// destroys data keys, rotates the master key and keeps the index key that names
// uniqueness reservations.
package keystore

import (
	"context"
	"errors"
	"iter"

	"github.com/google/uuid"
)

// Errors of the port. Callers match them with errors.Is.
var (
	// ErrNotFound: no key was ever created for the id.
	ErrNotFound = errors.New("keystore: no key for this id")
	// ErrDestroyed: the id's key was destroyed; it can never be had again.
	ErrDestroyed = errors.New("keystore: key destroyed")
	// ErrExists: the id has (or had) a key; ids are never reused.
	ErrExists = errors.New("keystore: key already exists")
	// ErrChanged: a Replace found another wrapped key than the one it expected.
	ErrChanged = errors.New("keystore: wrapped key changed meanwhile")
	// ErrCorrupt: stored bytes failed their check.
	ErrCorrupt = errors.New("keystore: corrupt key record")
	// ErrWrongMaster: the key was wrapped by a master key this keyring does not hold.
	ErrWrongMaster = errors.New("keystore: key wrapped by an unknown master key")
)

// MaxWrappedSize is the largest wrapped key a Store must accept.
const MaxWrappedSize = 96

// Store holds wrapped keys by id. Implementations are safe for concurrent use, and
// every change is durable when the call returns.
type Store interface {
	// Create stores a new wrapped key for id. It fails with ErrExists when id has a
	// key or had one that was destroyed.
	Create(ctx context.Context, id uuid.UUID, wrapped []byte) error
	// Get returns id's wrapped key, or fails with ErrNotFound or ErrDestroyed.
	Get(ctx context.Context, id uuid.UUID) ([]byte, error)
	// Replace swaps id's wrapped key for next if it is still old (ErrChanged
	// otherwise). The old bytes do not survive in the store's files.
	Replace(ctx context.Context, id uuid.UUID, old, next []byte) error
	// Destroy removes id's wrapped key so that no copy of it remains in the store's
	// files, and remembers that id had one. Destroying a destroyed key fails with
	// ErrDestroyed, a missing one with ErrNotFound.
	Destroy(ctx context.Context, id uuid.UUID) error
	// Keys yields every live key, in no particular order.
	Keys(ctx context.Context) iter.Seq2[Entry, error]
	// Close releases the store.
	Close() error
}

// Entry is one live key of a Store.
type Entry struct {
	ID      uuid.UUID
	Wrapped []byte
}
