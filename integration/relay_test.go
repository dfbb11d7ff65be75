package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	nc "github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/commands/commandstest"
	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/credential"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/integration"
	"github.com/fieldservice/customer-service/integration/natstest"
	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/projectionstest"
	"github.com/fieldservice/customer-service/projections/redistest"
)

var office = commandstest.Coordinator

// secret values no public message may hold, and no message at all for the
// credential's.
const (
	password = "Pw-Integration-7731!"
	lastName = "Quennell"
)

// workload runs n random commands on a few customers: registrations, edits,
// invoices, payments, credentials and their reveals, archivings. It returns
// the last position written.
func workload(t *testing.T, app *commands.App, rng *rand.Rand, n int) eventstore.Position {
	t.Helper()
	ctx := context.Background()
	var ids, creds []string
	var last eventstore.Position
	for i := range n {
		var pos eventstore.Position
		var err error
		switch op := rng.IntN(10); {
		case len(ids) < 3 || op == 0:
			var r commands.Result
			r, err = app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: office, Details: customer.Details{
				Kind: customer.Person, FirstName: fmt.Sprintf("Ida%d", i), LastName: lastName, Email: fmt.Sprintf("ida%d-%d@example.org", i, rng.Uint32()),
				Phones: []customer.Phone{{Number: "+14155550100", Type: customer.Mobile}}, Source: []string{"referral", "web"}[i%2],
				Salesperson: "sam", ServiceZone: "north"}})
			ids, pos = append(ids, r.CustomerID), r.Position
		case op < 4:
			zone := fmt.Sprintf("zone-%d", i)
			var r commands.Result
			r, err = app.UpdateCustomer.Handle(ctx, commands.UpdateCustomer{Meta: office, CustomerID: ids[rng.IntN(len(ids))],
				Patch: customer.Patch{ServiceZone: &zone, FirstName: ptr(fmt.Sprintf("Ada%d", i))}})
			pos = r.Position
		case op < 6:
			var r commands.Result
			r, err = app.Account.IssueInvoice(ctx, commands.IssueInvoice{Meta: office, CustomerID: ids[rng.IntN(len(ids))],
				Invoice: account.InvoiceInput{Number: fmt.Sprintf("INV-%d", i), Currency: "USD", Subtotal: 1 + rng.Int64N(90_000)}})
			pos = r.Position
		case op < 8:
			var r commands.CredentialResult
			r, err = app.Credentials.Create(ctx, commands.CreateCredential{Meta: office, CustomerID: ids[rng.IntN(len(ids))],
				Credential: credential.Input{Name: fmt.Sprintf("Panel %d", i), Username: "installer", Password: password}})
			creds, pos = append(creds, r.CredentialID), r.Position
		default:
			if len(creds) == 0 {
				continue
			}
			var s commands.Secrets
			s, err = app.Credentials.Reveal(ctx, commands.RevealCredential{Meta: office, CredentialID: creds[rng.IntN(len(creds))]})
			pos = s.Position
		}
		if err != nil {
			t.Fatal(err)
		}
		if !pos.IsZero() {
			last = pos
		}
	}
	return last
}

func ptr[T any](v T) *T { return &v }

// published is what the log says must be published: the public events' ids
// in log order, with their customers.
type published struct {
	ids      []string
	customer map[string]string
}

func expected(t *testing.T, w commandstest.World) published {
	t.Helper()
	p := published{customer: map[string]string{}}
	owner := map[string]string{}
	for rec, err := range w.Store.ReadAll(context.Background(), eventstore.Position{}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(integration.StoredTypes(), rec.Type) {
			continue
		}
		e, meta, err := w.Codec.Decode(context.Background(), rec)
		if err != nil {
			t.Fatal(err)
		}
		cust, ok := customer.Stream.ID(rec.Stream)
		if !ok {
			cust, ok = account.Stream.ID(rec.Stream)
		}
		if id, isCred := credential.Stream.ID(rec.Stream); isCred {
			if c, created := e.(credential.Created); created {
				owner[id] = c.CustomerID
			}
			cust, ok = owner[id], true
		}
		if !ok {
			t.Fatalf("%s: whose?", rec.Stream)
		}
		msgs, err := integration.Translate(projections.Event{RecordedEvent: rec, Event: e, Meta: meta}, cust, false)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("%s: %d messages, %v", rec.Type, len(msgs), err)
		}
		p.ids = append(p.ids, rec.ID.String())
		p.customer[rec.ID.String()] = cust
	}
	return p
}

// check compares what a subscriber received (CloudEvents in arrival order,
// duplicates allowed) with what the log says: every event, and per customer
// in log order.
func (p published) check(t *testing.T, got []event.Event) {
	t.Helper()
	seen := map[string]bool{}
	var order []string
	for _, e := range got {
		if err := e.Validate(); err != nil {
			t.Fatalf("not a valid CloudEvent: %v", err)
		}
		if !seen[e.ID()] {
			seen[e.ID()] = true
			order = append(order, e.ID())
		}
		if body := string(e.Data()); strings.Contains(body, password) || strings.Contains(body, lastName) {
			t.Fatalf("%s carries a personal or secret value: %s", e.Type(), body)
		}
	}
	for _, id := range p.ids {
		if !seen[id] {
			t.Fatalf("event %s never arrived (%d of %d did, %d messages)", id, len(seen), len(p.ids), len(got))
		}
	}
	// Per customer, first arrivals follow the log.
	rank := map[string]int{}
	for i, id := range p.ids {
		rank[id] = i
	}
	lastOf := map[string]int{}
	for _, id := range order {
		c := p.customer[id]
		if r, ok := lastOf[c]; ok && rank[id] < r {
			t.Fatalf("customer %s: event %s arrived after a later one", c, id)
		}
		lastOf[c] = rank[id]
	}
}

func startRelay(t *testing.T, w commandstest.World, bus *integration.Bus) *projections.Runner {
	t.Helper()
	srv := redistest.Start(t)
	runner := projectionstest.Runner(t, w, srv.Client(t), integration.Relay{Publisher: bus}, 16)
	projectionstest.Start(t, runner)
	return runner
}

// waitFor waits, at most 60 s, for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The relay publishes to Redis Streams; the bus's redis-server dies mid-stream
// and comes back empty (no persistence). A subscriber reading all along gets
// every event, per customer in order: the relay's checkpoint did not move
// past what the broker had not taken.
func TestRelayToRedisStreamsAcrossARestart(t *testing.T) {
	w := commandstest.New(t)
	busSrv := redistest.Start(t)
	busClient := redis.NewClient(&redis.Options{Addr: busSrv.Addr, MaxRetries: 1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { busClient.Close() })
	bus, err := integration.NewBus(integration.BusConfig{Kind: integration.Redis, Redis: busClient})
	if err != nil {
		t.Fatal(err)
	}
	runner := startRelay(t, w, bus)

	var mu sync.Mutex
	var got []event.Event
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { // the subscriber: XREAD from where it was, through the outage
		defer close(done)
		reader := redis.NewClient(&redis.Options{Addr: busSrv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		defer reader.Close()
		last := "0"
		for ctx.Err() == nil {
			res, err := reader.XRead(ctx, &redis.XReadArgs{Streams: []string{integration.Public, last}, Block: 50 * time.Millisecond, Count: 500}).Result()
			if err != nil {
				time.Sleep(20 * time.Millisecond) // the broker is down: retry
				continue
			}
			for _, m := range res[0].Messages {
				last = m.ID
				var e event.Event
				if err := json.Unmarshal([]byte(m.Values["payload"].(string)), &e); err != nil {
					t.Errorf("payload: %v", err)
					continue
				}
				mu.Lock()
				got = append(got, e)
				mu.Unlock()
			}
		}
	}()
	received := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }

	rng := rand.New(rand.NewPCG(1, 2))
	workload(t, w.App, rng, 60)
	waitFor(t, "the first events", func() bool { return received() > 0 })
	busSrv.Stop()
	last := workload(t, w.App, rng, 60) // written while the broker is down
	if st := runner.Status(); st.Checkpoint.Compare(last) >= 0 {
		t.Fatalf("the relay's checkpoint %v reached %v with the broker down", st.Checkpoint, last)
	}
	if err := busSrv.Restart(); err != nil {
		t.Fatal(err)
	}
	last = workload(t, w.App, rng, 60)
	projectionstest.Sync(t, runner, last)
	want := expected(t, w)
	waitFor(t, "every event at the subscriber", func() bool { return received() >= len(want.ids) })
	stop()
	<-done
	want.check(t, got)
}

// The same through NATS JetStream, whose server is killed mid-stream and
// restarted on its store.
func TestRelayToNATSAcrossARestart(t *testing.T) {
	w := commandstest.New(t)
	ns := natstest.Start(t)
	bus, err := integration.NewBus(integration.BusConfig{Kind: integration.NATS, NATSURL: ns.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close() })
	runner := startRelay(t, w, bus)
	rng := rand.New(rand.NewPCG(3, 4))
	first := workload(t, w.App, rng, 60)
	projectionstest.Sync(t, runner, first)
	ns.Stop()
	last := workload(t, w.App, rng, 60)
	if st := runner.Status(); st.Checkpoint.Compare(last) >= 0 {
		t.Fatalf("the relay's checkpoint %v reached %v with the broker down", st.Checkpoint, last)
	}
	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	last = workload(t, w.App, rng, 60)
	projectionstest.Sync(t, runner, last)

	// Read the whole stream back, in its order.
	conn, err := nc.Connect(ns.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	js, err := conn.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	sub, err := js.SubscribeSync(integration.Public, nc.OrderedConsumer())
	if err != nil {
		t.Fatal(err)
	}
	want := expected(t, w)
	var got []event.Event
	for len(got) < len(want.ids) {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("after %d messages: %v", len(got), err)
		}
		var e event.Event
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	want.check(t, got)
}
