package commands_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/customer"
)

func TestAccountCommands(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d := details("ada@example.org")
	d.PaymentTerm, d.TaxRate = "net_15", 50_000 // 5%
	reg, err := f.app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: coordinator, Details: d})
	if err != nil {
		t.Fatal(err)
	}
	id := reg.CustomerID
	res, err := f.app.Account.IssueInvoice(ctx, commands.IssueInvoice{Meta: coordinator, CustomerID: id,
		Invoice: account.InvoiceInput{Number: "INV-1", Currency: "USD", Subtotal: 20_000}})
	if err != nil || res.Version != 1 || res.CustomerID != id {
		t.Fatalf("invoice: %+v %v", res, err)
	}
	a, err := f.app.Account.Account(ctx, commands.AccountState{CustomerID: id})
	if err != nil {
		t.Fatal(err)
	}
	inv, _ := a.Invoice("INV-1")
	if inv.Tax != 1_000 || inv.DueOn != inv.IssuedOn+15 || inv.Term != "net_15" {
		t.Errorf("the customer's terms did not apply: %+v", inv)
	}

	// Who may move money, on which version, for which customer.
	if _, err := f.app.Account.ReceivePayment(ctx, commands.ReceivePayment{Meta: technician, CustomerID: id,
		Payment: account.PaymentInput{Amount: 1, Method: account.Cash}}); !errors.Is(err, commands.ErrForbidden) {
		t.Errorf("technician pays: %v", err)
	}
	var stale *commands.StaleVersionError
	if _, err := f.app.Account.ReceivePayment(ctx, commands.ReceivePayment{Meta: coordinator, CustomerID: id, SeenVersion: 7,
		Payment: account.PaymentInput{Amount: 1, Method: account.Cash}}); !errors.As(err, &stale) || stale.Actual != 1 {
		t.Errorf("stale version: %v", err)
	}
	if _, err := f.app.Account.AddStoreCredit(ctx, commands.AddStoreCredit{Meta: coordinator, CustomerID: "00000000-0000-0000-0000-000000000001",
		Credit: account.CreditInput{Amount: 1, Currency: "USD"}}); !errors.Is(err, commands.ErrCustomerNotFound) {
		t.Errorf("no customer: %v", err)
	}

	// An archived customer still pays; an erased one keeps its amounts and its
	// chain, pays, and gets no new invoice, credit or free text.
	if _, err := f.app.ArchiveCustomer.Handle(ctx, commands.ArchiveCustomer{Meta: coordinator, CustomerID: id, Reason: "closed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Account.ReceivePayment(ctx, commands.ReceivePayment{Meta: coordinator, CustomerID: id,
		Payment: account.PaymentInput{Amount: 5_000, Method: account.Card}}); err != nil {
		t.Errorf("payment by an archived customer: %v", err)
	}
	if _, err := f.app.Account.RefundPayment(ctx, commands.RefundPayment{Meta: coordinator, CustomerID: id,
		Refund: account.RefundInput{PaymentID: paymentID(t, f, id), Amount: 100, Reason: "card fee, Ada asked"}}); err != nil {
		t.Fatal(err)
	}
	// Not while the account owes or holds money.
	var notZero *commands.BalanceNotZeroError
	if _, err := f.app.EraseCustomer.Handle(ctx, commands.EraseCustomer{Meta: admin, CustomerID: id, Reason: customer.SubjectRequest}); !errors.As(err, &notZero) || notZero.Open != 16_100 {
		t.Fatalf("erasure with 161.00 open: %v", err)
	}
	if _, err := f.app.Account.ReceivePayment(ctx, commands.ReceivePayment{Meta: coordinator, CustomerID: id,
		Payment: account.PaymentInput{Amount: 16_100, Method: account.Cash}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.EraseCustomer.Handle(ctx, commands.EraseCustomer{Meta: admin, CustomerID: id, Reason: customer.SubjectRequest}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Account.ReceivePayment(ctx, commands.ReceivePayment{Meta: coordinator, CustomerID: id,
		Payment: account.PaymentInput{Amount: 1_000, Method: account.Cash}}); err != nil {
		t.Errorf("payment by an erased customer: %v", err)
	}
	for name, run := range map[string]func() error{
		"invoice": func() error {
			_, err := f.app.Account.IssueInvoice(ctx, commands.IssueInvoice{Meta: coordinator, CustomerID: id,
				Invoice: account.InvoiceInput{Number: "INV-2", Subtotal: 1}})
			return err
		},
		"void with a reason": func() error {
			_, err := f.app.Account.VoidInvoice(ctx, commands.VoidInvoice{Meta: coordinator, CustomerID: id, Number: "INV-1", Reason: "Ada said so"})
			return err
		},
	} {
		if err := run(); !errors.Is(err, customer.ErrErased) {
			t.Errorf("%s for an erased customer: %v", name, err)
		}
	}
	a, err = f.app.Account.Account(ctx, commands.AccountState{CustomerID: id})
	if err != nil {
		t.Fatal(err)
	}
	if s := a.Summary(inv.DueOn); s.Open != 0 || s.StoreCredit != 1_000 || a.Version() != 5 {
		t.Errorf("the erased customer's account: open %d, credit %d, version %d", s.Open, s.StoreCredit, a.Version())
	}
	if r, err := codec.Verify(ctx, f.store, account.Stream.Name(id)); err != nil || r.Break != nil {
		t.Errorf("the account's chain after erasure: %v %v", err, r.Break)
	}
	// The refund's reason was sealed under the destroyed key: it is in no file.
	for _, path := range []string{f.store.Path()} {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("Ada asked")) {
			t.Errorf("%s holds the refund's reason in clear", path)
		}
	}
}

func paymentID(t *testing.T, f fixture, id string) string {
	t.Helper()
	a, err := f.app.Account.Account(context.Background(), commands.AccountState{CustomerID: id})
	if err != nil {
		t.Fatal(err)
	}
	ids := a.PaymentIDs()
	if len(ids) == 0 {
		t.Fatal("no payment")
	}
	return ids[0]
}
