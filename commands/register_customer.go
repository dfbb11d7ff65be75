package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/domain/permission"
)

// RegisterCustomer creates a customer. Phone numbers may be typed in any common
// format; they are stored in E.164.
type RegisterCustomer struct {
	Meta    Meta
	Details customer.Details
}

// RegisterCustomerHandler handles RegisterCustomer.
type RegisterCustomerHandler struct{ d *deps }

// Handle validates, reserves the primary email, assigns the next customer number
// and appends CustomerRegistered. It fails with a *customer.ValidationError listing
// every problem, or *EmailTakenError naming the email's owner, and then appends no
// customer event.
func (h *RegisterCustomerHandler) Handle(ctx context.Context, cmd RegisterCustomer) (Result, error) {
	if err := cmd.Meta.authorize(permission.CustomersNew); err != nil {
		return Result{}, err
	}
	id := uuid.Must(uuid.NewV7()).String()
	return h.d.idem.run(ctx, cmd.Meta, "RegisterCustomer", cmd.Details, id,
		func(id string, resumed bool) (Result, error) { return h.register(ctx, id, resumed, cmd) })
}

func (h *RegisterCustomerHandler) register(ctx context.Context, id string, resumed bool, cmd RegisterCustomer) (Result, error) {
	d := cmd.Details
	var phoneProblems []customer.FieldError
	d.Phones, phoneProblems = normalizePhones(d.Phones, h.d.cfg.PhoneRegion)

	c, err := h.d.repo.load(ctx, id)
	if err != nil {
		return Result{}, err
	}
	if resumed && c.Registered() { // the crashed attempt got this far: report it
		return Result{CustomerID: id, Number: c.Number(), Version: c.Version()}, nil
	}
	// Decide before claiming anything, so bad input reserves nothing; the number
	// is the one part of the decision that comes after.
	reg, err := c.Register(d, *h.d.cfg.Policy)
	if err != nil || len(phoneProblems) > 0 {
		return Result{}, withProblems(phoneProblems, err)
	}
	email := reg.Details().Email
	if email != "" {
		if err := h.d.emails.reserve(ctx, email, id, cmd.Meta); err != nil {
			return Result{}, err
		}
	}
	res, err := h.finish(ctx, c, reg, cmd.Meta)
	if err != nil && email != "" {
		_ = h.d.emails.release(context.WithoutCancel(ctx), email, id, cmd.Meta) // best effort; a leftover expires
	}
	return res, err
}

func (h *RegisterCustomerHandler) finish(ctx context.Context, c loaded, reg customer.Registration, meta Meta) (Result, error) {
	number, err := h.d.numbers.assign(ctx, c.ID(), meta)
	if err != nil {
		return Result{}, err
	}
	return h.d.repo.save(ctx, c, reg.Numbered(number), meta.metadata(h.d.cfg.Clock()))
}
