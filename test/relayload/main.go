// Command relayload measures the integration relay. It writes a log of n
// customers (a registration and an invoice each: 2n events; sealed, chained),
// then, for Redis Streams and for NATS JetStream (private servers), replays
// the whole log through the relay and times it beside watermill's own
// publisher publishing the same messages, translated beforehand, in batches of
// the same size to another topic in the same run. It reports the Redis
// stream's memory per event, and, on the embedded store with Redis Streams,
// the lag from a registration's append to a subscriber reading it at a
// steady rate of commands.
//
//	go run ./test/relayload -n 500000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/integration"
	"github.com/fieldservice/customer-service/integration/natstest"
	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/redistest"
	"github.com/fieldservice/customer-service/test/latency"
	"github.com/fieldservice/customer-service/test/loadlog"
	"github.com/fieldservice/customer-service/test/synthetic"
)

func main() {
	n := flag.Int("n", 100_000, "customers (two events each)")
	rate := flag.Int("rate", 1000, "commands per second for the lag measurement")
	seconds := flag.Int("seconds", 20, "how long the lag measurement runs")
	dir := flag.String("dir", "", "working directory (default: a temporary one, removed at the end)")
	flag.Parse()
	if *dir == "" {
		d, err := os.MkdirTemp("", "relayload")
		check(err)
		defer os.RemoveAll(d)
		*dir = d
	}
	ctx := context.Background()
	fmt.Printf("# relayload -n %d -rate %d -seconds %d (%s)\n\n", *n, *rate, *seconds, time.Now().UTC().Format(time.RFC3339))

	wl, err := loadlog.Open(*dir)
	check(err)
	defer wl.Close()
	t0 := time.Now()
	events := writeLog(ctx, wl, *n)
	last, err := wl.Store.LastPosition(ctx)
	check(err)
	fmt.Printf("wrote %d events in %s\n", events, time.Since(t0).Round(time.Millisecond))
	msgs := translateAll(ctx, wl)
	fmt.Printf("translated them to %d messages beforehand, for the baseline\n\n", len(msgs))

	for _, sub := range []string{"checkpoints", "bus", "nats"} {
		check(os.MkdirAll(*dir+"/"+sub, 0o700))
	}
	checkpoints, err := redistest.Launch(*dir + "/checkpoints")
	check(err)
	defer checkpoints.Stop()
	cp := redis.NewClient(&redis.Options{Addr: checkpoints.Addr})

	// Redis Streams.
	rsrv, err := redistest.Launch(*dir + "/bus")
	check(err)
	defer rsrv.Stop()
	busRedis := redis.NewClient(&redis.Options{Addr: rsrv.Addr, PoolSize: 8})
	rbus, err := integration.NewBus(integration.BusConfig{Kind: integration.Redis, Redis: busRedis, MaxLen: 10_000_000})
	check(err)
	compare(ctx, "redis streams", wl, cp, rbus, msgs, last)
	mem := busRedis.MemoryUsage(ctx, integration.Public, 0).Val()
	xlen := busRedis.XLen(ctx, integration.Public).Val()
	fmt.Printf("  the stream holds %d events in %d B: %d B per event (untrimmed; --bus-max-len trims to about 1,000,000)\n\n",
		xlen, mem, mem/max(1, xlen))
	check(busRedis.FlushAll(ctx).Err())

	// NATS JetStream.
	nsrv, err := natstest.Launch(*dir + "/nats")
	check(err)
	defer nsrv.Stop()
	nbus, err := integration.NewBus(integration.BusConfig{Kind: integration.NATS, NATSURL: nsrv.URL})
	check(err)
	compare(ctx, "nats jetstream", wl, cp, nbus, msgs, last)
	check(nbus.Close())
	fmt.Println()

	lag(ctx, wl, cp, busRedis, rbus, *rate, *seconds)
}

// compare replays the log through the relay into a fresh checkpoint, then
// publishes the pre-translated messages with the bus itself.
func compare(ctx context.Context, name string, wl *loadlog.Log, cp *redis.Client, bus *integration.Bus, msgs []*message.Message, last eventstore.Position) {
	check(cp.FlushAll(ctx).Err())
	r, err := projections.NewRunner(projections.Config{Store: wl.Store, Codec: wl.Codec, Redis: cp, Projector: integration.Relay{Publisher: bus}})
	check(err)
	rctx, stop := context.WithCancel(ctx)
	t := time.Now()
	go r.Run(rctx)
	check(r.WaitFor(ctx, last))
	relay := time.Since(t)
	stop()
	t = time.Now()
	const batch = 1024 // the relay's rebuild batch
	for i := 0; i < len(msgs); i += batch {
		out := make([]*message.Message, 0, batch)
		for _, m := range msgs[i:min(i+batch, len(msgs))] {
			out = append(out, m.Copy())
		}
		check(bus.Publish("baseline-"+integration.Public, out...))
	}
	own := time.Since(t)
	rr, or := float64(len(msgs))/relay.Seconds(), float64(len(msgs))/own.Seconds()
	fmt.Printf("%s: the relay replayed %d events in %s: %.0f/s; watermill's publisher alone: %.0f/s; ratio %.2f\n",
		name, len(msgs), relay.Round(time.Millisecond), rr, or, rr/or)
}

// lag runs commands at a steady rate through the embedded store while the
// relay (on the shared feed) publishes to Redis Streams and a subscriber reads
// them; it reports, per registration, the time from its append returning to
// the subscriber holding it.
func lag(ctx context.Context, wl *loadlog.Log, cp, busRedis *redis.Client, bus *integration.Bus, rate, seconds int) {
	check(cp.FlushAll(ctx).Err())
	check(busRedis.FlushAll(ctx).Err())
	app, err := commands.New(ctx, commands.Config{Store: wl.Store, Keys: wl.Ring})
	check(err)
	start, err := wl.Store.LastPosition(ctx)
	check(err)
	// Start the relay at the end of the log: a checkpoint of a caught-up relay.
	feed, err := projections.NewFeed(projections.FeedConfig{Store: wl.Store, Codec: wl.Codec})
	check(err)
	r, err := projections.NewRunner(projections.Config{Store: wl.Store, Codec: wl.Codec, Redis: cp, Projector: integration.Relay{Publisher: bus}, Feed: feed})
	check(err)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go feed.Run(rctx)
	go r.Run(rctx)
	check(r.WaitFor(ctx, start)) // the replay of the old log, first
	// A subscriber can read a registration before its command has returned:
	// whichever of the two comes second measures the lag (zero if the read
	// came first).
	var mu sync.Mutex
	appended, read := map[string]time.Time{}, map[string]time.Time{}
	var lags []time.Duration
	var got atomic.Int64
	go func() {
		id := "$"
		for rctx.Err() == nil {
			res, err := busRedis.XRead(rctx, &redis.XReadArgs{Streams: []string{integration.Public, id}, Block: 100 * time.Millisecond, Count: 1000}).Result()
			if err != nil {
				continue
			}
			now := time.Now()
			for _, m := range res[0].Messages {
				id = m.ID
				var subject string
				if p, ok := m.Values["payload"].(string); ok {
					subject = subjectOf(p)
				}
				mu.Lock()
				if t, ok := appended[subject]; ok {
					lags = append(lags, now.Sub(t))
					delete(appended, subject)
				} else {
					read[subject] = now
				}
				mu.Unlock()
				got.Add(1)
			}
		}
	}()
	gen := synthetic.NewGenerator(99)
	by := commands.Meta{Actor: actor.Actor{ID: "load", Name: "relayload", Role: actor.Coordinator}}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	for i := range rate * seconds {
		<-tick.C
		wg.Go(func() {
			d := gen.Customer(10_000_000 + i)
			d.Email = fmt.Sprintf("lag%d-%s@example.org", i, uuid.NewString()[:8])
			res, err := app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: by, Details: d})
			check(err)
			now := time.Now()
			mu.Lock()
			if _, ok := read[res.CustomerID]; ok {
				lags = append(lags, 0)
				delete(read, res.CustomerID)
			} else {
				appended[res.CustomerID] = now
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		left := len(appended)
		mu.Unlock()
		if left == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("lag from a registration's append to the subscriber, %d/s for %d s (Redis Streams, embedded store): p50 %s p99 %s max %s (%d measured, %d missing)\n",
		rate, seconds, latency.Percentile(lags, 50), latency.Percentile(lags, 99), latency.Percentile(lags, 100), len(lags), len(appended))
}

func subjectOf(payload string) string {
	const key = `"subject":"`
	for i := 0; i+len(key) < len(payload); i++ {
		if payload[i:i+len(key)] == key {
			j := i + len(key)
			k := j
			for k < len(payload) && payload[k] != '"' {
				k++
			}
			return payload[j:k]
		}
	}
	return ""
}

// writeLog writes n registrations and n invoices from 32 writers.
func writeLog(ctx context.Context, wl *loadlog.Log, n int) int64 {
	var next, written atomic.Int64
	var wg sync.WaitGroup
	by := actor.Actor{ID: "load", Name: "relayload", Role: actor.System}
	for w := range 32 {
		gen := synthetic.NewGenerator(uint64(w))
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				id := uuid.Must(uuid.NewV7())
				md := codec.Metadata{OccurredAt: time.Now(), Actor: by}
				d := gen.Customer(i)
				data, _, err := wl.Codec.Encode(ctx, codec.Batch{Stream: customer.Stream.Name(id.String()), Subject: id, NewSubject: true},
					md, customer.Registered{CustomerID: id.String(), Number: int64(i + 1), Details: d})
				check(err)
				_, err = wl.Store.Append(ctx, customer.Stream.Name(id.String()), eventstore.NoStream(), data...)
				check(err)
				inv := account.InvoiceIssued{Number: "INV-1", IssuedOn: account.DateOf(md.OccurredAt), DueOn: account.DateOf(md.OccurredAt) + 30,
					Currency: "USD", Subtotal: 10_000, Total: 10_000}
				data, _, err = wl.Codec.Encode(ctx, codec.Batch{Stream: account.Stream.Name(id.String()), Subject: id}, md, inv)
				check(err)
				_, err = wl.Store.Append(ctx, account.Stream.Name(id.String()), eventstore.NoStream(), data...)
				check(err)
				written.Add(2)
			}
		})
	}
	wg.Wait()
	return written.Load()
}

// translateAll builds the relay's messages for the whole log, outside any
// timing, for the baseline.
func translateAll(ctx context.Context, wl *loadlog.Log) []*message.Message {
	var out []*message.Message
	for rec, err := range wl.Store.ReadAll(ctx, eventstore.Position{}, 0) {
		check(err)
		e, meta, err := wl.Codec.Decode(ctx, rec)
		check(err)
		cust := integration.CustomerOfStream(rec.Stream)
		msgs, err := integration.Translate(projections.Event{RecordedEvent: rec, Event: e, Meta: meta}, cust, false)
		check(err)
		for _, m := range msgs {
			wm, err := integration.WatermillMessage(m)
			check(err)
			out = append(out, wm)
		}
	}
	return out
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
