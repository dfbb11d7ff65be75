package embedded_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/eventstore/embedded"
	"github.com/fieldservice/customer-service/eventstore/storetest"
)

func openStore(t *testing.T, path string) *embedded.Store {
	t.Helper()
	return openStoreConfig(t, embedded.Config{Path: path})
}

func openStoreConfig(t *testing.T, cfg embedded.Config) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestContract(t *testing.T) {
	// The stream and id indexes live partly in memory until flushed: run the suite
	// with the defaults (rarely flushed) and flushing after every commit.
	for name, cfg := range map[string]embedded.Config{
		"defaults":          {},
		"flush every event": {FlushEvents: 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			open := func(t *testing.T, path string) eventstore.Store {
				cfg := cfg
				cfg.Path = path
				return openStoreConfig(t, cfg)
			}
			storetest.Run(t, storetest.Harness{
				New: func(t *testing.T) eventstore.Store { return open(t, filepath.Join(t.TempDir(), "events.db")) },
				Reopen: func(t *testing.T, s eventstore.Store) eventstore.Store {
					path := s.(*embedded.Store).Path()
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					return open(t, path)
				},
			})
		})
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	_, err := embedded.Open(embedded.Config{MaxBatch: -1, OpenTimeout: -1})
	if err == nil {
		t.Fatal("Open accepted an empty path and negative limits")
	}
	for _, want := range []string{"path is required", "max batch", "open timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("config error %q does not mention %q", err, want)
		}
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "events.db"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Append(t.Context(), "s-1", eventstore.Any(), eventstore.EventData{ID: [16]byte{1}, Type: "E"})
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("append to a closed store: got %v, want ErrUnavailable", err)
	}
}

func TestSecondOpenOfOneFileTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	openStore(t, path)
	if _, err := embedded.Open(embedded.Config{Path: path, OpenTimeout: 50e6}); err == nil {
		t.Fatal("a second Open of a file in use succeeded")
	}
}
