// Package e2e runs the real customerd over HTTP: TestMain builds customerd and
// customerctl once; each test starts its own server on its own data directory,
// usually with a private redis-server, and drives it with a typed client.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/projections/redistest"
)

var bin string // directory holding the built binaries

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "customerd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	for _, cmd := range []string{"customerd", "customerctl"} {
		build := exec.Command("go", "build", "-race", "-o", filepath.Join(dir, cmd), "github.com/fieldservice/customer-service/cmd/"+cmd)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", cmd+":", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running customerd of a test.
type server struct {
	t     *testing.T
	data  string
	args  []string
	cmd   *exec.Cmd
	url   string
	admin string // the admin token customerd wrote on first start
	logs  *logBuffer
	exit  chan error
	redis *redistest.Server // nil in embedded mode
	env   []string          // added to the environment
}

// startServer runs customerd on a fresh data directory, with a private
// redis-server unless embedded is set, and waits until it is ready.
func startServer(t *testing.T, embedded bool, extra ...string) *server {
	t.Helper()
	s := &server{t: t, data: t.TempDir()}
	s.args = append([]string{"--data", s.data, "--addr", "127.0.0.1:0"}, extra...)
	if !embedded {
		s.redis = redistest.Start(t)
		s.args = append(s.args, "--redis", "redis://"+s.redis.Addr)
	}
	s.start(t)
	t.Cleanup(func() {
		s.kill(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("customerd's log:\n%s", s.logs)
		}
	})
	b, err := os.ReadFile(filepath.Join(s.data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	s.admin = strings.TrimSpace(string(b))
	return s
}

var servingLine = regexp.MustCompile(`"msg":"customerd serving","addr":"([^"]+)"`)

// start runs the binary and waits for it to listen, then to be ready.
func (s *server) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "customerd"), s.args...)
	cmd.Env = append(append(os.Environ(), "GORACE=halt_on_error=1"), s.env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd, s.logs, s.exit = cmd, &logBuffer{}, make(chan error, 1)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.logs.add(line)
			if m := servingLine.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		s.exit <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		s.url = "http://" + a
	case err := <-s.exit:
		t.Fatalf("customerd exited at start: %v\n%s", err, s.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("customerd did not start within 60 s\n%s", s.logs)
	}
	s.waitReady(t, true)
}

// logBuffer keeps the server's log lines; the reader goroutine and the test share it.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) add(line string) {
	l.mu.Lock()
	l.b.WriteString(line + "\n")
	l.mu.Unlock()
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// kill sends sig and waits for the process to end.
func (s *server) kill(sig syscall.Signal) error {
	if s.cmd == nil {
		return nil
	}
	s.cmd.Process.Signal(sig)
	err := <-s.exit
	s.cmd = nil
	return err
}

// waitReady waits, up to 60 s, until /readyz answers 200 (ready) or 503 (not).
func (s *server) waitReady(t *testing.T, ready bool) {
	t.Helper()
	want := http.StatusServiceUnavailable
	if ready {
		want = http.StatusOK
	}
	eventually(t, 60*time.Second, fmt.Sprintf("/readyz answering %d", want), func() bool {
		r, err := http.Get(s.url + "/readyz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == want
	})
}

// eventually polls cond until it holds or the deadline passes. It is for what
// another process does, which offers nothing to wait on but its answers.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ctl runs customerctl against the server's data directory and returns stdout.
func (s *server) ctl(t *testing.T, args ...string) string {
	t.Helper()
	// Flags go before the positional arguments, where Go's flag package reads them.
	args = append(append(slices.Clone(args[:2]), "--data", s.data), args[2:]...)
	cmd := exec.Command(filepath.Join(bin, "customerctl"), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("customerctl %v: %v\n%s", args, err, errOut.String())
	}
	return strings.TrimSpace(out.String())
}

// token issues a token for role with customerctl.
func (s *server) token(t *testing.T, role string) string {
	t.Helper()
	return s.ctl(t, "token", "create", "--role", role, "--name", "e2e "+role)
}

// answer is an HTTP answer read whole.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.Body, v); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", a.Status, err, a.Body)
	}
}

// call sends one request. It returns an error rather than failing, so that
// goroutines and fault tests can use it.
func (s *server) call(method, path, token string, body any, header map[string]string) (answer, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{}, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, rd)
	if err != nil {
		return answer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
}

func (s *server) do(t *testing.T, method, path, token string, body any, header map[string]string) answer {
	t.Helper()
	a, err := s.call(method, path, token, body, header)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return a
}

// write is the body of a write's answer.
type write struct {
	ID       string `json:"id"`
	Version  uint64 `json:"version"`
	Position string `json:"position"`
}

func (s *server) register(t *testing.T, details map[string]any) write {
	t.Helper()
	a := s.do(t, "POST", "/v1/customers", s.admin, details, nil)
	if a.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", a.Status, a.Body)
	}
	var w write
	a.decode(t, &w)
	return w
}

// searchIDs returns the customer ids a search finds once the index reflects pos.
func (s *server) searchIDs(t *testing.T, token, query, pos string) []string {
	t.Helper()
	a := s.do(t, "GET", "/v1/customers?include_archived=false&q="+query, token, nil, map[string]string{"X-Min-Position": pos})
	if a.Status != http.StatusOK {
		t.Fatalf("search %q: %d %s", query, a.Status, a.Body)
	}
	var page struct {
		Items []struct {
			CustomerID string `json:"customer_id"`
		}
	}
	a.decode(t, &page)
	var ids []string
	for _, it := range page.Items {
		if !slices.Contains(ids, it.CustomerID) {
			ids = append(ids, it.CustomerID)
		}
	}
	return ids
}

func person(first, last, email string) map[string]any {
	return map[string]any{"kind": "person", "first_name": first, "last_name": last, "email": email,
		"phones":    []map[string]any{{"number": "(555) 013-4567", "type": "mobile"}},
		"addresses": []map[string]any{{"type": "service", "street": "12 Baker Street", "city": "Springfield"}}}
}

var generation = regexp.MustCompile(`^(rm:[^:]+:)\d+:`)

// digest fingerprints every read-model key and value in Redis, with generation
// numbers taken out of key names (a rebuild's generation differs, not its
// content), leaving out keys that end in one of skip.
func digest(t *testing.T, addr string, skip ...string) (string, int) {
	t.Helper()
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, k := range keys {
		if strings.HasSuffix(k, ":gen") || strings.HasSuffix(k, ":lease") ||
			slices.ContainsFunc(skip, func(suffix string) bool { return strings.HasSuffix(k, suffix) }) {
			continue // which generation is current, and who projects, are not content
		}
		var v any
		switch typ := c.Type(ctx, k).Val(); typ {
		case "string":
			v = c.Get(ctx, k).Val()
		case "zset":
			v = c.ZRangeWithScores(ctx, k, 0, -1).Val()
		case "hash":
			v = c.HGetAll(ctx, k).Val() // encoding/json sorts map keys
		case "set":
			m := c.SMembers(ctx, k).Val()
			slices.Sort(m)
			v = m
		default:
			t.Fatalf("key %s has type %s, which digest does not read", k, typ)
		}
		b, _ := json.Marshal(v)
		lines = append(lines, generation.ReplaceAllString(k, "${1}G:")+" "+string(b))
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:]), len(lines)
}
