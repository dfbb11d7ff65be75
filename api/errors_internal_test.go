package api

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"

	"github.com/fieldservice/customer-service/eventstore"
)

// TestStoreFailuresAreNamed: a full disk under the event log or the key file,
// and another I/O failure of the store, each get their own problem, not the
// read models' (a syscall.Errno is a net.Error too).
func TestStoreFailuresAreNamed(t *testing.T) {
	full := &os.PathError{Op: "write", Path: "data/events.db", Err: syscall.ENOSPC}
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{&eventstore.Error{Op: "append", Stream: "customer-1", Err: fmt.Errorf("commit: %w", full)}, http.StatusInsufficientStorage, "event-store-full"},
		{fmt.Errorf("register: data key: key file: %w", &os.PathError{Op: "write", Path: "data/keys.db", Err: syscall.ENOSPC}), http.StatusInsufficientStorage, "key-store-full"},
		{&eventstore.Error{Op: "append", Stream: "customer-1", Err: &os.PathError{Op: "write", Path: "data/events.db", Err: syscall.EIO}}, http.StatusServiceUnavailable, "event-store-failed"},
		{fmt.Errorf("redis: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), http.StatusServiceUnavailable, "read-model-unavailable"},
		{errors.New("something else"), http.StatusInternalServerError, "internal"},
	} {
		if p := problemOf(c.err); p.Status != c.status || p.Code != c.code {
			t.Errorf("%v: %d %s, want %d %s", c.err, p.Status, p.Code, c.status, c.code)
		}
	}
}
