// Package durable writes small files so that a crash leaves the old content or
// the new, never a torn file: the key file, the token file, snapshots. Each
// write goes to a temporary file beside the target, is synced, then takes the
// target's name in one step, and the directory is synced so that the name
// survives a power cut too.
package durable

import (
	"os"
	"path/filepath"
)

// WriteFile replaces path with data (mode 0600).
func WriteFile(path string, data []byte) error {
	return write(path, data, os.Rename)
}

// CreateFile creates path with data (mode 0600), failing with an error matching
// fs.ErrExist if it exists: of two processes that create one file at once,
// exactly one succeeds, and the file is never seen half-written.
func CreateFile(path string, data []byte) error {
	return write(path, data, os.Link) // link(2), unlike rename(2), refuses an existing name
}

func write(path string, data []byte, place func(tmp, path string) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a rename it is gone already; after a link, the name left over
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := place(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
