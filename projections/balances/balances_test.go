package balances_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/commands/commandstest"
	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/projections/balances"
	"github.com/fieldservice/customer-service/projections/projectionstest"
	"github.com/fieldservice/customer-service/projections/redistest"
)

var (
	clerk = commandstest.Coordinator
	base  = account.DateOf(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
)

func ptr[T any](v T) *T { return &v }

// randomAccounts registers customers and runs random account commands on
// them; refusals are part of the game. It returns the customers' ids and the
// position of the last write.
func randomAccounts(t *testing.T, app *commands.App, rng *rand.Rand, customers, steps int) ([]string, map[string]string, eventstore.Position) {
	t.Helper()
	ctx := context.Background()
	zones := []string{"", "north", "south"}
	var ids []string
	zoneOf := map[string]string{}
	var last eventstore.Position
	for i := range customers {
		res, err := app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: clerk, Details: customer.Details{
			Kind: customer.Company, BusinessName: fmt.Sprintf("Firm %d", i), Email: fmt.Sprintf("firm%d@example.org", i),
			ServiceZone: zones[i%3], Salesperson: []string{"ann", "bob"}[i%2], PaymentTerm: "net_30"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.CustomerID)
		zoneOf[res.CustomerID] = zones[i%3]
	}
	numbers := map[string]int{}
	wrote := 0
	for range steps {
		id := ids[rng.IntN(len(ids))]
		a, err := app.Account.Account(ctx, commands.AccountState{CustomerID: id})
		if err != nil {
			t.Fatal(err)
		}
		invoices := a.Invoices()
		anInvoice := func() string {
			if len(invoices) == 0 || rng.IntN(10) == 0 {
				return "NONE"
			}
			return invoices[rng.IntN(len(invoices))].Number
		}
		on := base + account.Date(rng.IntN(200))
		var res commands.Result
		switch rng.IntN(9) {
		case 0, 1, 2:
			numbers[id]++
			in := account.InvoiceInput{Number: fmt.Sprintf("INV-%d", numbers[id]), IssuedOn: on, Currency: "USD", Subtotal: 1 + rng.Int64N(50_000)}
			if rng.IntN(2) == 0 {
				in.DueOn = ptr(on + account.Date(rng.IntN(60)))
			}
			res, err = app.Account.IssueInvoice(ctx, commands.IssueInvoice{Meta: clerk, CustomerID: id, Invoice: in})
		case 3, 4:
			in := account.PaymentInput{Amount: 1 + rng.Int64N(60_000), Currency: "USD", Method: account.Check, ReceivedOn: on}
			if rng.IntN(3) == 0 {
				in.Allocations = []account.Allocation{{Invoice: anInvoice(), Amount: 1 + rng.Int64N(20_000)}}
			}
			res, err = app.Account.ReceivePayment(ctx, commands.ReceivePayment{Meta: clerk, CustomerID: id, Payment: in})
		case 5:
			res, err = refundSome(ctx, app, rng, id, on)
		case 6:
			res, err = app.Account.AddStoreCredit(ctx, commands.AddStoreCredit{Meta: clerk, CustomerID: id,
				Credit: account.CreditInput{Amount: 1 + rng.Int64N(10_000), Currency: "USD", AddedOn: on, Reference: "GC"}})
		case 7:
			if rng.IntN(2) == 0 {
				res, err = app.Account.ApplyStoreCredit(ctx, commands.ApplyStoreCredit{Meta: clerk, CustomerID: id, Invoice: anInvoice(), On: on})
			} else {
				res, err = app.Account.VoidInvoice(ctx, commands.VoidInvoice{Meta: clerk, CustomerID: id, Number: anInvoice(), On: on})
			}
		case 8:
			if rng.IntN(2) == 0 {
				res, err = app.Account.SetCreditLimit(ctx, commands.SetCreditLimit{Meta: clerk, CustomerID: id, Limit: ptr(rng.Int64N(80_000)), Currency: "USD"})
			} else {
				zone := zones[rng.IntN(3)]
				res, err = app.UpdateCustomer.Handle(ctx, commands.UpdateCustomer{Meta: clerk, CustomerID: id,
					Patch: customer.Patch{ServiceZone: &zone}})
				if err == nil {
					zoneOf[id] = zone
				}
			}
		}
		if err != nil && !errors.Is(err, account.ErrInvalid) {
			t.Fatal(err)
		}
		if err == nil && !res.Position.IsZero() {
			last = res.Position
			wrote++
		}
	}
	if wrote < steps/2 {
		t.Fatalf("only %d of %d random commands wrote: the test exercises too little", wrote, steps)
	}
	t.Logf("%d of %d random commands wrote", wrote, steps)
	return ids, zoneOf, last
}

// refundSome refunds part of a random payment of the customer.
func refundSome(ctx context.Context, app *commands.App, rng *rand.Rand, id string, on account.Date) (commands.Result, error) {
	a, err := app.Account.Account(ctx, commands.AccountState{CustomerID: id})
	if err != nil {
		return commands.Result{}, err
	}
	ids := a.PaymentIDs()
	if len(ids) == 0 {
		return commands.Result{}, nil
	}
	pid := ids[rng.IntN(len(ids))]
	p, _ := a.Payment(pid)
	left := p.Amount - p.Refunded
	if left <= 0 {
		return commands.Result{}, nil
	}
	return app.Account.RefundPayment(ctx, commands.RefundPayment{Meta: clerk, CustomerID: id,
		Refund: account.RefundInput{PaymentID: pid, Amount: 1 + rng.Int64N(left), RefundedOn: on}})
}

// TestTheModelIsAFoldOfTheEvents checks, for random account histories, that
// each customer's standing, history and place in the rankings, and the
// company's totals, equal what folding the events directly gives, on several
// dates; and that a rebuild gives the same keys and values.
func TestTheModelIsAFoldOfTheEvents(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	w := commandstest.New(t)
	runner := projectionstest.Runner(t, w, rdb, balances.Projector{}, 3) // small batches: many commits
	projectionstest.Start(t, runner)
	rng := rand.New(rand.NewPCG(1, 2))
	ids, zoneOf, last := randomAccounts(t, w.App, rng, 12, 400)
	projectionstest.Sync(t, runner, last)
	ctx := context.Background()

	for _, asOf := range []account.Date{base - 10, base + 45, base + 120, base + 400} {
		var want account.Buckets
		var credit int64
		var wantOpen, wantOverdue, northOpen, northOverdue []balances.Standing
		for _, id := range ids {
			a, err := w.App.Account.Account(ctx, commands.AccountState{CustomerID: id})
			if err != nil {
				t.Fatal(err)
			}
			fold := a.Summary(asOf)
			got, ok, err := balances.Balance(ctx, rdb, id, asOf)
			if err != nil || !ok {
				t.Fatalf("balance of %s: %v %v", id, ok, err)
			}
			if !reflect.DeepEqual(got.Summary, fold) || got.Version != a.Version() {
				t.Errorf("%s on %s:\n model %+v\n fold  %+v", id, asOf, got.Summary, fold)
			}
			want = want.Add(fold.Buckets)
			credit += fold.StoreCredit
			if fold.Open > 0 {
				wantOpen = append(wantOpen, got)
				if zoneOf[id] == "north" {
					northOpen = append(northOpen, got)
				}
			}
			if fold.Overdue > 0 {
				wantOverdue = append(wantOverdue, got)
				if zoneOf[id] == "north" {
					northOverdue = append(northOverdue, got)
				}
			}
			page, ok, err := balances.History(ctx, rdb, id, "", 1000)
			if err != nil || !ok {
				t.Fatal(err)
			}
			if n := len(page.Lines); n > 0 && page.Lines[n-1].Balance != fold.Open-fold.StoreCredit {
				t.Errorf("%s: history ends at %d, want open %d less credit %d", id, page.Lines[n-1].Balance, fold.Open, fold.StoreCredit)
			}
		}
		rep, err := balances.UnpaidBalances(ctx, rdb, balances.ReportRequest{AsOf: asOf})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Totals != want || rep.StoreCredit != credit {
			t.Errorf("totals on %s: %+v credit %d, want %+v credit %d", asOf, rep.Totals, rep.StoreCredit, want, credit)
		}
		for _, c := range []struct {
			order balances.Order
			zone  string
			want  []balances.Standing
		}{{balances.ByOpen, "", wantOpen}, {balances.ByOverdue, "", wantOverdue}, {balances.ByOpen, "north", northOpen}, {balances.ByOverdue, "north", northOverdue}} {
			order, wantRows := c.order, c.want
			amount := func(s balances.Standing) int64 { return s.Open }
			if order == balances.ByOverdue {
				amount = func(s balances.Standing) int64 { return s.Overdue }
			}
			got := pages(t, rdb, balances.ReportRequest{AsOf: asOf, Order: order, Zone: c.zone, Limit: 3})
			if order == balances.ByOverdue {
				// The same by walking the ranking by what is open.
				restore := balances.SetFewOverdue(0)
				walked := pages(t, rdb, balances.ReportRequest{AsOf: asOf, Order: order, Zone: c.zone, Limit: 3})
				restore()
				if !sameCustomers(walked, got) {
					t.Errorf("overdue ranking (zone %q) on %s: the walk finds other customers than the direct read", c.zone, asOf)
				}
			}
			if len(got) != len(wantRows) {
				t.Fatalf("%s ranking (zone %q) on %s: %d rows, want %d", order, c.zone, asOf, len(got), len(wantRows))
			}
			for i := 1; i < len(got); i++ {
				if amount(got[i]) > amount(got[i-1]) {
					t.Errorf("%s ranking on %s: row %d (%d) above row %d (%d)", order, asOf, i, amount(got[i]), i-1, amount(got[i-1]))
				}
			}
			if !sameCustomers(got, wantRows) {
				t.Errorf("%s ranking on %s: other customers than the fold's", order, asOf)
			}
		}
	}

	// A build from the log into another Redis holds the same keys and values.
	before := projectionstest.Digest(t, rdb, balances.Name)
	other := redistest.Start(t).Client(t)
	rebuilt := projectionstest.Runner(t, w, other, balances.Projector{}, 1000)
	projectionstest.Start(t, rebuilt)
	projectionstest.Sync(t, rebuilt, last)
	if after := projectionstest.Digest(t, other, balances.Name); after != before {
		t.Error("a rebuild holds other keys or values than the live model")
	}
}

func pages(t *testing.T, rdb *redis.Client, q balances.ReportRequest) []balances.Standing {
	t.Helper()
	var out []balances.Standing
	for range 100 {
		rep, err := balances.UnpaidBalances(context.Background(), rdb, q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rep.Rows...)
		if rep.Next == "" {
			return out
		}
		q.After = rep.Next
	}
	t.Fatal("the pages do not end")
	return nil
}

func sameCustomers(a, b []balances.Standing) bool {
	ids := func(s []balances.Standing) []string {
		var out []string
		for _, x := range s {
			out = append(out, x.CustomerID)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(ids(a), ids(b))
}
