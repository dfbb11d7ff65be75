package accessreport_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/commands/commandstest"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/credential"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/projections/accessreport"
	"github.com/fieldservice/customer-service/projections/projectionstest"
	"github.com/fieldservice/customer-service/projections/redistest"
)

var people = []commands.Meta{
	commandstest.Admin, commandstest.Coordinator, commandstest.Technician,
	{Actor: actor.Actor{ID: "u-9", Name: "Tia", Role: actor.Technician}},
}

// key is what identifies an entry across the store and the report.
type key struct {
	credential string
	version    uint64
	action     accessreport.Action
}

// randomCredentials creates, edits, reveals and removes credentials of a few
// customers and returns, newest first, every entry the report must hold, and
// the position of the last write.
func randomCredentials(t *testing.T, w commandstest.World, rng *rand.Rand, steps int) ([]accessreport.Entry, eventstore.Position) {
	t.Helper()
	ctx := context.Background()
	var customers []string
	for i := range 3 {
		res, err := w.App.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: commandstest.Coordinator,
			Details: customer.Details{Kind: customer.Company, BusinessName: fmt.Sprintf("Firm %d", i), Email: fmt.Sprintf("f%d@example.org", i)}})
		if err != nil {
			t.Fatal(err)
		}
		customers = append(customers, res.CustomerID)
	}
	var creds []string
	var last eventstore.Position
	for i := range steps {
		who := people[rng.IntN(len(people))]
		var pos eventstore.Position
		var err error
		switch op := rng.IntN(10); {
		case len(creds) == 0 || op < 2:
			var r commands.CredentialResult
			r, err = w.App.Credentials.Create(ctx, commands.CreateCredential{Meta: commandstest.Technician,
				CustomerID: customers[rng.IntN(len(customers))], Credential: credential.Input{Name: fmt.Sprintf("Device %d", i), Password: "pw"}})
			creds, pos = append(creds, r.CredentialID), r.Position
		case op < 4:
			name := fmt.Sprintf("Renamed %d", i)
			var r commands.CredentialResult
			r, err = w.App.Credentials.Change(ctx, commands.ChangeCredential{Meta: commandstest.Coordinator,
				CredentialID: creds[rng.IntN(len(creds))], Patch: credential.Patch{Name: &name}})
			pos = r.Position
		case op < 9:
			var s commands.Secrets
			s, err = w.App.Credentials.Reveal(ctx, commands.RevealCredential{Meta: who, CredentialID: creds[rng.IntN(len(creds))],
				ClientAddress: fmt.Sprintf("10.0.0.%d", rng.IntN(9)), UserAgent: "test", Reason: fmt.Sprintf("ticket %d", i)})
			pos = s.Position
		default:
			var r commands.CredentialResult
			r, err = w.App.Credentials.Remove(ctx, commands.RemoveCredential{Meta: commandstest.Admin, CredentialID: creds[rng.IntN(len(creds))]})
			pos = r.Position
		}
		if err != nil && !errors.Is(err, credential.ErrRemoved) {
			t.Fatal(err)
		}
		if !pos.IsZero() {
			last = pos
		}
	}
	return expected(t, w), last
}

// expected folds the log directly: every credential event, newest first.
func expected(t *testing.T, w commandstest.World) []accessreport.Entry {
	t.Helper()
	var out []accessreport.Entry
	customerOf, nameOf := map[string]string{}, map[string]string{}
	for rec, err := range w.Store.ReadAll(context.Background(), eventstore.Position{}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		id, ok := credential.Stream.ID(rec.Stream)
		if !ok {
			continue
		}
		e, meta, err := w.Codec.Decode(context.Background(), rec)
		if err != nil {
			t.Fatal(err)
		}
		entry := accessreport.Entry{CredentialID: id, Version: rec.Version, ActorID: meta.Actor.ID, At: meta.OccurredAt.Truncate(time.Millisecond)}
		switch e := e.(type) {
		case credential.Created:
			customerOf[id], nameOf[id], entry.Action = e.CustomerID, e.Name, accessreport.Created
		case credential.Changed:
			nameOf[id], entry.Action = *e.Name, accessreport.Changed
		case credential.Revealed:
			entry.Action, entry.ClientAddress, entry.Reason = accessreport.Revealed, e.ClientAddress, e.Reason
		case credential.Removed:
			entry.Action = accessreport.Removed
		}
		entry.CustomerID, entry.CredentialName = customerOf[id], nameOf[id]
		entry.Seq = uint64(len(out) + 1)
		out = append(out, entry)
	}
	slices.SortStableFunc(out, func(a, b accessreport.Entry) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return int(b.Seq) - int(a.Seq)
	})
	return out
}

// all pages through the report with filter f, small pages to cross many.
func all(t *testing.T, ctx context.Context, rdb *redis.Client, f accessreport.Filter) []accessreport.Entry {
	t.Helper()
	var out []accessreport.Entry
	for range 10_000 {
		page, err := accessreport.Query(ctx, rdb, f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Entries...)
		if page.Next == "" {
			return out
		}
		f.After = page.Next
	}
	t.Fatal("the pages never end")
	return nil
}

func TestTheReportIsTheTrailOfTheLog(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	w := commandstest.New(t)
	runner := projectionstest.Runner(t, w, rdb, accessreport.Projector{}, 5)
	projectionstest.Start(t, runner)
	want, last := randomCredentials(t, w, rand.New(rand.NewPCG(3, 4)), 300)
	projectionstest.Sync(t, runner, last)
	ctx := context.Background()

	if n, err := accessreport.Count(ctx, rdb); err != nil || n != uint64(len(want)) {
		t.Fatalf("count %d %v, want %d", n, err, len(want))
	}
	mid := want[len(want)/2].At
	filters := []struct {
		name string
		f    accessreport.Filter
		keep func(accessreport.Entry) bool
	}{
		{"everything", accessreport.Filter{}, func(accessreport.Entry) bool { return true }},
		{"one customer", accessreport.Filter{CustomerID: want[0].CustomerID}, func(e accessreport.Entry) bool { return e.CustomerID == want[0].CustomerID }},
		{"one credential", accessreport.Filter{CredentialID: want[3].CredentialID}, func(e accessreport.Entry) bool { return e.CredentialID == want[3].CredentialID }},
		{"one user", accessreport.Filter{ActorID: "u-9"}, func(e accessreport.Entry) bool { return e.ActorID == "u-9" }},
		{"customer and user", accessreport.Filter{CustomerID: want[0].CustomerID, ActorID: "u-2"},
			func(e accessreport.Entry) bool { return e.CustomerID == want[0].CustomerID && e.ActorID == "u-2" }},
		{"credential and user", accessreport.Filter{CredentialID: want[3].CredentialID, ActorID: "u-1"},
			func(e accessreport.Entry) bool { return e.CredentialID == want[3].CredentialID && e.ActorID == "u-1" }},
		{"until the middle", accessreport.Filter{To: mid}, func(e accessreport.Entry) bool { return !e.At.After(mid) }},
		{"since the middle, one user", accessreport.Filter{From: mid, ActorID: "u-0"}, func(e accessreport.Entry) bool { return !e.At.Before(mid) && e.ActorID == "u-0" }},
	}
	for _, tc := range filters {
		for _, limit := range []int{1, 7, 1000} {
			tc.f.Limit = limit
			got := all(t, ctx, rdb, tc.f)
			var exp []accessreport.Entry
			for _, e := range want {
				if tc.keep(e) {
					exp = append(exp, e)
				}
			}
			if len(exp) == 0 {
				t.Fatalf("%s: the filter selects nothing: the test proves nothing", tc.name)
			}
			if len(got) != len(exp) {
				t.Fatalf("%s, pages of %d: %d entries, want %d", tc.name, limit, len(got), len(exp))
			}
			for i := range got {
				g, e := got[i], exp[i]
				if g.CredentialID != e.CredentialID || g.Version != e.Version || g.Action != e.Action || g.ActorID != e.ActorID ||
					g.CustomerID != e.CustomerID || g.CredentialName != e.CredentialName || !g.At.Equal(e.At) ||
					g.ClientAddress != e.ClientAddress || g.Reason != e.Reason {
					t.Fatalf("%s, pages of %d, entry %d:\n got  %+v\n want %+v", tc.name, limit, i, g, e)
				}
			}
		}
	}
	if _, err := accessreport.Query(ctx, rdb, accessreport.Filter{After: "zz"}); err != accessreport.ErrBadCursor {
		t.Errorf("bad cursor: %v", err)
	}

	// A rebuild in other batches gives the same keys and values.
	before := projectionstest.Digest(t, rdb, accessreport.Name)
	srv2 := redistest.Start(t)
	rdb2 := srv2.Client(t)
	r2 := projectionstest.Runner(t, w, rdb2, accessreport.Projector{}, 64)
	projectionstest.Start(t, r2)
	projectionstest.Sync(t, r2, last)
	if after := projectionstest.Digest(t, rdb2, accessreport.Name); after != before {
		t.Error("a rebuild differs from the live model")
	}
}

// Every successful reveal is in the report exactly once, even when Redis
// restarts (and loses everything) while many clients reveal.
func TestEveryRevealOnceAcrossARedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	w := commandstest.New(t)
	runner := projectionstest.Runner(t, w, rdb, accessreport.Projector{}, 20)
	projectionstest.Start(t, runner)
	ctx := context.Background()
	cust, err := w.App.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: commandstest.Coordinator,
		Details: customer.Details{Kind: customer.Company, BusinessName: "Busy", Email: "busy@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	var creds []string
	for i := range 4 {
		r, err := w.App.Credentials.Create(ctx, commands.CreateCredential{Meta: commandstest.Technician, CustomerID: cust.CustomerID,
			Credential: credential.Input{Name: fmt.Sprintf("Panel %d", i), Password: "pw"}})
		if err != nil {
			t.Fatal(err)
		}
		creds = append(creds, r.CredentialID)
	}
	var mu sync.Mutex
	revealed := map[key]bool{}
	var last eventstore.Position
	var wg sync.WaitGroup
	restarted := make(chan struct{})
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				if c == 0 && i == 10 {
					if err := srv.Restart(); err != nil {
						t.Error(err)
					}
					close(restarted)
				}
				s, err := w.App.Credentials.Reveal(ctx, commands.RevealCredential{Meta: people[c%len(people)], CredentialID: creds[(c+i)%len(creds)]})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				revealed[key{s.CredentialID, s.Version, accessreport.Revealed}] = true
				if s.Position.Compare(last) > 0 {
					last = s.Position
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	<-restarted
	projectionstest.Sync(t, runner, last)
	got := map[key]int{}
	for _, e := range all(t, ctx, rdb, accessreport.Filter{CustomerID: cust.CustomerID, Limit: 1000}) {
		if e.Action == accessreport.Revealed {
			got[key{e.CredentialID, e.Version, e.Action}]++
		}
	}
	if len(revealed) != 8*40 {
		t.Fatalf("%d reveals succeeded, want %d", len(revealed), 8*40)
	}
	for k := range revealed {
		if got[k] != 1 {
			t.Errorf("reveal %v is in the report %d times", k, got[k])
		}
	}
	if len(got) != len(revealed) {
		t.Errorf("the report has %d reveals, %d succeeded", len(got), len(revealed))
	}
}
