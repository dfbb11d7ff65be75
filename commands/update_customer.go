package commands

import (
	"context"

	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/domain/permission"
)

// UpdateCustomer edits some of a customer's details.
type UpdateCustomer struct {
	Meta       Meta
	CustomerID string
	// SeenVersion is the version the edit was made on (HTTP If-Match); 0 skips the check.
	SeenVersion uint64
	Patch       customer.Patch
}

// UpdateCustomerHandler handles UpdateCustomer.
type UpdateCustomerHandler struct{ d *deps }

// Handle applies the edit. An edit that changes nothing appends nothing and returns
// the current version. A new primary email is reserved before the edit is saved and
// the old one released after.
func (h *UpdateCustomerHandler) Handle(ctx context.Context, cmd UpdateCustomer) (Result, error) {
	if err := cmd.Meta.authorize(permission.CustomersEdit); err != nil {
		return Result{}, err
	}
	return h.d.idem.run(ctx, cmd.Meta, "UpdateCustomer", cmd.input(), cmd.CustomerID,
		func(string, bool) (Result, error) { return h.update(ctx, cmd) })
}

func (h *UpdateCustomerHandler) update(ctx context.Context, cmd UpdateCustomer) (Result, error) {
	p := cmd.Patch
	var phoneProblems []customer.FieldError
	if p.Phones != nil {
		phones, problems := normalizePhones(*p.Phones, h.d.cfg.PhoneRegion)
		p.Phones, phoneProblems = &phones, problems
	}
	var oldEmail, newEmail string
	res, err := h.d.repo.update(ctx, cmd.CustomerID, cmd.SeenVersion, cmd.Meta.metadata(h.d.cfg.Clock()),
		func(c *customer.Customer) ([]customer.Event, error) {
			events, err := c.Update(p, *h.d.cfg.Policy)
			if err != nil || len(phoneProblems) > 0 {
				return nil, withProblems(phoneProblems, err)
			}
			for _, e := range events {
				if ch, ok := e.(customer.DetailsChanged); ok && ch.Changes.Email != nil &&
					!customer.SameEmail(*ch.Changes.Email, c.Details().Email) {
					oldEmail, newEmail = c.Details().Email, *ch.Changes.Email
				}
			}
			if newEmail != "" {
				if err := h.d.emails.reserve(ctx, newEmail, c.ID(), cmd.Meta); err != nil {
					return nil, err
				}
			}
			return events, nil
		})
	if err != nil {
		if newEmail != "" {
			_ = h.d.emails.release(context.WithoutCancel(ctx), newEmail, cmd.CustomerID, cmd.Meta)
		}
		return Result{}, err
	}
	if oldEmail != "" {
		// A failure here leaves a reservation its owner no longer holds: it is taken
		// over after the grace period, so the edit still stands.
		_ = h.d.emails.release(ctx, oldEmail, cmd.CustomerID, cmd.Meta)
	}
	return res, nil
}

// holdsEmail reports whether customer id's primary email is email.
func (d *deps) holdsEmail(ctx context.Context, id, email string) (bool, error) {
	c, err := d.repo.load(ctx, id)
	if err != nil {
		return false, err
	}
	return c.Registered() && customer.SameEmail(c.Details().Email, email), nil
}

// input is the command without its Meta: what a retry must repeat exactly (a retry
// may carry a new correlation id and is still the same request).
func (c UpdateCustomer) input() any { c.Meta = Meta{}; return c }
