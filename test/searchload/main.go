// Command searchload measures the read models at scale: it writes N synthetic
// customers to an embedded event store, builds the search index and the
// customer view from that log into a private redis-server (each alone, then
// both at once), then measures Redis memory per customer, search latency
// (with Redis's own time per query) and throughput, the lag from an append to
// search while commands are written, and the same queries on PostgreSQL with
// pg_trgm. Run it by hand:
//
//	go run ./test/searchload -n 100000
//	go run ./test/searchload -n 1000000 -pg 'postgres://postgres@127.0.0.1:5432/test' -slowest 10 -query hilli
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fieldservice/customer-service/test/latency"
	"github.com/fieldservice/customer-service/test/loadlog"

	"github.com/fieldservice/customer-service/test/synthetic"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/customerview"
	"github.com/fieldservice/customer-service/projections/redistest"
	"github.com/fieldservice/customer-service/projections/search"
	"github.com/fieldservice/customer-service/projections/textkey"
)

func main() {
	n := flag.Int("n", 100_000, "customers")
	nq := flag.Int("queries", 2000, "queries")
	clients := flag.Int("clients", 16, "concurrent search clients")
	pg := flag.String("pg", "", "PostgreSQL URL for the pg_trgm baseline (empty: skip)")
	lagRate := flag.Int("lag-rate", 1000, "commands per second while measuring the append-to-search lag")
	dir := flag.String("dir", "", "working directory (default: a temporary one, removed at the end)")
	listpack := flag.Int("zset-max-listpack-entries", 0, "Redis setting for the run (0: the server's default, 128)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the search phase to this file")
	rangeBits := flag.Int("range-bits", 0, "search postings cover 2^range-bits customer numbers (0: the default)")
	slowest := flag.Int("slowest", 0, "show this many of the slowest queries, each timed again")
	only := flag.String("query", "", "also time this query, and show its cost")
	together := flag.Bool("together", true, "also build all read models at once into an empty Redis")
	lagprofile := flag.String("lagprofile", "", "write a CPU profile of the lag phase to this file")
	rebuildprofile := flag.String("rebuildprofile", "", "write a CPU profile of the rebuild phase to this file")
	flag.Parse()
	if *dir == "" {
		d, err := os.MkdirTemp("", "searchload")
		check(err)
		defer os.RemoveAll(d)
		*dir = d
	}
	ctx := context.Background()
	fmt.Printf("# searchload -n %d (%s)\n\n", *n, time.Now().UTC().Format(time.RFC3339))

	wl, err := loadlog.Open(*dir)
	check(err)
	defer wl.Close()
	store, ring, cdc := wl.Store, wl.Ring, wl.Codec

	// 1. The log.
	t0 := time.Now()
	ids, sample := writeLog(ctx, store, cdc, *n)
	last, err := store.LastPosition(ctx)
	check(err)
	fmt.Printf("wrote %d customers (sealed, chained) in %s: %.0f/s\n", *n, time.Since(t0).Round(time.Millisecond), float64(*n)/time.Since(t0).Seconds())

	// 2. Rebuild each read model from the log, measuring rate and memory.
	srv, err := redistest.Launch(filepath.Join(*dir))
	check(err)
	defer srv.Stop()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 4 * *clients})
	defer rdb.Close()
	check(rdb.ConfigSet(ctx, "save", "").Err())
	if *listpack > 0 {
		check(rdb.ConfigSet(ctx, "zset-max-listpack-entries", strconv.Itoa(*listpack)).Err())
	}
	base := usedMemory(ctx, rdb)
	if *rebuildprofile != "" {
		f, err := os.Create(*rebuildprofile)
		check(err)
		check(pprof.StartCPUProfile(f))
	}
	projectors := []projections.Projector{search.Projector{RangeBits: *rangeBits}, customerview.Projector{}}
	// Runners started together share one feed, as customerd's do.
	feed, err := projections.NewFeed(projections.FeedConfig{Store: store, Codec: cdc, BatchSize: 1024})
	check(err)
	feedCtx, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	go feed.Run(feedCtx)
	start := func(p projections.Projector) (*projections.Runner, context.CancelFunc) {
		r, err := projections.NewRunner(projections.Config{Store: store, Codec: cdc, Redis: rdb, Projector: p, BatchSize: 1024, Feed: feed})
		check(err)
		rctx, cancel := context.WithCancel(ctx)
		go r.Run(rctx)
		return r, cancel
	}
	var runners []*projections.Runner
	var stops []context.CancelFunc
	for _, p := range projectors {
		t := time.Now()
		r, stop := start(p)
		check(r.WaitFor(ctx, last))
		took := time.Since(t)
		mem := usedMemory(ctx, rdb)
		fmt.Printf("rebuilt %-13s from %d events in %s: %.0f events/s; Redis memory %d B per customer\n",
			p.Name(), *n, took.Round(time.Millisecond), float64(*n)/took.Seconds(), (mem-base)/int64(*n))
		base = mem
		runners, stops = append(runners, r), append(stops, stop)
	}
	if *rebuildprofile != "" {
		pprof.StopCPUProfile()
	}
	// All read models built at once into an empty Redis, as customerd does at
	// start in embedded mode, or when Redis lost its data.
	if *together {
		for _, stop := range stops {
			stop()
		}
		check(rdb.FlushAll(ctx).Err())
		t := time.Now()
		runners, stops = nil, nil
		for _, p := range projectors {
			r, stop := start(p)
			runners, stops = append(runners, r), append(stops, stop)
		}
		for _, r := range runners {
			check(r.WaitFor(ctx, last))
		}
		took := time.Since(t)
		fmt.Printf("built all read models at once from %d events in %s: %.0f events/s\n", *n, took.Round(time.Millisecond), float64(*n)/took.Seconds())
	}
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()

	// 3. Search.
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		check(err)
		check(pprof.StartCPUProfile(f))
	}
	queries := makeQueries(sample, *nq)
	// Start the timed searches with the garbage of writing and rebuilding
	// collected.
	runtime.GC()
	check(rdb.ConfigResetStat(ctx).Err())
	// Redis's slow log (over 2 ms) and its own event latencies tell a slow
	// search that Redis served slowly from one that waited elsewhere.
	check(rdb.ConfigSet(ctx, "slowlog-log-slower-than", "2000").Err())
	check(rdb.ConfigSet(ctx, "latency-monitor-threshold", "2").Err())
	check(rdb.SlowLogReset(ctx).Err())
	check(rdb.Do(ctx, "LATENCY", "RESET").Err())
	lat := make([]time.Duration, 0, len(queries))
	matched := 0
	for _, q := range queries {
		t := time.Now()
		res, err := search.Search(ctx, rdb, search.Request{Query: q, Limit: 20})
		check(err)
		lat = append(lat, time.Since(t))
		if len(res.Entries) > 0 {
			matched++
		}
	}
	fmt.Printf("search, 1 client, %d queries (%d with results): p50 %s, p99 %s\n", len(queries), matched, latency.Percentile(lat, 50), latency.Percentile(lat, 99))
	fmt.Printf("  Redis's own time per query: %s\n", redisTimePerQuery(ctx, rdb, len(queries)))
	fmt.Printf("  Redis's slow log (commands over 2 ms): %d; its latency events over 2 ms: %v\n",
		rdb.Do(ctx, "SLOWLOG", "LEN").Val(), rdb.Do(ctx, "LATENCY", "LATEST").Val())
	if *slowest > 0 {
		reportSlowest(ctx, rdb, queries, lat, *slowest)
	}
	if *only != "" {
		reportSlowest(ctx, rdb, []string{*only}, []time.Duration{0}, 1)
	}
	qps := throughput(ctx, rdb, queries, *clients, 10*time.Second)
	fmt.Printf("search, %d clients: %.0f queries/s\n", *clients, qps)
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}

	// 4. Append-to-searchable lag under a steady command rate, before PostgreSQL
	// loads its copy: its autovacuum would share the cores.
	app, err := commands.New(ctx, commands.Config{Store: store, Keys: ring})
	check(err)
	if *lagprofile != "" {
		f, err := os.Create(*lagprofile)
		check(err)
		check(pprof.StartCPUProfile(f))
	}
	lags := measureLag(ctx, app, runners[0], ids, *lagRate, 10*time.Second)
	if *lagprofile != "" {
		pprof.StopCPUProfile()
	}
	fmt.Printf("append-to-searchable lag at %d commands/s: p50 %s, p99 %s (%d commands)\n", *lagRate, latency.Percentile(lags, 50), latency.Percentile(lags, 99), len(lags))

	// 5. PostgreSQL with pg_trgm, same customers, same queries.
	if *pg != "" {
		pgLat, err := postgresBaseline(ctx, *pg, store, cdc, queries)
		check(err)
		fmt.Printf("PostgreSQL pg_trgm, 1 client: p50 %s, p99 %s; Redis is %.0fx faster at p99\n",
			latency.Percentile(pgLat, 50), latency.Percentile(pgLat, 99), float64(latency.Percentile(pgLat, 99))/float64(latency.Percentile(lat, 99)))
	}
}

// reportSlowest times the slowest queries again: a query slow every time is
// the index's doing; one slow once met a busy machine.
func reportSlowest(ctx context.Context, rdb *redis.Client, queries []string, lat []time.Duration, n int) {
	order := make([]int, len(queries))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return lat[order[a]] > lat[order[b]] })
	for _, i := range order[:min(n, len(order))] {
		again := make([]time.Duration, 5)
		var res search.Result
		for j := range again {
			t := time.Now()
			var err error
			res, err = search.Search(ctx, rdb, search.Request{Query: queries[i], Limit: 20})
			check(err)
			again[j] = time.Since(t)
		}
		c := res.Cost
		fmt.Printf("  %-10q %s, again %s (median of 5), %d entries; %d round trips, %d chunks, %d candidates, %d docs\n",
			queries[i], lat[i], latency.Percentile(again, 50), len(res.Entries), c.RoundTrips, c.Chunks, c.Candidates, c.Docs)
	}
}

// redisTimePerQuery sums Redis's time in each command since the last stats
// reset, per query: where a search's time goes on the server.
func redisTimePerQuery(ctx context.Context, rdb *redis.Client, queries int) string {
	info, err := rdb.Info(ctx, "commandstats").Result()
	check(err)
	var parts []string
	var total float64
	for _, line := range strings.Split(info, "\r\n") {
		name, stats, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		var calls, usec float64
		for _, kv := range strings.Split(stats, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "calls":
				calls, _ = strconv.ParseFloat(v, 64)
			case "usec":
				usec, _ = strconv.ParseFloat(v, 64)
			}
		}
		if calls >= float64(queries)/10 {
			parts = append(parts, fmt.Sprintf("%s %.0f µs (%.1f calls)", name, usec/float64(queries), calls/float64(queries)))
		}
		total += usec
	}
	return fmt.Sprintf("%.0f µs: %s", total/float64(queries), strings.Join(parts, ", "))
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func usedMemory(ctx context.Context, rdb *redis.Client) int64 {
	n, err := redistest.UsedMemory(ctx, rdb)
	check(err)
	return n
}

// writeLog appends one CustomerRegistered per customer from 256 writers and
// keeps a sample of customers for queries. Writers take the next number as
// they go, so that the log holds customers in about their numbers' order, as
// registrations do; a customer's details come from its number alone, so that
// the customers, the sample and the queries are the same in every run with the
// same n.
func writeLog(ctx context.Context, store eventstore.Store, cdc *codec.Codec, n int) ([]uuid.UUID, []customer.Details) {
	ids := make([]uuid.UUID, n) // not strings: the collector would scan a million pointers while searches are timed
	const keep = 5000
	sample := make([]customer.Details, 0, keep)
	samples := make(map[int]customer.Details, keep)
	var mu sync.Mutex
	var wg sync.WaitGroup
	by := actor.Actor{ID: "load", Name: "searchload", Role: actor.System}
	var next atomic.Int64
	for range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				g := synthetic.NewGenerator(splitmix(uint64(i)))
				id := uuid.Must(uuid.NewV7())
				d := g.Customer(i)
				data, _, err := cdc.Encode(ctx, codec.Batch{Stream: customer.Stream.Name(id.String()), Subject: id, NewSubject: true},
					codec.Metadata{OccurredAt: time.Now(), Actor: by}, customer.Registered{CustomerID: id.String(), Number: int64(i + 1), Details: d})
				check(err)
				_, err = store.Append(ctx, customer.Stream.Name(id.String()), eventstore.NoStream(), data...)
				check(err)
				ids[i] = id
				if i%max(1, n/keep) == 0 {
					mu.Lock()
					samples[i] = d
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for i := 0; i < n && len(sample) < keep; i += max(1, n/keep) {
		sample = append(sample, samples[i])
	}
	return ids, sample
}

// splitmix scrambles a customer's index into its generator's seed.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// makeQueries draws 4–8 character pieces of names, emails, phones and streets.
func makeQueries(sample []customer.Details, n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]string, 0, n)
	for len(out) < n {
		d := sample[r.IntN(len(sample))]
		var v string
		switch k := r.IntN(10); {
		case k < 4:
			v = textkey.Fold(d.DisplayName())
		case k < 6:
			v = d.Email
		case k < 8:
			v = d.Phones[r.IntN(len(d.Phones))].Number[2:]
		default:
			v = textkey.Fold(d.Addresses[r.IntN(len(d.Addresses))].Street)
		}
		size := 4 + r.IntN(5)
		if len(v) < size {
			continue
		}
		at := 0
		if r.IntN(2) == 0 { // half the queries start where a word does
			at = r.IntN(len(v) - size + 1)
		}
		q := v[at : at+size]
		if _, ok := search.ParseQuery(q); ok {
			out = append(out, q)
		}
	}
	return out
}

func throughput(ctx context.Context, rdb *redis.Client, queries []string, clients int, d time.Duration) float64 {
	var done atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; time.Now().Before(stop); i++ {
				_, err := search.Search(ctx, rdb, search.Request{Query: queries[i%len(queries)], Limit: 20})
				check(err)
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / d.Seconds()
}

// measureLag edits random customers at rate commands per second and measures, for
// each, the time from the command's acknowledgment until search reflects it.
func measureLag(ctx context.Context, app *commands.App, r *projections.Runner, ids []uuid.UUID, rate int, d time.Duration) []time.Duration {
	meta := commands.Meta{Actor: actor.Actor{ID: "load", Name: "searchload", Role: actor.Coordinator}}
	var mu sync.Mutex
	var lags []time.Duration
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	stop := time.After(d)
	rng := rand.New(rand.NewPCG(3, 4))
	sem := make(chan struct{}, 256)
	for {
		select {
		case <-stop:
			wg.Wait()
			return lags
		case <-tick.C:
		}
		id := ids[rng.IntN(len(ids))].String()
		phone := fmt.Sprintf("+1212%03d%04d", 200+rng.IntN(800), rng.IntN(10000))
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			phones := []customer.Phone{{Number: phone, Type: customer.Mobile}}
			res, err := app.UpdateCustomer.Handle(ctx, commands.UpdateCustomer{Meta: meta, CustomerID: id, Patch: customer.Patch{Phones: &phones}})
			if err != nil {
				return // a conflict with another edit of the same customer
			}
			t := time.Now()
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			check(r.WaitFor(wctx, res.Position))
			mu.Lock()
			lags = append(lags, time.Since(t))
			mu.Unlock()
		}()
	}
}
