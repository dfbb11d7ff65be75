package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// The read models of embedded mode. When redis-server is on PATH, customerd
// runs one as a child, with its files in <data>/redis: the read models and
// their checkpoints are saved there (every few minutes while writes come, and
// at every stop, a crash included: the child gets SIGTERM when customerd dies
// and saves on it), so that a restart loads them in about a second and catches
// up from their checkpoints instead of rebuilding from the log. The child
// listens on loopback only, behind a password made at each start: the read
// models hold personal data in clear.
//
// A snapshot is not trusted blindly: one redis-server cannot load (torn,
// corrupt) is set aside and the read models are rebuilt; one made under
// another master key is emptied; a read model ahead of the log is rebuilt by
// its runner. Each says why in the log.
//
// Without redis-server, the read models live in an in-process miniredis and are
// rebuilt from the log at every start.

const (
	snapshotFile = "readmodels.rdb"
	masterIDKey  = "customerd:master-key-id" // the master key the snapshot's contents were unsealed under
)

// openRedis connects to the configured Redis, or starts the embedded one, and
// says which it is, for the log.
func openRedis(ctx context.Context, cfg config, masterID string, log *slog.Logger) (*redis.Client, func(), string, error) {
	if cfg.Redis != "" {
		opts, err := redis.ParseURL(cfg.Redis)
		if err != nil {
			return nil, nil, "", fmt.Errorf("redis: %w", err)
		}
		rdb := redis.NewClient(opts)
		return rdb, func() { rdb.Close() }, "external", nil
	}
	if path, err := exec.LookPath("redis-server"); err == nil {
		rdb, stop, err := startChild(ctx, path, filepath.Join(cfg.Data, "redis"), masterID, log)
		return rdb, stop, "embedded redis-server, saved in the data directory", err
	}
	log.Info("redis-server is not on PATH: the read models live in memory and are rebuilt from the log at every start")
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, nil, "", fmt.Errorf("in-process redis: %w", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	return rdb, func() { rdb.Close(); m.Close() }, "in-process, rebuilt at start", nil
}

// child is a redis-server customerd runs.
type child struct {
	cmd  *exec.Cmd
	exit chan error
	addr string
	pass string
	dir  string
}

func startChild(ctx context.Context, path, dir, masterID string, log *slog.Logger) (*redis.Client, func(), error) {
	dir, err := filepath.Abs(dir) // redis-server changes to its dir before it opens its log
	if err != nil {
		return nil, nil, fmt.Errorf("embedded redis: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("embedded redis: %w", err)
	}
	start := time.Now()
	c, err := launch(ctx, path, dir)
	if err != nil {
		// It would not start: most likely it could not load the snapshot. Set the
		// snapshot aside (for a post-mortem) and start empty: the read models are
		// rebuilt from the log.
		aside := filepath.Join(dir, fmt.Sprintf("%s.unreadable-%d", snapshotFile, time.Now().Unix()))
		if rerr := os.Rename(filepath.Join(dir, snapshotFile), aside); rerr != nil {
			return nil, nil, fmt.Errorf("embedded redis: %w", err)
		}
		log.Warn("the read-model snapshot could not be loaded: set aside, rebuilding the read models from the log",
			"error", err.Error(), "set_aside_as", aside)
		if c, err = launch(ctx, path, dir); err != nil {
			return nil, nil, fmt.Errorf("embedded redis: %w", err)
		}
	}
	rdb := redis.NewClient(&redis.Options{Addr: c.addr, Password: c.pass})
	stop := func() {
		// SHUTDOWN SAVE writes the snapshot and ends the child; it answers with
		// the connection closing.
		sctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		rdb.Close()
		// A client of its own that does not retry: the closed connection is
		// the answer, and a retry would only find the port closed.
		last := redis.NewClient(&redis.Options{Addr: c.addr, Password: c.pass, MaxRetries: -1})
		_ = last.Do(sctx, "SHUTDOWN", "SAVE", "FORCE").Err() // FORCE: as on SIGTERM, above
		last.Close()
		select {
		case <-c.exit:
		case <-sctx.Done():
			c.cmd.Process.Kill()
			<-c.exit
		}
	}
	ok, err := trusted(ctx, rdb, masterID, log)
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("embedded redis: %w", err)
	}
	keys, _ := rdb.DBSize(ctx).Result()
	if ok && keys > 1 {
		log.Info("read models loaded from their snapshot", "keys", keys, "took_ms", time.Since(start).Milliseconds())
	}
	return rdb, stop, nil
}

// trusted empties a snapshot made under another master key, and marks the
// Redis with this one's.
func trusted(ctx context.Context, rdb *redis.Client, masterID string, log *slog.Logger) (bool, error) {
	was, err := rdb.Get(ctx, masterIDKey).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, err
	}
	ok := true
	if err == nil && was != masterID {
		log.Warn("the read-model snapshot was made under another master key: emptied, rebuilding the read models from the log",
			"snapshot_master_key", was, "master_key", masterID)
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			return false, err
		}
		ok = false
	}
	return ok, rdb.Set(ctx, masterIDKey, masterID, 0).Err()
}

// launch starts redis-server on a free loopback port with its files in dir,
// and waits until it has loaded its snapshot. It fails if the child exits
// first, with the last lines of its log.
func launch(ctx context.Context, path, dir string) (*child, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	b := make([]byte, 24)
	rand.Read(b)
	c := &child{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), pass: hex.EncodeToString(b), dir: dir, exit: make(chan error, 1)}
	logFile := filepath.Join(dir, "redis.log")
	// The password goes in through stdin's config, not argv: ps would show it.
	c.cmd = exec.Command(path, "-")
	c.cmd.Stdin = strings.NewReader(strings.Join([]string{
		"port " + strconv.Itoa(port), "bind 127.0.0.1", "protected-mode yes", "requirepass " + c.pass,
		"dir " + strconv.Quote(dir), "dbfilename " + snapshotFile, "logfile " + strconv.Quote(logFile),
		"save 300 1 60 1000", "appendonly no", "daemonize no",
		// Exit on SIGTERM even when the final save fails (a full disk, a removed
		// directory): the older snapshot is consistent, and catching up from it is
		// better than a redis-server left running with nobody to stop it.
		`shutdown-on-sigterm "save force"`,
	}, "\n") + "\n")
	// Die with customerd: SIGTERM makes redis-server save before it exits.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	go func() { c.exit <- c.cmd.Wait() }()
	rdb := redis.NewClient(&redis.Options{Addr: c.addr, Password: c.pass, MaxRetries: -1})
	defer rdb.Close()
	for {
		// First the port (dialled here: the client would log every refusal),
		// then PING, which answers LOADING while the snapshot loads.
		if conn, err := net.DialTimeout("tcp", c.addr, time.Second); err == nil {
			conn.Close()
			if rdb.Ping(ctx).Err() == nil {
				return c, nil
			}
		}
		select {
		case werr := <-c.exit:
			return nil, fmt.Errorf("redis-server exited at start (%v): %s", werr, tail(logFile, 3))
		case <-ctx.Done():
			c.cmd.Process.Kill()
			<-c.exit
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond): // a process starting: nothing to wait on but its port
		}
	}
}

// tail returns the last n lines of a file, for an error message.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if lines = append(lines, sc.Text()); len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, " | ")
}
