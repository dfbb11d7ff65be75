package durable_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/fieldservice/customer-service/internal/durable"
)

func TestWriteReplacesAndCreateRefusesExisting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := durable.CreateFile(path, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := durable.CreateFile(path, []byte("two")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("creating an existing file: %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Fatalf("after a refused create: %q", b)
	}
	if err := durable.WriteFile(path, []byte("three")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	info, _ := os.Stat(path)
	if string(b) != "three" || info.Mode().Perm() != 0o600 {
		t.Fatalf("after a write: %q, mode %v", b, info.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}
