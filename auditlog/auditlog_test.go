package auditlog_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/auditlog"
	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/commands/commandstest"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/merkle"
)

func register(t *testing.T, w commandstest.World, n int) eventstore.Position {
	t.Helper()
	var last eventstore.Position
	for i := range n {
		r, err := w.App.RegisterCustomer.Handle(context.Background(), commands.RegisterCustomer{Meta: commandstest.Coordinator,
			Details: customer.Details{Kind: customer.Company, BusinessName: fmt.Sprintf("Audit %d", i), Email: fmt.Sprintf("a%d-%d@audit.example", i, time.Now().UnixNano())}})
		if err != nil {
			t.Fatal(err)
		}
		last = r.Position
	}
	return last
}

// rootFromTheStore computes the tree head with the standard library only,
// from the document's definition: leaves SHA-256(0x00 || chain hash) in log
// order, nodes SHA-256(0x01 || left || right), split at the largest power of
// two below n.
func rootFromTheStore(t *testing.T, store eventstore.Store) ([32]byte, int) {
	t.Helper()
	var leaves [][32]byte
	for rec, err := range store.ReadAll(context.Background(), eventstore.Position{}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		var meta struct{ Hash string }
		if err := json.Unmarshal(rec.Metadata, &meta); err != nil {
			t.Fatal(err)
		}
		h, err := hex.DecodeString(meta.Hash)
		if err != nil || len(h) != 32 {
			t.Fatalf("hash %q", meta.Hash)
		}
		leaves = append(leaves, sha256.Sum256(append([]byte{0}, h...)))
	}
	var mth func([][32]byte) [32]byte
	mth = func(hs [][32]byte) [32]byte {
		if len(hs) == 1 {
			return hs[0]
		}
		k := 1
		for k*2 < len(hs) {
			k *= 2
		}
		l, r := mth(hs[:k]), mth(hs[k:])
		return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
	}
	return mth(leaves), len(leaves)
}

func TestCheckpointsAndProofs(t *testing.T) {
	w := commandstest.New(t)
	key, created, err := auditlog.LoadOrCreateKey(filepath.Join(t.TempDir(), "checkpoint.key"))
	if err != nil || !created {
		t.Fatalf("key: %v %v", created, err)
	}
	log := auditlog.New(w.Store, key)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = log.Run(ctx) }()

	first := register(t, w, 5)
	if err := log.WaitFor(ctx, first); err != nil {
		t.Fatal(err)
	}
	saved, err := log.Checkpoint(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	last := register(t, w, 7)
	if err := log.WaitFor(ctx, last); err != nil {
		t.Fatal(err)
	}
	now, err := log.Checkpoint(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := now.Verify(log.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(log.PublicKey(), now.Body(), now.Signature) {
		t.Fatal("the signature does not verify with the standard library")
	}
	root, n := rootFromTheStore(t, w.Store)
	if root != now.Root || uint64(n) != now.Size {
		t.Fatalf("tree head %x/%d, computed from the store %x/%d", now.Root, now.Size, root, n)
	}
	// The saved checkpoint is a prefix of today's.
	proof, err := log.ConsistencyProof(saved.Size, now.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := merkle.VerifyConsistency(saved.Size, now.Size, saved.Root, now.Root, proof); err != nil {
		t.Fatalf("consistency %d → %d: %v", saved.Size, now.Size, err)
	}
	// A forged saved checkpoint (another root) is not.
	forged := saved.Root
	forged[0] ^= 1
	if merkle.VerifyConsistency(saved.Size, now.Size, forged, now.Root, proof) == nil {
		t.Fatal("a forged old root verifies")
	}
	// Every event's inclusion in today's tree.
	for rec, err := range w.Store.ReadAll(ctx, eventstore.Position{}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		inc, err := log.InclusionProof(rec.Position, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := merkle.VerifyInclusion(inc.LeafHash, inc.Index, inc.TreeSize, inc.Path, now.Root); err != nil {
			t.Fatalf("%s@%d: %v", rec.Stream, rec.Version, err)
		}
	}
	if _, err := log.InclusionProof(eventstore.Position{Commit: 1 << 40, Prepare: 1 << 40}, 0); err == nil {
		t.Fatal("a proof for a position beyond the log")
	}
	again, created, err := auditlog.LoadOrCreateKey(filepath.Join(t.TempDir(), "other.key"))
	if err != nil || !created || now.Verify(again.Public().(ed25519.PublicKey)) == nil {
		t.Fatal("a checkpoint verifies with another key")
	}
}

// copyLog builds a second store from the first one's events, through edit,
// which may drop an event (nil) or give another: what someone with write
// access to the files could produce.
func copyLog(t *testing.T, from eventstore.Store, edit func(i int, rec eventstore.RecordedEvent) *eventstore.EventData) eventstore.Store {
	t.Helper()
	to := commandstest.New(t).Store
	i := 0
	for rec, err := range from.ReadAll(context.Background(), eventstore.Position{}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		ed := &eventstore.EventData{ID: rec.ID, Type: rec.Type, Data: rec.Data, Metadata: rec.Metadata}
		if edit != nil {
			ed = edit(i, rec)
		}
		i++
		if ed == nil {
			continue
		}
		if _, err := to.Append(context.Background(), rec.Stream, eventstore.Any(), *ed); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// treeOf follows a store to its end and returns its log.
func treeOf(t *testing.T, store eventstore.Store, key ed25519.PrivateKey) *auditlog.Log {
	t.Helper()
	l := auditlog.New(store, key)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = l.Run(ctx) }()
	last, err := store.LastPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitFor(ctx, last); err != nil {
		t.Fatal(err)
	}
	return l
}

// A stream's newest events cut off, or the whole log rewritten with every
// hash recomputed: each stream's chain still verifies, but a checkpoint saved
// before does not verify against the new log.
func TestASavedCheckpointCatchesTruncationAndRewrites(t *testing.T) {
	w := commandstest.New(t)
	register(t, w, 6)
	key, _, _ := auditlog.LoadOrCreateKey(filepath.Join(t.TempDir(), "k"))
	saved, err := treeOf(t, w.Store, key).Checkpoint(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, store eventstore.Store) {
		t.Helper()
		l := treeOf(t, store, key)
		now, _ := l.Checkpoint(time.Now())
		if now.Size < saved.Size {
			return // the log is shorter than what was saved: plainly not an extension
		}
		proof, err := l.ConsistencyProof(saved.Size, now.Size)
		if err != nil {
			t.Fatal(err)
		}
		if merkle.VerifyConsistency(saved.Size, now.Size, saved.Root, now.Root, proof) == nil {
			t.Errorf("%s: the new log passes for an extension of the saved one", name)
		}
	}
	// An untouched copy extended by new events is consistent: the check can pass.
	same := copyLog(t, w.Store, nil)
	l := treeOf(t, same, key)
	now, _ := l.Checkpoint(time.Now())
	if proof, _ := l.ConsistencyProof(saved.Size, now.Size); merkle.VerifyConsistency(saved.Size, now.Size, saved.Root, now.Root, proof) != nil {
		t.Fatal("an untouched copy is not consistent with the saved checkpoint")
	}

	// An event cut out, and a new one appended so that the log is as long
	// as the saved tree again: the chains of the untouched streams verify.
	truncated := copyLog(t, w.Store, func(i int, rec eventstore.RecordedEvent) *eventstore.EventData {
		if uint64(i) == saved.Size-2 {
			return nil
		}
		return &eventstore.EventData{ID: rec.ID, Type: rec.Type, Data: rec.Data, Metadata: rec.Metadata}
	})
	var lastRec eventstore.RecordedEvent
	for rec, err := range w.Store.ReadAll(context.Background(), eventstore.Position{}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		lastRec = rec
	}
	if _, err := truncated.Append(context.Background(), customer.Stream.Name(uuid.NewString()), eventstore.NoStream(),
		eventstore.EventData{ID: uuid.New(), Type: lastRec.Type, Data: lastRec.Data, Metadata: lastRec.Metadata}); err != nil {
		t.Fatal(err)
	}
	check("a cut event", truncated)

	// The whole log rewritten: one customer's registration changed and every
	// event re-encoded and re-chained, so every stream's chain is whole.
	heads := map[string]codec.Head{}
	changed := false
	rewritten := copyLog(t, w.Store, func(_ int, rec eventstore.RecordedEvent) *eventstore.EventData {
		e, meta, err := w.Codec.Decode(context.Background(), rec)
		if err != nil {
			t.Fatal(err)
		}
		if r, ok := e.(customer.Registered); ok && !changed {
			r.Details.BusinessName, changed = "Rewritten Ltd", true
			e = r
		}
		var subject uuid.UUID
		if id, ok := customer.Stream.ID(rec.Stream); ok {
			subject = uuid.MustParse(id)
		}
		data, next, err := w.Codec.Encode(context.Background(), codec.Batch{Stream: rec.Stream, Head: heads[rec.Stream], Subject: subject}, meta, e)
		if err != nil {
			t.Fatal(err)
		}
		heads[rec.Stream] = next
		return &data[0]
	})
	if r, err := codec.VerifyAll(context.Background(), rewritten); err != nil || r.Break != nil {
		t.Fatalf("the rewritten log's chains: %v %v", err, r.Break)
	}
	check("a rewritten log", rewritten)
}
