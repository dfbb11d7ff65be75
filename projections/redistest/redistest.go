// Package redistest starts private Redis servers for tests: a real redis-server
// on a free port (the read models run on it in production), or the in-process
// miniredis the embedded mode uses. Both give a *redis.Client; tests run the same
// cases on each.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Server is a running redis-server of a test.
type Server struct {
	Addr string
	dir  string
	port int
	cmd  *exec.Cmd
}

// Start runs redis-server on a free loopback port, without persistence, and stops
// it when the test ends. It fails the test when redis-server is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed (apt-get install -y redis-server): the read models are tested on a real one")
	}
	s, err := Launch(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Launch runs redis-server on a free loopback port with its files in dir, for
// tools that are not tests (the load tool). Stop it when done.
func Launch(dir string) (*Server, error) {
	s := &Server{dir: dir}
	return s, s.start()
}

func (s *Server) start() error {
	if s.port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		s.port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log"))
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	// Ready when it answers PING; give up after a generous bound.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			fmt.Fprint(c, "PING\r\n")
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err == nil && strings.HasPrefix(line, "+PONG") {
				return nil
			}
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("redis-server on %s did not answer PING within 10 s", s.Addr)
		}
		time.Sleep(10 * time.Millisecond) // a process starting: nothing to wait on but its port
	}
}

// Stop kills the server (its data is lost: it keeps none).
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart kills the server and starts an empty one on the same port, as a Redis
// restart without persistence does.
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}

// Client returns a client of the server, closed when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	return c
}

// Mini starts an in-process miniredis and returns a client of it.
func Mini(t testing.TB) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	return m, c
}

// Each runs fn as two subtests, "redis-server" and "miniredis", each with a
// fresh server's client.
func Each(t *testing.T, fn func(t *testing.T, c *redis.Client)) {
	t.Run("redis-server", func(t *testing.T) {
		t.Parallel()
		fn(t, Start(t).Client(t))
	})
	t.Run("miniredis", func(t *testing.T) {
		t.Parallel()
		_, c := Mini(t)
		fn(t, c)
	})
}

// UsedMemory is the server's used_memory (INFO memory), for the load tools'
// figures of memory per customer.
func UsedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no used_memory in INFO memory")
}
