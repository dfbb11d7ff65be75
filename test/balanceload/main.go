// Command balanceload measures the balances read model at scale: it writes a
// log of n customers with invoices and payments (sealed, chained), builds the
// model from it into a private redis-server alone and then with every other
// read model, and times its queries: one customer's balance, a page of who
// owes most (by what is open and by what is overdue, company-wide and per
// zone or salesperson) and the company's aging totals, each on random dates.
//
//	go run ./test/balanceload -n 1000000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/balances"
	"github.com/fieldservice/customer-service/projections/customerview"
	"github.com/fieldservice/customer-service/projections/redistest"
	"github.com/fieldservice/customer-service/projections/search"
	"github.com/fieldservice/customer-service/test/latency"
	"github.com/fieldservice/customer-service/test/loadlog"
)

var (
	zones        = 20
	salespersons = 50
	first        = account.DateOf(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
)

func main() {
	n := flag.Int("n", 100_000, "customers")
	invoices := flag.Int("invoices", 5, "invoices per customer")
	nq := flag.Int("queries", 2000, "queries of each kind")
	dir := flag.String("dir", "", "working directory (default: a temporary one, removed at the end)")
	together := flag.Bool("together", true, "also build every read model at once into an empty Redis")
	flag.Parse()
	if *dir == "" {
		d, err := os.MkdirTemp("", "balanceload")
		check(err)
		defer os.RemoveAll(d)
		*dir = d
	}
	ctx := context.Background()
	fmt.Printf("# balanceload -n %d -invoices %d (%s)\n\n", *n, *invoices, time.Now().UTC().Format(time.RFC3339))

	wl, err := loadlog.Open(*dir)
	check(err)
	defer wl.Close()
	store, cdc := wl.Store, wl.Codec

	t0 := time.Now()
	ids, events := writeLog(ctx, store, cdc, *n, *invoices)
	last, err := store.LastPosition(ctx)
	check(err)
	fmt.Printf("wrote %d customers, %d events (sealed, chained) in %s: %.0f events/s\n", *n, events,
		time.Since(t0).Round(time.Millisecond), float64(events)/time.Since(t0).Seconds())

	srv, err := redistest.Launch(*dir)
	check(err)
	defer srv.Stop()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 32})
	defer rdb.Close()
	check(rdb.ConfigSet(ctx, "save", "").Err())
	build := func(ps ...projections.Projector) time.Duration {
		feed, err := projections.NewFeed(projections.FeedConfig{Store: store, Codec: cdc})
		check(err)
		fctx, stop := context.WithCancel(ctx)
		defer stop()
		go feed.Run(fctx)
		t := time.Now()
		var rs []*projections.Runner
		for _, p := range ps {
			r, err := projections.NewRunner(projections.Config{Store: store, Codec: cdc, Redis: rdb, Projector: p, Feed: feed})
			check(err)
			go r.Run(fctx)
			rs = append(rs, r)
		}
		for _, r := range rs {
			check(r.WaitFor(ctx, last))
		}
		return time.Since(t)
	}
	base := usedMemory(ctx, rdb)
	took := build(balances.Projector{})
	mem := usedMemory(ctx, rdb) - base
	fmt.Printf("built %s alone from %d events in %s: %.0f events/s; Redis memory %d B per customer\n",
		balances.Name, events, took.Round(time.Millisecond), float64(events)/took.Seconds(), mem/int64(*n))

	breakdown(ctx, rdb, *n)
	queries(ctx, rdb, ids, *nq)

	if *together {
		check(rdb.FlushAll(ctx).Err())
		took = build(balances.Projector{}, customerview.Projector{}, search.Projector{})
		fmt.Printf("built %s, %s and %s at once from %d events in %s: %.0f events/s\n", balances.Name, customerview.Name, search.Name,
			events, took.Round(time.Millisecond), float64(events)/took.Seconds())
	}
}

// breakdown shows where the model's memory goes: MEMORY USAGE of each kind
// of key, per customer.
func breakdown(ctx context.Context, rdb *redis.Client, customers int) {
	keys, _, err := projections.CurrentKeys(ctx, rdb, balances.Name)
	check(err)
	shared := map[string]int64{}
	iter := rdb.Scan(ctx, 0, keys.Prefix()+"*", 1000).Iterator()
	for iter.Next(ctx) {
		k := strings.TrimPrefix(iter.Val(), keys.Prefix())
		kind, _, _ := strings.Cut(k, ":")
		if parts := strings.Split(k, ":"); len(parts) > 2 {
			kind += ":" + parts[2]
		}
		shared[kind] += rdb.MemoryUsage(ctx, iter.Val(), 0).Val()
	}
	check(iter.Err())
	for k, v := range shared {
		fmt.Printf("  %-14s %d B per customer\n", k+":", v/int64(customers))
	}
}

// queries times each kind of query on random customers, filters and dates.
func queries(ctx context.Context, rdb *redis.Client, ids []uuid.UUID, n int) {
	rng := rand.New(rand.NewPCG(3, 4))
	date := func() account.Date { return first + account.Date(rng.IntN(800)) }
	keys, ok, err := projections.CurrentKeys(ctx, rdb, balances.Name)
	if err != nil || !ok {
		log.Fatalf("no balances generation: %v", err)
	}
	time1 := func(name string, f func() error) {
		lat := make([]time.Duration, 0, n)
		for range n {
			t := time.Now()
			check(f())
			lat = append(lat, time.Since(t))
		}
		fmt.Printf("%-52s p50 %-9s p99 %s\n", name, latency.Percentile(lat, 50), latency.Percentile(lat, 99))
	}
	time1("one customer's balance:", func() error {
		_, ok, err := balances.Balance(ctx, rdb, ids[rng.IntN(len(ids))].String(), date())
		if err == nil && !ok {
			err = fmt.Errorf("a customer without a balance")
		}
		return err
	})
	time1("company aging totals on a date:", func() error {
		_, err := balances.Totals(ctx, rdb, keys, keys.Key("due", "USD"), date())
		return err
	})
	for _, order := range []balances.Order{balances.ByOpen, balances.ByOverdue} {
		for _, filter := range []string{"", "zone", "salesperson"} {
			name := fmt.Sprintf("who owes most, by %s%s, one page of 20 (with totals):", order, strings.TrimSuffix(" per "+filter, " per "))
			time1(name, func() error {
				q := balances.ReportRequest{AsOf: date(), Order: order, Limit: 20}
				switch filter {
				case "zone":
					q.Zone = "zone-" + strconv.Itoa(rng.IntN(zones))
				case "salesperson":
					q.Salesperson = "sp-" + strconv.Itoa(rng.IntN(salespersons))
				}
				rep, err := balances.UnpaidBalances(ctx, rdb, q)
				if err == nil && len(rep.Rows) == 0 && order == balances.ByOpen {
					err = fmt.Errorf("an empty ranking")
				}
				return err
			})
		}
	}
}

// writeLog writes, from 64 writers, each customer's registration and its
// account: invoices a month apart from 2025 on, due 30 days later, and on
// about four customers in five a payment of some of them (the last one in
// ten part-paid, a few overpaid into store credit).
func writeLog(ctx context.Context, store eventstore.Store, cdc *codec.Codec, n, invoices int) ([]uuid.UUID, int64) {
	ids := make([]uuid.UUID, n)
	var events atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	by := actor.Actor{ID: "load", Name: "balanceload", Role: actor.System}
	for range 64 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				rng := rand.New(rand.NewPCG(uint64(i), 7))
				id := uuid.Must(uuid.NewV7())
				ids[i] = id
				d := customer.Details{Kind: customer.Company, BusinessName: fmt.Sprintf("Customer %d", i),
					ServiceZone: "zone-" + strconv.Itoa(rng.IntN(zones)), Salesperson: "sp-" + strconv.Itoa(rng.IntN(salespersons))}
				md := codec.Metadata{OccurredAt: time.Now(), Actor: by}
				data, _, err := cdc.Encode(ctx, codec.Batch{Stream: customer.Stream.Name(id.String()), Subject: id, NewSubject: true},
					md, customer.Registered{CustomerID: id.String(), Number: int64(i + 1), Details: d})
				check(err)
				_, err = store.Append(ctx, customer.Stream.Name(id.String()), eventstore.NoStream(), data...)
				check(err)
				var evs []codec.Event
				a := account.New(id.String())
				apply := func(es []account.Event, err error) {
					check(err)
					for _, e := range es {
						check(a.Apply(account.Recorded{Event: e}))
						evs = append(evs, e)
					}
				}
				start := first + account.Date(rng.IntN(400))
				var billed int64
				for k := range invoices {
					on := start + account.Date(30*k)
					sub := 5_000 + rng.Int64N(200_000)
					billed += sub
					apply(a.IssueInvoice(account.InvoiceInput{Number: fmt.Sprintf("INV-%d-%d", i+1, k+1), IssuedOn: on,
						Currency: "USD", Subtotal: sub, Tax: new(int64)}, account.Terms{PaymentTerm: "net_30"}))
				}
				if rng.IntN(5) != 0 {
					amount := billed * int64(rng.IntN(100)+1) / 100
					if rng.IntN(10) == 0 {
						amount += 1_000 // overpaid: store credit
					}
					apply(a.ReceivePayment(account.PaymentInput{PaymentID: fmt.Sprintf("P-%d", i+1), Amount: amount,
						Method: account.ACH, ReceivedOn: start + account.Date(30*invoices)}))
				}
				data, _, err = cdc.Encode(ctx, codec.Batch{Stream: account.Stream.Name(id.String()), Subject: id}, md, evs...)
				check(err)
				_, err = store.Append(ctx, account.Stream.Name(id.String()), eventstore.NoStream(), data...)
				check(err)
				events.Add(int64(1 + len(evs)))
			}
		})
	}
	wg.Wait()
	return ids, events.Load()
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
