package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fieldservice/customer-service/projections/redistest"
)

// TestFullDisk fills the data directory (a 24 MB tmpfs) with 16 clients
// registering over HTTP. Writes that do not fit are told the event store (or
// the key file) is full, not that the read models are down; /readyz reports
// the store; every acknowledged customer survives a restart; and writes
// resume, without a restart, once space is freed. It needs root to mount the
// tmpfs, as CI has.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })
	// Room to free later: a file the store does not own.
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 4<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(mnt, "data")
	s := &server{t: t, data: data, redis: redistest.Start(t)}
	s.args = []string{"--data", data, "--addr", "127.0.0.1:0", "--redis", "redis://" + s.redis.Addr, "--min-free-space", "1048576"}
	s.start(t)
	t.Cleanup(func() {
		s.kill(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("customerd's log:\n%s", s.logs)
		}
	})
	b, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	s.admin = strings.TrimSpace(string(b))

	// 16 clients register until each has been told twice that the disk is full.
	var mu sync.Mutex
	var acked []string
	codes := map[string]int{}
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Go(func() {
			full := 0
			for i := 0; full < 2 && i < 20_000; i++ {
				d := person(fmt.Sprintf("Filler%d", c), fmt.Sprintf("Number%06d", i), fmt.Sprintf("f%d.%d@example.org", c, i))
				d["description"] = strings.Repeat("x", 2000) // fill faster
				a, err := s.call("POST", "/v1/customers", s.admin, d, nil)
				if err != nil {
					t.Errorf("register: %v", err)
					return
				}
				mu.Lock()
				switch a.Status {
				case http.StatusCreated:
					var w write
					if json.Unmarshal(a.Body, &w) == nil {
						acked = append(acked, w.ID)
					}
				default:
					var p struct{ Code string }
					_ = json.Unmarshal(a.Body, &p)
					codes[fmt.Sprintf("%d %s", a.Status, p.Code)]++
					if a.Status == http.StatusInsufficientStorage {
						full++
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d customers acknowledged before the disk filled; refusals: %v", len(acked), codes)
	for code := range codes {
		if !strings.HasPrefix(code, "507 event-store-full") && !strings.HasPrefix(code, "507 key-store-full") {
			t.Errorf("a write on a full disk was answered %q", code)
		}
	}
	if len(acked) == 0 || len(codes) == 0 {
		t.Fatalf("the test filled nothing: %d acknowledged, refusals %v", len(acked), codes)
	}
	if r, err := http.Get(s.url + "/readyz"); err != nil || r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz on a full disk: %v %v", r, err)
	}

	// Freed space: writes resume without a restart, and readiness comes back.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "a registration after space was freed", func() bool {
		a, err := s.call("POST", "/v1/customers", s.admin, person("After", "Freed", "after.freed@example.org"), nil)
		if err == nil && a.Status == http.StatusCreated {
			var w write
			_ = json.Unmarshal(a.Body, &w)
			acked = append(acked, w.ID)
			return true
		}
		return false
	})
	s.waitReady(t, true)

	// Every acknowledged customer is there after a restart.
	if err := s.kill(syscall.SIGTERM); err != nil {
		t.Logf("customerd's exit: %v", err)
	}
	s.start(t)
	for _, id := range acked {
		if a := s.do(t, "GET", "/v1/customers/"+id, s.admin, nil, nil); a.Status != http.StatusOK {
			t.Fatalf("acknowledged customer %s after the restart: %d %s", id, a.Status, a.Body)
		}
	}
}
