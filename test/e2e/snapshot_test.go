package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const viewGeneration = `customerd_projection_generation{projection="customers-v1"}`

// In embedded mode with redis-server on PATH, the read models are saved in the
// data directory: a restart after a clean stop loads them (the same generation,
// no rebuild) and catches up; a snapshot that cannot be loaded is set aside and
// the read models are rebuilt, complete.
func TestEmbeddedSnapshotSurvivesRestartsAndIsNotTrustedBlindly(t *testing.T) {
	t.Parallel()
	s := startServer(t, true)
	var last write
	for _, name := range []string{"Ada", "Grace", "Edsger"} {
		last = s.register(t, person(name, "Snap", strings.ToLower(name)+"@example.com"))
	}
	s.caughtUp(t, last)
	gen := s.metric(t, viewGeneration)

	if err := s.kill(syscall.SIGTERM); err != nil {
		t.Fatalf("customerd did not stop cleanly: %v", err)
	}
	s.start(t)
	if !strings.Contains(s.logs.String(), "read models loaded from their snapshot") {
		t.Fatalf("the restart did not load the snapshot:\n%s", s.logs)
	}
	if got := s.metric(t, viewGeneration); got != gen {
		t.Fatalf("the customer view is generation %v after the restart, was %v: it was rebuilt", got, gen)
	}
	last = s.register(t, person("Barbara", "Snap", "barbara@example.com")) // and it goes on
	s.caughtUp(t, last)
	s.listsCustomers(t, last, 4)

	// A torn snapshot: set aside, rebuilt, nothing lost.
	if err := s.kill(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rdb := filepath.Join(s.data, "redis", "readmodels.rdb")
	b, err := os.ReadFile(rdb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rdb, b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	if !strings.Contains(s.logs.String(), "could not be loaded: set aside, rebuilding") {
		t.Fatalf("a torn snapshot was not reported:\n%s", s.logs)
	}
	if got := s.metric(t, viewGeneration); got == gen {
		t.Fatal("the customer view kept its generation after its snapshot was torn")
	}
	s.listsCustomers(t, last, 4)
	aside, _ := filepath.Glob(rdb + ".unreadable-*")
	if len(aside) != 1 {
		t.Fatalf("the torn snapshot was not kept aside: %v", aside)
	}
}

// listsCustomers checks the customer list holds n customers at pos.
func (s *server) listsCustomers(t *testing.T, at write, n int) {
	t.Helper()
	a := s.do(t, "GET", "/v1/customers?limit=100", s.admin, nil, map[string]string{"X-Min-Position": at.Position})
	var page struct{ Items []struct{ ID string } }
	a.decode(t, &page)
	if a.Status != http.StatusOK || len(page.Items) != n {
		t.Fatalf("the list holds %d customers (%d), want %d", len(page.Items), a.Status, n)
	}
}
