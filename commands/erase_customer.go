package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/domain/permission"
	"github.com/fieldservice/customer-service/keystore"
)

// EraseCustomer forgets an archived customer's personal data, for good: the right
// to be forgotten. The customer's events stay (they back invoices and jobs, and
// the hash chain still verifies); their personal fields can no longer be read.
type EraseCustomer struct {
	Meta        Meta
	CustomerID  string
	SeenVersion uint64 // 0 skips the check
	Reason      customer.ErasureReason
	Reference   string // an optional case or ticket id
}

// EraseCustomerHandler handles EraseCustomer.
type EraseCustomerHandler struct{ d *deps }

// Handle appends CustomerErased, releases the customer's email reservation and
// destroys its data key, in that order: the event records who erased and why
// before anything becomes unreadable. Only admins may erase. Erasing an erased
// customer fails with customer.ErrErased, unless a crash cut the first erasure
// short: then this one finishes it.
func (h *EraseCustomerHandler) Handle(ctx context.Context, cmd EraseCustomer) (Result, error) {
	if err := cmd.Meta.authorize(permission.CustomersErase); err != nil {
		return Result{}, err
	}
	return h.d.idem.run(ctx, cmd.Meta, "EraseCustomer", cmd.input(), cmd.CustomerID,
		func(string, bool) (Result, error) { return h.erase(ctx, cmd) })
}

func (h *EraseCustomerHandler) erase(ctx context.Context, cmd EraseCustomer) (Result, error) {
	c, err := h.d.repo.load(ctx, cmd.CustomerID)
	if err != nil {
		return Result{}, err
	}
	if !c.Registered() {
		return Result{}, fmt.Errorf("customer %s: %w", cmd.CustomerID, ErrCustomerNotFound)
	}
	if cmd.SeenVersion != 0 && cmd.SeenVersion != c.Version() {
		return Result{}, &StaleVersionError{CustomerID: cmd.CustomerID, Expected: cmd.SeenVersion, Actual: c.Version()}
	}
	if c.Erasure() == nil {
		// An account that still owes or is owed money keeps the customer: the
		// debt or credit must be settled (or written off) first.
		a, err := h.d.accounts.load(ctx, cmd.CustomerID)
		if err != nil {
			return Result{}, err
		}
		if s := a.Summary(account.DateOf(h.d.cfg.Clock())); s.Open != 0 || s.StoreCredit != 0 {
			return Result{}, &BalanceNotZeroError{CustomerID: cmd.CustomerID, Currency: s.Currency, Open: s.Open, StoreCredit: s.StoreCredit}
		}
	}
	subject, err := uuid.Parse(c.ID())
	if err != nil {
		return Result{}, fmt.Errorf("customer id %q: %w", c.ID(), err)
	}
	res := Result{CustomerID: c.ID(), Number: c.Number(), Version: c.Version()}
	var email string
	if c.Erasure() == nil {
		events, err := c.Erase(cmd.Reason, cmd.Reference)
		if err != nil {
			return Result{}, err
		}
		email = c.Details().Email
		if res, err = h.d.repo.save(ctx, c, events, cmd.Meta.metadata(h.d.cfg.Clock())); err != nil {
			return Result{}, err
		}
	} else {
		_, err := h.d.cfg.Keys.DataKey(ctx, subject)
		if errors.Is(err, keystore.ErrDestroyed) || errors.Is(err, keystore.ErrNotFound) {
			return Result{}, fmt.Errorf("customer %s: %w", c.ID(), customer.ErrErased)
		}
		if err != nil {
			return Result{}, err
		}
		// The erasure was recorded but the key survived: read the email from the
		// state before the erasure, which the key still unseals, and finish.
		before, err := customer.Replay(c.ID(), c.history[:len(c.history)-1])
		if err != nil {
			return Result{}, err
		}
		email = before.Details().Email
	}
	if email != "" {
		if err := h.d.emails.release(ctx, email, c.ID(), cmd.Meta); err != nil {
			return Result{}, fmt.Errorf("erase customer %s: %w", c.ID(), err)
		}
	}
	// The credentials' keys go first: a crash after them leaves the customer's
	// key, and so a rerun that finishes the erasure.
	if err := h.d.creds.destroyAll(ctx, c.ID()); err != nil {
		return Result{}, fmt.Errorf("erase customer %s: %w", c.ID(), err)
	}
	err = h.d.cfg.Keys.Destroy(ctx, subject)
	if err != nil && !errors.Is(err, keystore.ErrDestroyed) && !errors.Is(err, keystore.ErrNotFound) {
		return Result{}, fmt.Errorf("erase customer %s: %w", c.ID(), err)
	}
	return res, nil
}

func (c EraseCustomer) input() any { c.Meta = Meta{}; return c }
