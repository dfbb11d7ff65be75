// Command accessload measures the credential-access report at scale and the
// reveal's cost. First, through the commands on the embedded store, it times
// reveals beside lone appends of one event (the store's durable write, which
// a reveal waits for once). Then it writes a log of n access records
// (credentials created, edited, revealed by many users over a year; sealed,
// chained), builds the report from it into a private redis-server, reports
// its memory per record, and times filtered pages of 50.
//
//	go run ./test/accessload -n 1000000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/credential"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/accessreport"
	"github.com/fieldservice/customer-service/projections/redistest"
	"github.com/fieldservice/customer-service/test/latency"
	"github.com/fieldservice/customer-service/test/loadlog"
)

const (
	customers = 10_000
	users     = 200
	perCred   = 50 // records per credential
)

var start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	n := flag.Int("n", 100_000, "access records")
	reveals := flag.Int("reveals", 2000, "reveals (and lone appends) to time")
	nq := flag.Int("queries", 2000, "queries of each kind")
	dir := flag.String("dir", "", "working directory (default: a temporary one, removed at the end)")
	flag.Parse()
	if *dir == "" {
		d, err := os.MkdirTemp("", "accessload")
		check(err)
		defer os.RemoveAll(d)
		*dir = d
	}
	ctx := context.Background()
	fmt.Printf("# accessload -n %d -reveals %d (%s)\n\n", *n, *reveals, time.Now().UTC().Format(time.RFC3339))

	wl, err := loadlog.Open(*dir)
	check(err)
	defer wl.Close()
	timeReveals(ctx, wl, *reveals)

	t0 := time.Now()
	creds, custs, written := writeLog(ctx, wl.Store, wl.Codec, *n)
	last, err := wl.Store.LastPosition(ctx)
	check(err)
	fmt.Printf("wrote %d access records on %d credentials (sealed, chained) in %s: %.0f events/s\n", written, len(creds),
		time.Since(t0).Round(time.Millisecond), float64(written)/time.Since(t0).Seconds())

	srv, err := redistest.Launch(*dir)
	check(err)
	defer srv.Stop()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 16})
	defer rdb.Close()
	base := usedMemory(ctx, rdb)
	t1 := time.Now()
	r, err := projections.NewRunner(projections.Config{Store: wl.Store, Codec: wl.Codec, Redis: rdb, Projector: accessreport.Projector{}})
	check(err)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go r.Run(rctx)
	check(r.WaitFor(ctx, last))
	took := time.Since(t1)
	count, err := accessreport.Count(ctx, rdb)
	check(err)
	mem := usedMemory(ctx, rdb) - base
	fmt.Printf("built %s from %d records in %s: %.0f records/s; Redis memory %d B per record\n",
		accessreport.Name, count, took.Round(time.Millisecond), float64(count)/took.Seconds(), mem/int64(count))
	breakdown(ctx, rdb, int64(count))
	queries(ctx, rdb, creds, custs, *nq)
}

// timeReveals reveals credentials through the commands, each a load and one
// durable append, and times lone appends of one event to new streams in
// between, so the two share the machine's state.
func timeReveals(ctx context.Context, wl *loadlog.Log, n int) {
	app, err := commands.New(ctx, commands.Config{Store: wl.Store, Keys: wl.Ring})
	check(err)
	who := commands.Meta{Actor: actor.Actor{ID: "tech-1", Name: "accessload", Role: actor.Technician}}
	office := commands.Meta{Actor: actor.Actor{ID: "office-1", Name: "accessload", Role: actor.Coordinator}}
	c, err := app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: office,
		Details: customer.Details{Kind: customer.Company, BusinessName: "Reveal Ltd", Email: "reveal@example.org"}})
	check(err)
	var creds []string
	for i := range 100 {
		r, err := app.Credentials.Create(ctx, commands.CreateCredential{Meta: who, CustomerID: c.CustomerID,
			Credential: credential.Input{Name: fmt.Sprintf("Panel %d", i), Password: "Pw-" + uuid.NewString()}})
		check(err)
		creds = append(creds, r.CredentialID)
	}
	var reveal, appendOne []time.Duration
	for i := range n {
		t := time.Now()
		_, err := app.Credentials.Reveal(ctx, commands.RevealCredential{Meta: who, CredentialID: creds[i%len(creds)],
			ClientAddress: "10.0.0.1", UserAgent: "accessload"})
		check(err)
		reveal = append(reveal, time.Since(t))
		data, _, err := wl.Codec.Encode(ctx, codec.Batch{Stream: "loadprobe-" + uuid.NewString()}, codec.Metadata{OccurredAt: time.Now(), Actor: who.Actor},
			credential.Attached{CredentialID: creds[0]})
		check(err)
		t = time.Now()
		_, err = wl.Store.Append(ctx, "loadprobe-"+uuid.NewString(), eventstore.NoStream(), data...)
		check(err)
		appendOne = append(appendOne, time.Since(t))
	}
	fmt.Printf("reveal (load, one durable append, open), one client, credentials of up to %d events: p50 %s p99 %s\n",
		1+n/len(creds), latency.Percentile(reveal, 50), latency.Percentile(reveal, 99))
	fmt.Printf("lone append of one event in the same run:                                 p50 %s p99 %s\n",
		latency.Percentile(appendOne, 50), latency.Percentile(appendOne, 99))
	// A reveal loads the credential's whole stream, reveals included: time
	// one credential's reveals as its stream grows.
	var hot []time.Duration
	for range n {
		t := time.Now()
		_, err := app.Credentials.Reveal(ctx, commands.RevealCredential{Meta: who, CredentialID: creds[0]})
		check(err)
		hot = append(hot, time.Since(t))
	}
	tail := hot[len(hot)-min(len(hot), 100):]
	fmt.Printf("reveals of one credential whose stream grows to %d events: the last 100 p50 %s p99 %s\n\n",
		1+n/len(creds)+n, latency.Percentile(tail, 50), latency.Percentile(tail, 99))
}

// writeLog writes, from 32 writers, credentials of customers (each created
// with its own key) and their records: one creation, an edit now and then,
// and reveals by users over 2025, perCred records per credential.
func writeLog(ctx context.Context, store eventstore.Store, cdc *codec.Codec, n int) ([]uuid.UUID, []uuid.UUID, int64) {
	nc := max(1, n/perCred)
	creds := make([]uuid.UUID, nc)
	custs := make([]uuid.UUID, customers)
	for i := range custs {
		custs[i] = uuid.Must(uuid.NewV7())
	}
	var written, next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= nc {
					return
				}
				rng := rand.New(rand.NewPCG(uint64(i), 7))
				id := uuid.Must(uuid.NewV7())
				creds[i] = id
				cust := custs[i%customers]
				stream := credential.Stream.Name(id.String())
				at := start.Add(time.Duration(rng.Int64N(int64(300 * 24 * time.Hour))))
				meta := codec.Metadata{OccurredAt: at, Actor: actor.Actor{ID: "office-1", Name: "Office", Role: actor.Coordinator}}
				head := codec.Head{}
				for j := 0; j < perCred; {
					var events []codec.Event
					if j == 0 {
						events = append(events, credential.Created{CustomerID: cust.String(), Name: fmt.Sprintf("Device %d", i),
							Username: "admin", Password: credential.Sealed(make([]byte, 40))})
					}
					for len(events) < 10 && j+len(events) < perCred {
						if rng.IntN(20) == 0 {
							name := fmt.Sprintf("Device %d.%d", i, j)
							events = append(events, credential.Changed{Name: &name})
						} else {
							events = append(events, credential.Revealed{ClientAddress: fmt.Sprintf("10.0.%d.%d", rng.IntN(256), rng.IntN(256)),
								UserAgent: "field-app/2.1", Reason: "ticket " + fmt.Sprint(rng.IntN(100000))})
						}
					}
					u := rng.IntN(users)
					meta.Actor = actor.Actor{ID: fmt.Sprintf("user-%d", u), Name: fmt.Sprintf("User %d", u), Role: actor.Technician}
					data, next, err := cdc.Encode(ctx, codec.Batch{Stream: stream, Head: head, Subject: id, NewSubject: j == 0}, meta, events...)
					check(err)
					_, err = store.Append(ctx, stream, eventstore.Exact(head.Version), data...)
					check(err)
					head = next
					j += len(events)
					written.Add(int64(len(events)))
					meta.OccurredAt = meta.OccurredAt.Add(time.Duration(rng.Int64N(int64(24 * time.Hour))))
				}
			}
		})
	}
	wg.Wait()
	return creds, custs, written.Load()
}

func breakdown(ctx context.Context, rdb *redis.Client, records int64) {
	keys, _, err := projections.CurrentKeys(ctx, rdb, accessreport.Name)
	check(err)
	kinds := map[string]int64{}
	iter := rdb.Scan(ctx, 0, keys.Prefix()+"*", 1000).Iterator()
	for iter.Next(ctx) {
		kind, _, _ := strings.Cut(strings.TrimPrefix(iter.Val(), keys.Prefix()), ":")
		kinds[kind] += rdb.MemoryUsage(ctx, iter.Val(), 0).Val()
	}
	check(iter.Err())
	for k, v := range kinds {
		fmt.Printf("  %-6s %d B per record\n", k+":", v/records)
	}
}

func queries(ctx context.Context, rdb *redis.Client, creds, custs []uuid.UUID, n int) {
	rng := rand.New(rand.NewPCG(5, 6))
	user := func() string { return fmt.Sprintf("user-%d", rng.IntN(users)) }
	month := func() (time.Time, time.Time) {
		from := start.Add(time.Duration(rng.IntN(300)) * 24 * time.Hour)
		return from, from.Add(30 * 24 * time.Hour)
	}
	kinds := []struct {
		name   string
		filter func() accessreport.Filter
	}{
		{"newest page, no filter", func() accessreport.Filter { return accessreport.Filter{} }},
		{"one customer", func() accessreport.Filter {
			return accessreport.Filter{CustomerID: custs[rng.IntN(len(custs))].String()}
		}},
		{"one credential", func() accessreport.Filter {
			return accessreport.Filter{CredentialID: creds[rng.IntN(len(creds))].String()}
		}},
		{"one user", func() accessreport.Filter { return accessreport.Filter{ActorID: user()} }},
		{"one user, one month", func() accessreport.Filter {
			from, to := month()
			return accessreport.Filter{ActorID: user(), From: from, To: to}
		}},
		{"one month, no other filter", func() accessreport.Filter {
			from, to := month()
			return accessreport.Filter{From: from, To: to}
		}},
		{"one customer and one user", func() accessreport.Filter {
			return accessreport.Filter{CustomerID: custs[rng.IntN(len(custs))].String(), ActorID: user()}
		}},
	}
	for _, k := range kinds {
		lat := make([]time.Duration, 0, n)
		rows := 0
		for range n {
			f := k.filter()
			f.Limit = 50
			t := time.Now()
			page, err := accessreport.Query(ctx, rdb, f)
			check(err)
			lat = append(lat, time.Since(t))
			rows += len(page.Entries)
		}
		fmt.Printf("page of 50, %-28s p50 %-9s p99 %-9s (%.1f rows a page)\n", k.name+":", latency.Percentile(lat, 50),
			latency.Percentile(lat, 99), float64(rows)/float64(n))
	}
}

func usedMemory(ctx context.Context, rdb *redis.Client) int64 {
	m, err := redistest.UsedMemory(ctx, rdb)
	check(err)
	return m
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
