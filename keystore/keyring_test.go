package keystore_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/keystore"
	"github.com/fieldservice/customer-service/keystore/embedded"
)

func master(t *testing.T) *keystore.MasterKey {
	t.Helper()
	m, err := keystore.NewMasterKey(keystore.GenerateMasterKey())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func keyring(t *testing.T, path string, m *keystore.MasterKey, opts keystore.KeyringOptions) *keystore.Keyring {
	t.Helper()
	s, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	k, err := keystore.NewKeyring(s, m, opts)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sealWith proves two AEADs are the same key: one opens what the other sealed.
func sameKey(t *testing.T, a, b interface {
	Seal(dst, nonce, plaintext, ad []byte) []byte
	Open(dst, nonce, ciphertext, ad []byte) ([]byte, error)
}) bool {
	t.Helper()
	nonce := make([]byte, 12)
	_, err := b.Open(nil, nonce, a.Seal(nil, nonce, []byte("probe"), nil), nil)
	return err == nil
}

func TestDataKeysAreCreatedOnceAndSurviveReopen(t *testing.T) {
	t.Parallel()
	dir, m, ctx := t.TempDir(), master(t), context.Background()
	path := filepath.Join(dir, "keys")
	s, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := keystore.NewKeyring(s, m, keystore.KeyringOptions{})
	id := uuid.New()
	if _, err := k.DataKey(ctx, id); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("DataKey before creation: %v", err)
	}
	a, err := k.CreateDataKey(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := k.CreateDataKey(ctx, id)
	other, _ := k.CreateDataKey(ctx, uuid.New())
	if !sameKey(t, a, again) || sameKey(t, a, other) {
		t.Fatal("CreateDataKey must return the existing key, and each id its own")
	}
	s.Close()
	k2 := keyring(t, path, m, keystore.KeyringOptions{})
	b, err := k2.DataKey(ctx, id)
	if err != nil || !sameKey(t, a, b) {
		t.Fatalf("after reopen: %v", err)
	}
	if hits, misses := k2.CacheStats(); hits != 0 || misses != 1 {
		t.Fatalf("cache stats %d/%d, want 0 hits, 1 miss", hits, misses)
	}
	k2.DataKey(ctx, id)
	if hits, _ := k2.CacheStats(); hits != 1 {
		t.Fatalf("a second DataKey missed the cache")
	}
}

func TestDestroyedKeyIsGoneFromCacheAndStore(t *testing.T) {
	t.Parallel()
	k, ctx := keyring(t, filepath.Join(t.TempDir(), "keys"), master(t), keystore.KeyringOptions{}), context.Background()
	id := uuid.New()
	if _, err := k.CreateDataKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	k.DataKey(ctx, id) // cached
	if err := k.Destroy(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := k.DataKey(ctx, id); !errors.Is(err, keystore.ErrDestroyed) {
		t.Fatalf("DataKey after Destroy: %v", err)
	}
	if _, err := k.CreateDataKey(ctx, id); !errors.Is(err, keystore.ErrDestroyed) {
		t.Fatalf("CreateDataKey after Destroy: %v, want ErrDestroyed (no new key for an erased customer)", err)
	}
	if err := k.Destroy(ctx, id); !errors.Is(err, keystore.ErrDestroyed) {
		t.Fatalf("second Destroy: %v", err)
	}
}

func TestWrappedKeysAreBoundToTheirIDAndMaster(t *testing.T) {
	t.Parallel()
	s, err := embedded.Open(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := master(t)
	k, _ := keystore.NewKeyring(s, m, keystore.KeyringOptions{})
	ctx, a, b := context.Background(), uuid.New(), uuid.New()
	k.CreateDataKey(ctx, a)
	k.CreateDataKey(ctx, b)
	stranger, _ := keystore.NewKeyring(s, master(t), keystore.KeyringOptions{})
	if _, err := stranger.DataKey(ctx, a); !errors.Is(err, keystore.ErrWrongMaster) {
		t.Fatalf("another master key: %v, want ErrWrongMaster", err)
	}
	wa, _ := s.Get(ctx, a)
	wb, _ := s.Get(ctx, b)
	if err := s.Replace(ctx, b, wb, wa); err != nil { // copy a's wrapped key over b's
		t.Fatal(err)
	}
	fresh, _ := keystore.NewKeyring(s, m, keystore.KeyringOptions{}) // empty cache
	if _, err := fresh.DataKey(ctx, b); !errors.Is(err, keystore.ErrCorrupt) {
		t.Fatalf("a wrapped key moved to another id: %v, want ErrCorrupt", err)
	}
}

func TestRotationRewrapsEverythingAndRetiresTheOldKey(t *testing.T) {
	t.Parallel()
	path, ctx := filepath.Join(t.TempDir(), "keys"), context.Background()
	oldM, newM := master(t), master(t)
	s, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := keystore.NewKeyring(s, oldM, keystore.KeyringOptions{})
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	keys := map[uuid.UUID]interface {
		Seal(dst, nonce, plaintext, ad []byte) []byte
		Open(dst, nonce, ciphertext, ad []byte) ([]byte, error)
	}{}
	for _, id := range ids {
		a, _ := k.CreateDataKey(ctx, id)
		keys[id] = a
	}
	index, _ := k.IndexKey(ctx)
	k.Destroy(ctx, ids[2])
	before, _ := s.Get(ctx, ids[0])
	n, err := k.Rotate(ctx, newM)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 { // two live data keys and the index key
		t.Fatalf("rotated %d keys, want 3", n)
	}
	if k.MasterKeyID() != newM.ID() {
		t.Fatal("the keyring still wraps with the old master key")
	}
	s.Close()

	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, before[9:]) {
		t.Fatal("the key wrapped by the old master key is still in the file")
	}
	s2, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	withOld, _ := keystore.NewKeyring(s2, oldM, keystore.KeyringOptions{})
	if _, err := withOld.DataKey(ctx, ids[0]); !errors.Is(err, keystore.ErrWrongMaster) {
		t.Fatalf("the old master key after rotation: %v, want ErrWrongMaster", err)
	}
	withNew, _ := keystore.NewKeyring(s2, newM, keystore.KeyringOptions{})
	if a, err := withNew.DataKey(ctx, ids[0]); err != nil || !sameKey(t, a, keys[ids[0]]) {
		t.Fatalf("the new master key does not give the same data key: %v", err)
	}
	if _, err := withNew.DataKey(ctx, ids[2]); !errors.Is(err, keystore.ErrDestroyed) {
		t.Fatalf("a destroyed key after rotation: %v", err)
	}
	if idx, err := withNew.IndexKey(ctx); err != nil || !bytes.Equal(idx, index) {
		t.Fatal("the index key changed with the master key: every reservation name would change")
	}
}

func TestCutShortRotationIsFinishedWithThePreviousKey(t *testing.T) {
	t.Parallel()
	path, ctx := filepath.Join(t.TempDir(), "keys"), context.Background()
	oldM, newM := master(t), master(t)
	s, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k, _ := keystore.NewKeyring(s, oldM, keystore.KeyringOptions{})
	id := uuid.New()
	a, _ := k.CreateDataKey(ctx, id)

	// Restarted with the new key before any key was rewrapped.
	resumed, _ := keystore.NewKeyring(s, newM, keystore.KeyringOptions{Previous: []*keystore.MasterKey{oldM}})
	if b, err := resumed.DataKey(ctx, id); err != nil || !sameKey(t, a, b) {
		t.Fatalf("reading a key still wrapped by the previous master key: %v", err)
	}
	if n, err := resumed.Rotate(ctx, newM); err != nil || n != 1 {
		t.Fatalf("finishing the rotation: %d keys, %v", n, err)
	}
	plain, _ := keystore.NewKeyring(s, newM, keystore.KeyringOptions{})
	if _, err := plain.DataKey(ctx, id); err != nil {
		t.Fatalf("after the rotation the new key alone must do: %v", err)
	}
}

func TestMasterKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "master.key")
	m, created, err := keystore.LoadOrCreateMasterKeyFile(path)
	if err != nil || !created {
		t.Fatalf("first start: created=%v, %v", created, err)
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", info.Mode().Perm())
	}
	again, created, err := keystore.LoadOrCreateMasterKeyFile(path)
	if err != nil || created || again.ID() != m.ID() {
		t.Fatalf("second start: created=%v, same=%v, %v", created, again != nil && again.ID() == m.ID(), err)
	}
	os.Chmod(path, 0o644)
	if _, _, err := keystore.LoadOrCreateMasterKeyFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable key file: %v", err)
	}
}

func TestParseMasterKey(t *testing.T) {
	t.Parallel()
	raw := keystore.GenerateMasterKey()
	want, _ := keystore.NewMasterKey(raw)
	for _, s := range []string{keystore.EncodeMasterKey(raw), " " + keystore.EncodeMasterKey(raw) + "\n", strings.TrimRight(keystore.EncodeMasterKey(raw), "="),
		hex.EncodeToString(raw)} {
		m, err := keystore.ParseMasterKey(s)
		if err != nil || m.ID() != want.ID() {
			t.Fatalf("ParseMasterKey(%q): %v", s, err)
		}
	}
	secret := "c2VjcmV0LWJ1dC10b28tc2hvcnQ="
	_, err := keystore.ParseMasterKey(secret)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("a short key: %v (the error must not quote it)", err)
	}
}
