// Command startload measures customerd's embedded mode as a user meets it:
// how long a start takes until /readyz says ready, and how much memory the
// process (and its redis-server child) holds, with n customers in the log:
// the first start (read models built from the log), a start after a clean stop
// (read models loaded from their snapshot), and the same without redis-server
// on PATH (in-process miniredis, rebuilt at every start).
//
//	go run ./test/startload -n 100000
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/eventstore/embedded"
	"github.com/fieldservice/customer-service/keystore"
	keyfile "github.com/fieldservice/customer-service/keystore/embedded"
	"github.com/fieldservice/customer-service/test/synthetic"
)

func main() {
	n := flag.Int("n", 100_000, "customers in the log")
	dir := flag.String("dir", "", "working directory (default: a temporary one, removed at the end)")
	flag.Parse()
	work := *dir
	if work == "" {
		var err error
		work, err = os.MkdirTemp("", "startload-")
		check(err)
		defer os.RemoveAll(work)
	}
	bin := filepath.Join(work, "customerd")
	build := exec.Command("go", "build", "-o", bin, "github.com/fieldservice/customer-service/cmd/customerd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	check(build.Run())

	data := filepath.Join(work, "data")
	start := time.Now()
	writeLog(data, *n)
	fmt.Printf("log of %d customers written in %s\n", *n, time.Since(start).Round(time.Millisecond))

	withRedis := os.Getenv("PATH")
	for _, run := range []struct {
		name string
		path string
	}{
		{"first start, read models built from the log (redis-server child)", withRedis},
		{"start after a clean stop, read models loaded (redis-server child)", withRedis},
		{"start after a clean stop, no redis-server on PATH (miniredis, rebuilt)", pathWithout("redis-server")},
	} {
		r := measure(bin, data, run.path)
		fmt.Printf("%s:\n  ready after %s; customerd RSS %s, Go heap in use %s, redis-server RSS %s: %s per customer; stop took %s\n",
			run.name, r.ready.Round(time.Millisecond), mib(r.rss), mib(r.heap), mib(r.childRSS),
			kib(float64(r.rss+r.childRSS)/float64(*n)), r.stop.Round(time.Millisecond))
	}
}

type result struct {
	ready, stop         time.Duration
	rss, heap, childRSS int64
}

func measure(bin, data, path string) result {
	port := freePort()
	cmd := exec.Command(bin, "--data", data, "--addr", "127.0.0.1:"+strconv.Itoa(port), "--log-level", "warn")
	cmd.Env = append(os.Environ(), "PATH="+path)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	check(cmd.Start())
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(start) > 10*time.Minute {
			log.Fatal("customerd was not ready within 10 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r := result{ready: time.Since(start)}
	r.rss = rss(cmd.Process.Pid)
	r.heap = heapInUse(url)
	for _, c := range children(cmd.Process.Pid) {
		r.childRSS += rss(c)
	}
	stop := time.Now()
	check(cmd.Process.Signal(syscall.SIGTERM))
	check(cmd.Wait())
	r.stop = time.Since(stop)
	return r
}

var heapLine = regexp.MustCompile(`(?m)^go_memstats_heap_inuse_bytes (\S+)`)

func heapInUse(url string) int64 {
	resp, err := http.Get(url + "/metrics")
	check(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	check(err)
	m := heapLine.FindSubmatch(b)
	if m == nil {
		return 0
	}
	f, _ := strconv.ParseFloat(string(m[1]), 64)
	return int64(f)
}

// rss reads a process's resident set from /proc.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// children lists a process's child processes.
func children(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// writeLog fills a data directory as customerd would have: a master key file,
// the key file and the event log, with n registrations.
func writeLog(data string, n int) {
	ctx := context.Background()
	check(os.MkdirAll(data, 0o700))
	master, _, err := keystore.LoadOrCreateMasterKeyFile(filepath.Join(data, "master.key"))
	check(err)
	kf, err := keyfile.Open(filepath.Join(data, "keys.db"))
	check(err)
	defer kf.Close()
	keys, err := keystore.NewKeyring(kf, master, keystore.KeyringOptions{})
	check(err)
	store, err := embedded.Open(embedded.Config{Path: filepath.Join(data, "events.db")})
	check(err)
	defer store.Close()
	cdc, err := codec.New(commands.Events, keys)
	check(err)
	by := actor.Actor{ID: "load", Name: "startload", Role: actor.System}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 256 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				id := uuid.Must(uuid.NewV7())
				d := synthetic.NewGenerator(uint64(i)*0x9e3779b97f4a7c15 + 1).Customer(i)
				data, _, err := cdc.Encode(ctx, codec.Batch{Stream: customer.Stream.Name(id.String()), Subject: id, NewSubject: true},
					codec.Metadata{OccurredAt: time.Now(), Actor: by}, customer.Registered{CustomerID: id.String(), Number: int64(i + 1), Details: d})
				check(err)
				_, err = store.Append(ctx, customer.Stream.Name(id.String()), eventstore.NoStream(), data...)
				check(err)
			}
		})
	}
	wg.Wait()
}

// pathWithout is PATH without the directories that hold name.
func pathWithout(name string) string {
	var keep []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, name)); err != nil {
			keep = append(keep, d)
		}
	}
	return strings.Join(keep, string(filepath.ListSeparator))
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func mib(b int64) string   { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
func kib(b float64) string { return fmt.Sprintf("%.2f KiB", b/1024) }

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
