package embedded_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/keystore"
	"github.com/fieldservice/customer-service/keystore/embedded"
	"github.com/fieldservice/customer-service/keystore/keystoretest"
)

func open(t *testing.T, path string) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	keystoretest.Run(t, keystoretest.Harness{
		New: func(t *testing.T) keystore.Store { return open(t, filepath.Join(t.TempDir(), "keys")) },
		Reopen: func(t *testing.T, s keystore.Store) keystore.Store {
			path := s.(*embedded.Store).Path()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, path)
		},
	})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestDestroyLeavesNoCopyInTheFile is the reason this adapter exists: after a
// Destroy, the wrapped key's bytes are nowhere in the file.
func TestDestroyLeavesNoCopyInTheFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys")
	s, ctx := open(t, path), context.Background()
	keep, gone := uuid.New(), uuid.New()
	kw, gw, rw := randomBytes(69), randomBytes(69), randomBytes(69)
	if err := s.Create(ctx, keep, kw); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, gone, gw); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(ctx, keep, kw, rw); err != nil {
		t.Fatal(err)
	}
	if err := s.Destroy(ctx, gone); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, rw) {
		t.Fatal("the live key is not in the file: the scan below would prove nothing")
	}
	for name, b := range map[string][]byte{"destroyed": gw, "replaced": kw} {
		if bytes.Contains(raw, b[:16]) {
			t.Fatalf("the %s wrapped key is still in the file", name)
		}
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", info.Mode().Perm())
	}
}

func TestTornAppendIsDropped(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys")
	s, ctx := open(t, path), context.Background()
	id, w := uuid.New(), randomBytes(69)
	if err := s.Create(ctx, id, w); err != nil {
		t.Fatal(err)
	}
	s.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(append([]byte{1, 69}, randomBytes(60)...)) // half a slot, as a crash mid-append leaves
	f.Close()
	s = open(t, path)
	if got, err := s.Get(ctx, id); err != nil || !bytes.Equal(got, w) {
		t.Fatalf("key before the torn append: %x, %v", got, err)
	}
	next := uuid.New()
	if err := s.Create(ctx, next, randomBytes(69)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, path)
	if _, err := s.Get(ctx, next); err != nil {
		t.Fatalf("a key written over the torn tail: %v", err)
	}
}

func TestCorruptSlotIsReported(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys")
	s, ctx := open(t, path), context.Background()
	for range 3 {
		if err := s.Create(ctx, uuid.New(), randomBytes(69)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xff}, 128+40) // a byte inside the first key's slot
	f.Close()
	_, err = embedded.Open(path)
	if !errors.Is(err, keystore.ErrCorrupt) {
		t.Fatalf("opening a file with a damaged slot: %v, want ErrCorrupt", err)
	}
}

func TestOneProcessAtATime(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys")
	open(t, path)
	if s, err := embedded.Open(path); err == nil {
		s.Close()
		t.Fatal("a second Open of a key file in use succeeded")
	}
}

func TestNotAKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), 256), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := embedded.Open(path); !errors.Is(err, keystore.ErrCorrupt) {
		t.Fatalf("opening a file that is not a key file: %v", err)
	}
}
