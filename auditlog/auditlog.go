// Package auditlog publishes the event log the way transparency logs do: a
// Merkle tree (package merkle) whose leaves are the stored events' chain
// hashes in log order, and checkpoints signed with an Ed25519 key (tree size,
// root, time), so that an outsider who saved a checkpoint can later check,
// with an inclusion proof, that an event is in the log, and, with a
// consistency proof, that the log they see now extends the one they saved:
// no event was removed from a stream's tail, and the log was not rewritten
// and re-hashed wholesale.
//
// A checkpoint is the signature over this text (the "signed note" body of
// transparency logs), each line ending in a newline:
//
//	customer-service
//	<tree size, decimal>
//	<root hash, standard base64>
//	<time, RFC 3339 UTC>
package auditlog

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/merkle"
)

// Origin names the log in every checkpoint.
const Origin = "customer-service"

// Log follows the store and keeps the tree of its events' hashes.
type Log struct {
	store eventstore.Store
	key   ed25519.PrivateKey

	mu        sync.RWMutex
	tree      merkle.Tree
	positions []eventstore.Position
	changed   chan struct{}
}

// New returns a log over store, signing with key. Run fills it.
func New(store eventstore.Store, key ed25519.PrivateKey) *Log {
	return &Log{store: store, key: key, changed: make(chan struct{})}
}

// Run follows the store until ctx ends.
func (l *Log) Run(ctx context.Context) error {
	var after eventstore.Position
	for rec, err := range l.store.SubscribeAll(ctx, after) {
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("audit log: %w", err)
		}
		var meta struct {
			Hash string `json:"hash"`
		}
		if err := gojson.Unmarshal(rec.Metadata, &meta); err != nil || meta.Hash == "" {
			return fmt.Errorf("audit log: %s@%d has no chain hash", rec.Stream, rec.Version)
		}
		h, err := codec.ParseHash(meta.Hash)
		if err != nil {
			return fmt.Errorf("audit log: %s@%d: %w", rec.Stream, rec.Version, err)
		}
		l.mu.Lock()
		l.tree.Append(merkle.LeafHash(h[:]))
		l.positions = append(l.positions, rec.Position)
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
	}
	return ctx.Err()
}

// WaitFor waits until the tree holds the event at position p.
func (l *Log) WaitFor(ctx context.Context, p eventstore.Position) error {
	for {
		l.mu.RLock()
		n := len(l.positions)
		done := n > 0 && l.positions[n-1].Compare(p) >= 0
		ch := l.changed
		l.mu.RUnlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// Checkpoint is a signed tree head.
type Checkpoint struct {
	Size      uint64
	Root      merkle.Hash
	Time      time.Time
	Signature []byte
}

// Body is the text the signature covers.
func (c Checkpoint) Body() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n%s\n", Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]), c.Time.UTC().Format(time.RFC3339))
}

// Verify checks the checkpoint's signature with the log's public key.
func (c Checkpoint) Verify(pub ed25519.PublicKey) error {
	if !ed25519.Verify(pub, c.Body(), c.Signature) {
		return errors.New("audit log: the checkpoint's signature does not verify")
	}
	return nil
}

// PublicKey is the key checkpoints verify with.
func (l *Log) PublicKey() ed25519.PublicKey { return l.key.Public().(ed25519.PublicKey) }

// Checkpoint signs the tree as it stands.
func (l *Log) Checkpoint(now time.Time) (Checkpoint, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	root, err := merkle.Root(&l.tree, l.tree.Len())
	if err != nil {
		return Checkpoint{}, err
	}
	c := Checkpoint{Size: l.tree.Len(), Root: root, Time: now.UTC().Truncate(time.Second)}
	c.Signature = ed25519.Sign(l.key, c.Body())
	return c, nil
}

// ErrNoSuchEvent: no event at that position, or a tree size beyond the log.
var ErrNoSuchEvent = errors.New("no event at that position in the log")

// Inclusion is an event's place in a tree and its audit path.
type Inclusion struct {
	Index    uint64
	TreeSize uint64
	LeafHash merkle.Hash
	Path     []merkle.Hash
}

// InclusionProof proves the event at position p is in the tree of size
// (0: the tree as it stands).
func (l *Log) InclusionProof(p eventstore.Position, size uint64) (Inclusion, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	i := sort.Search(len(l.positions), func(i int) bool { return l.positions[i].Compare(p) >= 0 })
	if i == len(l.positions) || l.positions[i].Compare(p) != 0 {
		return Inclusion{}, fmt.Errorf("%w: %s", ErrNoSuchEvent, p)
	}
	if size == 0 {
		size = l.tree.Len()
	}
	if uint64(i) >= size || size > l.tree.Len() {
		return Inclusion{}, fmt.Errorf("%w: event %d is not in a tree of %d", ErrNoSuchEvent, i, size)
	}
	path, err := merkle.InclusionProof(&l.tree, uint64(i), size)
	if err != nil {
		return Inclusion{}, err
	}
	leaf, _ := l.tree.Leaf(uint64(i))
	return Inclusion{Index: uint64(i), TreeSize: size, LeafHash: leaf, Path: path}, nil
}

// ConsistencyProof proves the tree of size from is a prefix of the tree of
// size to.
func (l *Log) ConsistencyProof(from, to uint64) ([]merkle.Hash, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if from == 0 || from > to || to > l.tree.Len() {
		return nil, fmt.Errorf("%w: sizes %d and %d of a log of %d", ErrNoSuchEvent, from, to, l.tree.Len())
	}
	return merkle.ConsistencyProof(&l.tree, from, to)
}

// ParseSize reads a tree size.
func ParseSize(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) }
