// Command httpload measures the HTTP API: registrations/s and searches/s with
// concurrent clients, p50/p99, against the embedded mode's in-process Redis and
// against a real redis-server, and the same work through commands/ and the read
// models directly in the same run, which is the HTTP layer's overhead.
//
//	go run ./test/httpload -n 5000 -clients 16 -search-for 10s
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fieldservice/customer-service/test/latency"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/api"
	"github.com/fieldservice/customer-service/api/auth"
	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore/embedded"
	"github.com/fieldservice/customer-service/keystore"
	keyfile "github.com/fieldservice/customer-service/keystore/embedded"
	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/accessreport"
	"github.com/fieldservice/customer-service/projections/balances"
	"github.com/fieldservice/customer-service/projections/customerview"
	"github.com/fieldservice/customer-service/projections/redistest"
	"github.com/fieldservice/customer-service/projections/search"
	"github.com/fieldservice/customer-service/test/synthetic"
)

func main() {
	n := flag.Int("n", 5000, "registrations per phase")
	clients := flag.Int("clients", 16, "concurrent clients")
	searchFor := flag.Duration("search-for", 10*time.Second, "how long each search phase runs")
	modes := flag.String("modes", "embedded,redis-server", "read-model backends to measure")
	flag.Parse()
	for _, mode := range strings.Split(*modes, ",") {
		measure(mode, *n, *clients, *searchFor)
	}
}

type env struct {
	app    *commands.App
	rdb    *redis.Client
	url    string
	token  string
	views  *projections.Runner
	index  *projections.Runner
	store  *embedded.Store
	closer []func()
}

func setup(mode string) *env {
	dir, err := os.MkdirTemp("", "httpload-")
	check(err)
	e := &env{closer: []func(){func() { os.RemoveAll(dir) }}}
	ctx := context.Background()
	master, err := keystore.NewMasterKey(keystore.GenerateMasterKey())
	check(err)
	kf, err := keyfile.Open(filepath.Join(dir, "keys.db"))
	check(err)
	keys, err := keystore.NewKeyring(kf, master, keystore.KeyringOptions{})
	check(err)
	e.store, err = embedded.Open(embedded.Config{Path: filepath.Join(dir, "events.db")})
	check(err)
	e.app, err = commands.New(ctx, commands.Config{Store: e.store, Keys: keys})
	check(err)
	cdc, err := codec.New(commands.Events, keys)
	check(err)
	switch mode {
	case "embedded":
		m := miniredis.NewMiniRedis()
		check(m.StartAddr("127.0.0.1:0"))
		e.rdb = redis.NewClient(&redis.Options{Addr: m.Addr()})
		e.closer = append(e.closer, m.Close)
	case "redis-server":
		s, err := redistest.Launch(dir)
		check(err)
		e.rdb = redis.NewClient(&redis.Options{Addr: s.Addr, PoolSize: 64})
		e.closer = append(e.closer, s.Stop)
	default:
		log.Fatalf("unknown mode %q", mode)
	}
	runCtx, stop := context.WithCancel(ctx)
	e.closer = append(e.closer, stop)
	runners := map[string]*projections.Runner{}
	for _, p := range []projections.Projector{customerview.Projector{}, search.Projector{}, balances.Projector{}, accessreport.Projector{}} {
		r, err := projections.NewRunner(projections.Config{Store: e.store, Codec: cdc, Redis: e.rdb, Projector: p})
		check(err)
		go r.Run(runCtx)
		runners[p.Name()] = r
	}
	e.views, e.index = runners[customerview.Name], runners[search.Name]
	tokenPath := filepath.Join(dir, "tokens.json")
	e.token, _, err = auth.Issue(tokenPath, actor.Actor{ID: "load", Name: "httpload", Role: actor.Admin}, time.Now())
	check(err)
	tokens, err := auth.Open(tokenPath)
	check(err)
	h, err := api.New(api.Config{App: e.app, Redis: e.rdb, Views: e.views, Search: e.index, Balances: runners[balances.Name], Access: runners[accessreport.Name],
		Tokens: tokens, Logger: slog.New(slog.DiscardHandler)})
	check(err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	e.url = "http://" + ln.Addr().String()
	e.closer = append(e.closer, func() { srv.Close() })
	return e
}

func (e *env) close() {
	e.store.Close()
	for i := len(e.closer) - 1; i >= 0; i-- {
		e.closer[i]()
	}
}

func measure(mode string, n, clients int, searchFor time.Duration) {
	e := setup(mode)
	defer e.close()
	ctx := context.Background()
	gen := synthetic.NewGenerator(1)
	details := make([]customer.Details, 2*n)
	for i := range details {
		details[i] = gen.Customer(i)
	}
	meta := commands.Meta{Actor: actor.Actor{ID: "load", Name: "httpload", Role: actor.Admin}}
	direct := run(n, clients, func(i int) error {
		_, err := e.app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: meta, Details: details[i]})
		return err
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	overHTTP := run(n, clients, func(i int) error {
		body, _ := json.Marshal(details[n+i])
		return e.call(client, "POST", "/v1/customers", body, http.StatusCreated)
	})
	last, err := e.store.LastPosition(ctx)
	check(err)
	check(e.views.WaitFor(ctx, last))
	check(e.index.WaitFor(ctx, last))

	queries := queriesFrom(details)
	var qi atomic.Int64
	next := func() string { return queries[int(qi.Add(1))%len(queries)] }
	searchDirect := runFor(searchFor, clients, func() error {
		_, err := search.Search(ctx, e.rdb, search.Request{Query: next(), Limit: 20})
		return err
	})
	searchHTTP := runFor(searchFor, clients, func() error {
		return e.call(client, "GET", "/v1/customers?limit=20&q="+urlQuery(next()), nil, http.StatusOK)
	})
	fmt.Printf("\n%s, %d clients, %d registrations per phase, searches for %s each\n", mode, clients, n, searchFor)
	fmt.Printf("%-28s %10s %10s %10s\n", "", "per second", "p50", "p99")
	for _, r := range []struct {
		name string
		res  result
	}{{"register via commands/", direct}, {"register via HTTP", overHTTP},
		{"search via read model", searchDirect}, {"search via HTTP", searchHTTP}} {
		fmt.Printf("%-28s %10.0f %10s %10s\n", r.name, r.res.rate, latency.Percentile(r.res.lat, 50), latency.Percentile(r.res.lat, 99))
	}
}

func (e *env) call(c *http.Client, method, path string, body []byte, want int) error {
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return nil
}

type result struct {
	rate float64
	lat  []time.Duration
}

// run does n operations with the given concurrency.
func run(n, clients int, op func(i int) error) result {
	var next atomic.Int64
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t := time.Now()
				check(op(i))
				lat[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	return result{rate: float64(n) / time.Since(start).Seconds(), lat: lat}
}

// runFor repeats op for d with the given concurrency.
func runFor(d time.Duration, clients int, op func() error) result {
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	start := time.Now()
	for range clients {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(deadline) {
				t := time.Now()
				check(op())
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return result{rate: float64(len(all)) / time.Since(start).Seconds(), lat: all}
}

// queriesFrom draws 4–8 character pieces of names, emails and streets.
func queriesFrom(ds []customer.Details) []string {
	var qs []string
	for i, d := range ds {
		var s string
		switch i % 3 {
		case 0:
			s = d.DisplayName()
		case 1:
			s = d.Email
		default:
			s = d.Addresses[0].Street
		}
		r := []rune(s)
		size := 4 + i%5
		if len(r) < size {
			continue
		}
		at := (i * 7) % (len(r) - size + 1)
		if q := string(r[at : at+size]); strings.TrimSpace(q) == q && len(strings.Fields(q)) == 1 {
			if _, ok := search.ParseQuery(q); ok {
				qs = append(qs, q)
			}
		}
	}
	return qs
}

func urlQuery(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
