package embedded_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/eventstore/embedded"
)

// crashChildEnv makes the test binary act as the crashing writer.
const crashChildEnv = "EMBEDDED_CRASH_CHILD_PATH"

// ack is what the child prints for every acknowledged append.
type ack struct {
	stream  string
	version uint64 // of the append's last event
	pos     uint64
	ids     []string
}

// TestCrashKeepsAcknowledgedAppends starts a child process appending from many
// goroutines, SIGKILLs it mid-stream, then reopens the file: every append the child
// reported as acknowledged must be there, in order, and the file must check clean.
func TestCrashKeepsAcknowledgedAppends(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "events.db")
	for round := range 3 { // kill the same file several times: recovery must compose
		acks := runAndKill(t, path, 2000)
		s, err := embedded.Open(embedded.Config{Path: path})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		if err := s.CheckIntegrity(); err != nil {
			t.Fatalf("round %d: file damaged after SIGKILL: %v", round, err)
		}
		verifyAcks(t, s, acks)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func runAndKill(t *testing.T, path string, killAfter int) []ack {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsAcknowledgedAppends$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acks []ack
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || f[0] == "" {
			continue // the test framework's own output
		}
		var a ack
		a.stream = f[0]
		fmt.Sscan(f[1], &a.version)
		fmt.Sscan(f[2], &a.pos)
		a.ids = strings.Split(f[3], ",")
		acks = append(acks, a)
		if len(acks) == killAfter && !killed {
			// Kill while appends are in flight; lines already written still arrive.
			_ = cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited after %d acks before it could be killed: %v", len(acks), err)
	}
	return acks
}

func verifyAcks(t *testing.T, s *embedded.Store, acks []ack) {
	t.Helper()
	ctx := t.Context()
	byStream := map[string][]eventstore.RecordedEvent{}
	for _, a := range acks {
		if _, ok := byStream[a.stream]; ok {
			continue
		}
		for e, err := range s.ReadStream(ctx, a.stream, eventstore.ReadOptions{}) {
			if err != nil {
				t.Fatalf("acknowledged stream %s: %v", a.stream, err)
			}
			byStream[a.stream] = append(byStream[a.stream], e)
		}
	}
	for _, a := range acks {
		events := byStream[a.stream]
		if uint64(len(events)) < a.version {
			t.Fatalf("%s: acknowledged up to version %d, file holds %d events", a.stream, a.version, len(events))
		}
		first := a.version - uint64(len(a.ids)) + 1
		for i, id := range a.ids {
			e := events[first-1+uint64(i)]
			if e.ID.String() != id {
				t.Fatalf("%s@%d is %s, acknowledged %s", a.stream, e.Version, e.ID, id)
			}
		}
		if last := events[a.version-1]; last.Position.Commit != a.pos {
			t.Fatalf("%s@%d at position %v, acknowledged at %d", a.stream, a.version, last.Position, a.pos)
		}
	}
}

// crashChild appends until killed: 32 writers, each to streams of its own, 1–3
// events an append, printing one line per acknowledged append.
func crashChild(path string) {
	// Flush the indexes often, so the kill finds some on disk and some only in memory.
	s, err := embedded.Open(embedded.Config{Path: path, FlushEvents: 300})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("crash-%d-%s", g, uuid.NewString())
			version := uint64(0)
			payload := strings.Repeat("x", 300)
			for i := 0; ; i++ {
				n := 1 + i%3
				es := make([]eventstore.EventData, n)
				ids := make([]string, n)
				for j := range es {
					es[j] = eventstore.EventData{ID: uuid.Must(uuid.NewV7()), Type: "Crashed", Data: []byte(`{"p":"` + payload + `"}`)}
					ids[j] = es[j].ID.String()
				}
				res, err := s.Append(context.Background(), stream, eventstore.Exact(version), es...)
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(2)
				}
				version = res.Version
				mu.Lock()
				fmt.Fprintf(w, "%s %d %d %s\n", stream, res.Version, res.Position.Commit, strings.Join(ids, ","))
				_ = w.Flush() // an ack reaches the parent only after the append returned
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
