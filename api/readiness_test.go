package api_test

import (
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fieldservice/customer-service/api"
	"github.com/fieldservice/customer-service/eventstore"
)

// TestReadinessSeesTheStore: /readyz reports the store as failing while the
// data directory is nearly full or an append recently failed to be written,
// and recovers by itself; /metrics shows both.
func TestReadinessSeesTheStore(t *testing.T) {
	var free atomic.Uint64
	free.Store(1 << 30)
	m := api.NewMetrics()
	f := newFixture(t, func(c *api.Config) {
		c.FreeSpace = func() (uint64, error) { return free.Load(), nil }
		c.Metrics = m
		c.WriteFailureWindow = time.Hour
	})
	ready := func() (int, string) {
		r := f.do(t, req{method: "GET", path: "/readyz"})
		return r.Status, string(r.Body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for status, _ := ready(); status != 200; status, _ = ready() {
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	free.Store(1 << 20)
	if status, body := ready(); status != 503 || !strings.Contains(body, "1 MiB free in the data directory") {
		t.Errorf("1 MiB free: %d %s", status, body)
	}
	free.Store(1 << 30)
	if status, body := ready(); status != 200 {
		t.Errorf("space freed: %d %s", status, body)
	}
	m.ObserveAppend(time.Millisecond, &eventstore.Error{Op: "append", Stream: "customer-1", Err: syscall.ENOSPC})
	m.ObserveAppend(time.Millisecond, &eventstore.Error{Op: "append", Stream: "customer-1", Err: eventstore.ErrWrongVersion})
	if status, body := ready(); status != 503 || !strings.Contains(body, "an append failed to be written") {
		t.Errorf("after a failed write: %d %s", status, body)
	}
	metrics := string(f.do(t, req{method: "GET", path: "/metrics"}).Body)
	for _, want := range []string{"customerd_store_write_errors_total 1", "customerd_data_free_bytes 1.073741824e+09"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
