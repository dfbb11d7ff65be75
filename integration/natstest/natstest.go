// Package natstest runs a private nats-server with JetStream for tests, on a
// free loopback port, its store in the test's directory.
package natstest

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Server is a running nats-server.
type Server struct {
	URL  string
	dir  string
	port int
	cmd  *exec.Cmd
}

// Start runs nats-server -js and stops it when the test ends. It fails the
// test when nats-server is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("nats-server"); err != nil {
		t.Fatal("nats-server is not installed (apt-get install -y nats-server): the NATS bus is tested on a real one")
	}
	s := &Server{dir: t.TempDir()}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Launch runs nats-server with its files in dir, for tools that are not
// tests (the load tool). Stop it when done.
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
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	s.URL = "nats://" + addr
	s.cmd = exec.Command("nats-server", "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-js",
		"-sd", filepath.Join(s.dir, "js"), "-l", filepath.Join(s.dir, "nats.log"))
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start nats-server: %w", err)
	}
	// Ready when it greets a connection with INFO.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err == nil && strings.HasPrefix(line, "INFO") {
				return nil
			}
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("nats-server on %s did not greet within 10 s", addr)
		}
		time.Sleep(10 * time.Millisecond) // a process starting: nothing to wait on but its port
	}
}

// Stop kills the server; its JetStream store stays on disk.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts the server again on the same port and store, after Stop.
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}
