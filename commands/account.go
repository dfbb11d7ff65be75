package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/domain/permission"
	"github.com/fieldservice/customer-service/eventstore"
)

// The account commands move money on a customer's account stream. Each one
// names the customer, may name the account version the caller saw (If-Match;
// 0 skips the check) and may carry an idempotency key. A date left zero means
// today. Their Result's Version is the account's version, not the customer's.

// IssueInvoice bills a customer.
type IssueInvoice struct {
	Meta        Meta
	CustomerID  string
	SeenVersion uint64
	Invoice     account.InvoiceInput
}

// VoidInvoice cancels an invoice nothing was paid on.
type VoidInvoice struct {
	Meta        Meta
	CustomerID  string
	SeenVersion uint64
	Number      string
	Reason      string
	On          account.Date
}

// ReceivePayment records a payment. An empty PaymentID gets a new one.
type ReceivePayment struct {
	Meta        Meta
	CustomerID  string
	SeenVersion uint64
	Payment     account.PaymentInput
}

// RefundPayment gives money of a payment back.
type RefundPayment struct {
	Meta        Meta
	CustomerID  string
	SeenVersion uint64
	Refund      account.RefundInput
}

// AddStoreCredit gives the customer store credit.
type AddStoreCredit struct {
	Meta        Meta
	CustomerID  string
	SeenVersion uint64
	Credit      account.CreditInput
}

// ApplyStoreCredit pays an invoice from store credit; Amount 0 applies as
// much as the credit and the invoice allow.
type ApplyStoreCredit struct {
	Meta        Meta
	CustomerID  string
	SeenVersion uint64
	Invoice     string
	Amount      int64
	On          account.Date
}

// SetCreditLimit sets or (nil) removes the credit limit.
type SetCreditLimit struct {
	Meta        Meta
	CustomerID  string
	SeenVersion uint64
	Limit       *int64
	Currency    string
}

// AccountHandler handles every account command.
type AccountHandler struct{ d *deps }

func (h *AccountHandler) IssueInvoice(ctx context.Context, cmd IssueInvoice) (Result, error) {
	return h.run(ctx, cmd.Meta, "IssueInvoice", cmd.input(), cmd.CustomerID, cmd.SeenVersion, "",
		func(a *account.Account, c *customer.Customer, today account.Date) ([]account.Event, error) {
			if c.Erasure() != nil {
				return nil, customer.ErrErased
			}
			in := cmd.Invoice
			in.IssuedOn = orToday(in.IssuedOn, today)
			return a.IssueInvoice(in, account.TermsOf(c.Details()))
		})
}

func (h *AccountHandler) VoidInvoice(ctx context.Context, cmd VoidInvoice) (Result, error) {
	return h.run(ctx, cmd.Meta, "VoidInvoice", cmd.input(), cmd.CustomerID, cmd.SeenVersion, cmd.Reason,
		func(a *account.Account, _ *customer.Customer, today account.Date) ([]account.Event, error) {
			return a.VoidInvoice(cmd.Number, cmd.Reason, orToday(cmd.On, today))
		})
}

func (h *AccountHandler) ReceivePayment(ctx context.Context, cmd ReceivePayment) (Result, error) {
	return h.run(ctx, cmd.Meta, "ReceivePayment", cmd.input(), cmd.CustomerID, cmd.SeenVersion, "",
		func(a *account.Account, _ *customer.Customer, today account.Date) ([]account.Event, error) {
			in := cmd.Payment
			if in.PaymentID == "" {
				in.PaymentID = uuid.NewString()
			}
			in.ReceivedOn = orToday(in.ReceivedOn, today)
			return a.ReceivePayment(in)
		})
}

func (h *AccountHandler) RefundPayment(ctx context.Context, cmd RefundPayment) (Result, error) {
	return h.run(ctx, cmd.Meta, "RefundPayment", cmd.input(), cmd.CustomerID, cmd.SeenVersion, cmd.Refund.Reason,
		func(a *account.Account, _ *customer.Customer, today account.Date) ([]account.Event, error) {
			in := cmd.Refund
			in.RefundedOn = orToday(in.RefundedOn, today)
			return a.RefundPayment(in)
		})
}

func (h *AccountHandler) AddStoreCredit(ctx context.Context, cmd AddStoreCredit) (Result, error) {
	return h.run(ctx, cmd.Meta, "AddStoreCredit", cmd.input(), cmd.CustomerID, cmd.SeenVersion, cmd.Credit.Message,
		func(a *account.Account, c *customer.Customer, today account.Date) ([]account.Event, error) {
			if c.Erasure() != nil {
				return nil, customer.ErrErased
			}
			in := cmd.Credit
			in.AddedOn = orToday(in.AddedOn, today)
			return a.AddStoreCredit(in)
		})
}

func (h *AccountHandler) ApplyStoreCredit(ctx context.Context, cmd ApplyStoreCredit) (Result, error) {
	return h.run(ctx, cmd.Meta, "ApplyStoreCredit", cmd.input(), cmd.CustomerID, cmd.SeenVersion, "",
		func(a *account.Account, _ *customer.Customer, today account.Date) ([]account.Event, error) {
			return a.ApplyStoreCredit(cmd.Invoice, cmd.Amount, orToday(cmd.On, today))
		})
}

func (h *AccountHandler) SetCreditLimit(ctx context.Context, cmd SetCreditLimit) (Result, error) {
	return h.run(ctx, cmd.Meta, "SetCreditLimit", cmd.input(), cmd.CustomerID, cmd.SeenVersion, "",
		func(a *account.Account, _ *customer.Customer, _ account.Date) ([]account.Event, error) {
			return a.SetCreditLimit(cmd.Limit, cmd.Currency)
		})
}

func orToday(d, today account.Date) account.Date {
	if d == 0 {
		return today
	}
	return d
}

// run is every account command: authorize, once per idempotency key, load the
// customer (it must exist) and its account, check the version the caller saw,
// decide, append. personal is the command's free text: an erased customer has
// no data key left to seal it with, so it must be empty then.
func (h *AccountHandler) run(ctx context.Context, meta Meta, name string, input any, customerID string, seen uint64, personal string,
	decide func(*account.Account, *customer.Customer, account.Date) ([]account.Event, error)) (Result, error) {
	if err := meta.authorize(permission.AccountsEdit); err != nil {
		return Result{}, err
	}
	return h.d.idem.run(ctx, meta, name, input, customerID, func(string, bool) (Result, error) {
		c, err := h.d.repo.load(ctx, customerID)
		if err != nil {
			return Result{}, err
		}
		if !c.Registered() {
			return Result{}, fmt.Errorf("customer %s: %w", customerID, ErrCustomerNotFound)
		}
		if c.Erasure() != nil && personal != "" {
			return Result{}, fmt.Errorf("%w: a reason or message would be personal data with no key to seal it", customer.ErrErased)
		}
		a, err := h.d.accounts.load(ctx, customerID)
		if err != nil {
			return Result{}, err
		}
		if seen != 0 && seen != a.Version() {
			return Result{}, &StaleVersionError{Record: "account of customer", CustomerID: customerID, Expected: seen, Actual: a.Version()}
		}
		now := h.d.cfg.Clock()
		events, err := decide(a.Account, c.Customer, account.DateOf(now))
		if err != nil {
			return Result{}, err
		}
		return h.d.accounts.save(ctx, a, events, meta.metadata(now))
	})
}

func (c IssueInvoice) input() any     { c.Meta = Meta{}; return c }
func (c VoidInvoice) input() any      { c.Meta = Meta{}; return c }
func (c ReceivePayment) input() any   { c.Meta = Meta{}; return c }
func (c RefundPayment) input() any    { c.Meta = Meta{}; return c }
func (c AddStoreCredit) input() any   { c.Meta = Meta{}; return c }
func (c ApplyStoreCredit) input() any { c.Meta = Meta{}; return c }
func (c SetCreditLimit) input() any   { c.Meta = Meta{}; return c }

// accounts loads and saves accounts.
type accounts struct{ streams }

type loadedAccount struct {
	*account.Account
	head codec.Head
}

// load rebuilds a customer's account; one with no events yet is version 0.
func (r accounts) load(ctx context.Context, customerID string) (loadedAccount, error) {
	var history []account.Recorded
	head, err := r.read(ctx, account.Stream.Name(customerID), eventstore.ReadOptions{},
		func(e codec.Event, rec eventstore.RecordedEvent, meta codec.Metadata) error {
			ae, ok := e.(account.Event)
			if !ok {
				return fmt.Errorf("%s is not an account event", rec.Type)
			}
			history = append(history, account.Recorded{Event: ae, At: meta.OccurredAt, By: meta.Actor})
			return nil
		})
	if err != nil {
		return loadedAccount{}, fmt.Errorf("load account %s: %w", customerID, err)
	}
	a, err := account.Replay(customerID, history)
	return loadedAccount{Account: a, head: head}, err
}

// save appends a decision's events at the version it was decided on; a lost
// race is ErrConflict. Personal text is sealed under the customer's data key.
func (r accounts) save(ctx context.Context, a loadedAccount, events []account.Event, meta codec.Metadata) (Result, error) {
	res := Result{CustomerID: a.CustomerID(), Version: a.Version()}
	if len(events) == 0 {
		return res, nil
	}
	subject, err := uuid.Parse(a.CustomerID())
	if err != nil {
		return Result{}, fmt.Errorf("customer id %q: %w", a.CustomerID(), err)
	}
	stored := make([]codec.Event, len(events))
	for i, e := range events {
		stored[i] = e
	}
	b := codec.Batch{Stream: account.Stream.Name(a.CustomerID()), Head: a.head, Subject: subject}
	_, ar, err := r.append(ctx, b, meta, stored...)
	if errors.Is(err, eventstore.ErrWrongVersion) {
		return Result{}, fmt.Errorf("account of customer %s: %w: %w", a.CustomerID(), ErrConflict, err)
	}
	if err != nil {
		return Result{}, fmt.Errorf("save account %s: %w", a.CustomerID(), err)
	}
	res.Version, res.Position = ar.Version, ar.Position
	return res, nil
}

// AccountState asks for a customer's account as the store holds it.
type AccountState struct {
	CustomerID string
}

// Account answers AccountState from the store: the account and its version
// (0 with an empty account when it has no events).
func (h *AccountHandler) Account(ctx context.Context, q AccountState) (*account.Account, error) {
	a, err := h.d.accounts.load(ctx, q.CustomerID)
	if err != nil {
		return nil, err
	}
	return a.Account, nil
}
