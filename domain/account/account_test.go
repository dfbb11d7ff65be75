package account_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/actor"
)

var (
	clerk = actor.Actor{ID: "u-1", Name: "Dana Clerk", Role: actor.Coordinator}
	t0    = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	day   = account.DateOf(t0)
)

func ptr[T any](v T) *T { return &v }

// run applies decisions in turn to a new account, failing on any refusal.
func run(t *testing.T, steps ...func(*account.Account) ([]account.Event, error)) *account.Account {
	t.Helper()
	a := account.New("c-1")
	for i, step := range steps {
		events, err := step(a)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		for _, e := range events {
			if err := a.Apply(account.Recorded{Event: e, At: t0, By: clerk}); err != nil {
				t.Fatalf("step %d: apply: %v", i, err)
			}
		}
	}
	return a
}

func invoice(number string, subtotal int64, due account.Date) func(*account.Account) ([]account.Event, error) {
	return func(a *account.Account) ([]account.Event, error) {
		return a.IssueInvoice(account.InvoiceInput{Number: number, IssuedOn: min(day, due), DueOn: &due, Currency: "USD", Subtotal: subtotal, Tax: ptr[int64](0)}, account.Terms{})
	}
}

func pay(id string, amount int64, allocs ...account.Allocation) func(*account.Account) ([]account.Event, error) {
	return func(a *account.Account) ([]account.Event, error) {
		return a.ReceivePayment(account.PaymentInput{PaymentID: id, Amount: amount, Method: account.Card, ReceivedOn: day, Allocations: allocs})
	}
}

// paths lists a refusal's field paths and kinds.
func paths(t *testing.T, err error) []string {
	t.Helper()
	var ae *account.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want *account.Error, got %v", err)
	}
	var out []string
	for _, p := range ae.Problems {
		out = append(out, p.Path)
	}
	return out
}

func TestInvoiceTermsComeFromTheCustomer(t *testing.T) {
	a := account.New("c-1")
	in := account.InvoiceInput{Number: "INV-1", IssuedOn: day, Currency: "usd", Subtotal: 10_000}
	for _, c := range []struct {
		name  string
		terms account.Terms
		due   account.Date
		tax   int64
		check func(account.InvoiceIssued) bool
	}{
		{"no term: due on receipt", account.Terms{}, day, 0, nil},
		{"net 30 at 8.875%", account.Terms{PaymentTerm: "net_30", TaxRate: 88_750}, day + 30, 888, nil},
		{"written as people do", account.Terms{PaymentTerm: "Net 15"}, day + 15, 0, nil},
		{"tax exempt", account.Terms{TaxExempt: true, TaxExemptReason: "charity", TaxRate: 0}, day, 0,
			func(e account.InvoiceIssued) bool { return e.TaxExemptReason == "charity" }},
		{"company name", account.Terms{UseCompanyName: true}, day, 0,
			func(e account.InvoiceIssued) bool { return e.BillToCompany }},
	} {
		events, err := a.IssueInvoice(in, c.terms)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		e := events[0].(account.InvoiceIssued)
		if e.DueOn != c.due || e.Tax != c.tax || e.Total != 10_000+c.tax || e.Currency != "USD" || c.check != nil && !c.check(e) {
			t.Errorf("%s: got %+v", c.name, e)
		}
	}
	_, err := a.IssueInvoice(in, account.Terms{PaymentTerm: "when convenient"})
	if !errors.Is(err, account.ErrUnknownPaymentTerm) || !slices.Equal(paths(t, err), []string{"due_on"}) {
		t.Errorf("unknown term: %v", err)
	}
	_, err = a.IssueInvoice(account.InvoiceInput{Number: "INV-1", IssuedOn: day, Currency: "USD", Subtotal: 100, Tax: ptr[int64](5)},
		account.Terms{TaxExempt: true, TaxExemptReason: "charity"})
	if !errors.Is(err, account.ErrTaxExempt) {
		t.Errorf("tax on an exempt customer: %v", err)
	}
}

func TestBadInputIsRefusedWithEveryProblem(t *testing.T) {
	a := run(t, invoice("INV-1", 5_000, day+30))
	_, err := a.IssueInvoice(account.InvoiceInput{Number: "INV-1", IssuedOn: day, DueOn: ptr(day - 1), Currency: "EUR", Subtotal: -1}, account.Terms{})
	want := []string{"number", "currency", "subtotal", "due_on"}
	if got := paths(t, err); !slices.Equal(got, want) {
		t.Errorf("paths %v, want %v", got, want)
	}
	for _, kind := range []error{account.ErrDuplicateInvoice, account.ErrCurrencyMismatch, account.ErrAmount, account.ErrDates, account.ErrInvalid} {
		if !errors.Is(err, kind) {
			t.Errorf("not %v: %v", kind, err)
		}
	}
	_, err = a.IssueInvoice(account.InvoiceInput{Number: "INV-2", IssuedOn: day, Currency: "XYZ", Subtotal: account.MaxAmount, Tax: ptr[int64](1)}, account.Terms{})
	if !errors.Is(err, account.ErrUnknownCurrency) || !errors.Is(err, account.ErrOverflow) {
		t.Errorf("unknown currency and overflow: %v", err)
	}
	_, err = a.ReceivePayment(account.PaymentInput{PaymentID: "P-1", Amount: 1_000, Method: account.Cash, ReceivedOn: day,
		Allocations: []account.Allocation{{Invoice: "INV-1", Amount: 600}, {Invoice: "INV-1", Amount: 600}, {Invoice: "NOPE", Amount: 1}}})
	if !errors.Is(err, account.ErrOverAllocated) || !errors.Is(err, account.ErrInvoiceNotFound) {
		t.Errorf("over-allocation: %v", err)
	}
	_, err = a.ReceivePayment(account.PaymentInput{PaymentID: "P-1", Amount: 9_000, Method: account.Cash, ReceivedOn: day,
		Allocations: []account.Allocation{{Invoice: "INV-1", Amount: 5_001}}})
	if !errors.Is(err, account.ErrOverAllocated) {
		t.Errorf("more than open on the invoice: %v", err)
	}
	if _, err := a.ApplyStoreCredit("INV-1", 1, day); !errors.Is(err, account.ErrInsufficientCredit) {
		t.Errorf("credit not held: %v", err)
	}
	if a.Version() != 1 {
		t.Errorf("refusals changed the account: version %d", a.Version())
	}
}

func TestPaymentsAllocateAndTheRestIsStoreCredit(t *testing.T) {
	a := run(t,
		invoice("INV-1", 5_000, day+30),
		invoice("INV-2", 3_000, day+10),
		pay("P-1", 10_000), // oldest due first: INV-2, then INV-1, 2,000 to credit
	)
	if i, _ := a.Invoice("INV-1"); i.Open() != 0 {
		t.Errorf("INV-1 open %d", i.Open())
	}
	if a.StoreCredit() != 2_000 {
		t.Errorf("store credit %d, want 2000", a.StoreCredit())
	}
	p, _ := a.Payment("P-1")
	if want := []account.Allocation{{Invoice: "INV-2", Amount: 3_000}, {Invoice: "INV-1", Amount: 5_000}}; !reflect.DeepEqual(p.Allocated, want) {
		t.Errorf("allocated %v, want %v", p.Allocated, want)
	}
	// Voiding a paid invoice needs a refund first.
	if _, err := a.VoidInvoice("INV-1", "", day); !errors.Is(err, account.ErrInvoicePaid) {
		t.Errorf("void of a paid invoice: %v", err)
	}
	// A refund takes from the payment's store credit first, then its last invoice.
	events, err := a.RefundPayment(account.RefundInput{PaymentID: "P-1", Amount: 3_000, RefundedOn: day})
	if err != nil {
		t.Fatal(err)
	}
	r := events[0].(account.PaymentRefunded)
	if r.FromCredit != 2_000 || !reflect.DeepEqual(r.Invoices, []account.Allocation{{Invoice: "INV-1", Amount: 1_000}}) {
		t.Errorf("refund %+v", r)
	}
	if err := a.Apply(account.Recorded{Event: r}); err != nil {
		t.Fatal(err)
	}
	if i, _ := a.Invoice("INV-1"); i.Open() != 1_000 || a.StoreCredit() != 0 {
		t.Errorf("after refund: INV-1 open %d, credit %d", i.Open(), a.StoreCredit())
	}
	if _, err := a.RefundPayment(account.RefundInput{PaymentID: "P-1", Amount: 7_001, RefundedOn: day}); !errors.Is(err, account.ErrOverRefunded) {
		t.Errorf("refund beyond the payment: %v", err)
	}
}

func TestStoreCreditAppliedReturnsWhenTheInvoiceIsVoided(t *testing.T) {
	a := run(t,
		invoice("INV-1", 5_000, day+30),
		func(a *account.Account) ([]account.Event, error) {
			return a.AddStoreCredit(account.CreditInput{Amount: 2_000, AddedOn: day, Reference: "GC-7", Message: "sorry for the wait"})
		},
		func(a *account.Account) ([]account.Event, error) { return a.ApplyStoreCredit("INV-1", 0, day) },
	)
	if i, _ := a.Invoice("INV-1"); i.Open() != 3_000 || a.StoreCredit() != 0 {
		t.Fatalf("after applying: open %d, credit %d", i.Open(), a.StoreCredit())
	}
	events, err := a.VoidInvoice("INV-1", "duplicate", day)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(account.Recorded{Event: events[0]}); err != nil {
		t.Fatal(err)
	}
	if i, _ := a.Invoice("INV-1"); i.Open() != 0 || !i.Voided || a.StoreCredit() != 2_000 {
		t.Errorf("after void: %+v, credit %d", i, a.StoreCredit())
	}
	if _, err := a.ReceivePayment(account.PaymentInput{PaymentID: "P-1", Amount: 100, Method: account.Cash, ReceivedOn: day,
		Allocations: []account.Allocation{{Invoice: "INV-1", Amount: 100}}}); !errors.Is(err, account.ErrInvoiceVoided) {
		t.Errorf("paying a voided invoice: %v", err)
	}
}

func TestAgingMovesWithTheDateAlone(t *testing.T) {
	a := run(t,
		invoice("INV-1", 1_000, day),    // due today
		invoice("INV-2", 2_000, day-45), // 45 days late
		invoice("INV-3", 4_000, day-100),
		func(a *account.Account) ([]account.Event, error) {
			return a.SetCreditLimit(ptr[int64](10_000), "")
		},
	)
	s := a.Summary(day)
	want := account.Buckets{Current: 1_000, Days31to60: 2_000, Over90: 4_000}
	if s.Buckets != want || s.Open != 7_000 || s.Overdue != 6_000 || *s.OldestDue != day-100 {
		t.Errorf("today: %+v", s)
	}
	if !s.Hold.Overdue90 || s.Hold.OverLimit || !s.Hold.On() {
		t.Errorf("hold today: %+v", s.Hold)
	}
	later := a.Summary(day + 31)
	if want := (account.Buckets{Days31to60: 1_000, Days61to90: 2_000, Over90: 4_000}); later.Buckets != want {
		t.Errorf("a month later: %+v", later.Buckets)
	}
	earlier := a.Summary(day - 46)
	if want := (account.Buckets{Current: 3_000, Days31to60: 4_000}); earlier.Buckets != want || earlier.Hold.On() {
		t.Errorf("46 days earlier: %+v", earlier)
	}
}

func TestCurrencyIsTheAccountsOne(t *testing.T) {
	a := account.New("c-1")
	if _, err := a.AddStoreCredit(account.CreditInput{Amount: 1, AddedOn: day}); !errors.Is(err, account.ErrRequired) {
		t.Errorf("first amount without a currency: %v", err)
	}
	a = run(t, func(a *account.Account) ([]account.Event, error) {
		return a.AddStoreCredit(account.CreditInput{Amount: 1, Currency: "jpy", AddedOn: day})
	})
	if a.Currency() != "JPY" {
		t.Errorf("currency %q", a.Currency())
	}
	if _, err := a.SetCreditLimit(ptr[int64](5), "USD"); !errors.Is(err, account.ErrCurrencyMismatch) {
		t.Errorf("limit in another currency: %v", err)
	}
}
