package commands

import (
	"context"

	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/domain/permission"
)

// ArchiveCustomer takes a customer out of daily use. Customers are never deleted.
type ArchiveCustomer struct {
	Meta        Meta
	CustomerID  string
	SeenVersion uint64 // 0 skips the check
	Reason      string
}

// ArchiveCustomerHandler handles ArchiveCustomer.
type ArchiveCustomerHandler struct{ d *deps }

func (h *ArchiveCustomerHandler) Handle(ctx context.Context, cmd ArchiveCustomer) (Result, error) {
	if err := cmd.Meta.authorize(permission.CustomersArchive); err != nil {
		return Result{}, err
	}
	return h.d.idem.run(ctx, cmd.Meta, "ArchiveCustomer", cmd.input(), cmd.CustomerID,
		func(string, bool) (Result, error) {
			return h.d.repo.update(ctx, cmd.CustomerID, cmd.SeenVersion, cmd.Meta.metadata(h.d.cfg.Clock()),
				func(c *customer.Customer) ([]customer.Event, error) { return c.Archive(cmd.Reason) })
		})
}

// ReenableCustomer brings an archived customer back.
type ReenableCustomer struct {
	Meta        Meta
	CustomerID  string
	SeenVersion uint64 // 0 skips the check
}

// ReenableCustomerHandler handles ReenableCustomer.
type ReenableCustomerHandler struct{ d *deps }

func (h *ReenableCustomerHandler) Handle(ctx context.Context, cmd ReenableCustomer) (Result, error) {
	if err := cmd.Meta.authorize(permission.CustomersArchive); err != nil {
		return Result{}, err
	}
	return h.d.idem.run(ctx, cmd.Meta, "ReenableCustomer", cmd.input(), cmd.CustomerID,
		func(string, bool) (Result, error) {
			return h.d.repo.update(ctx, cmd.CustomerID, cmd.SeenVersion, cmd.Meta.metadata(h.d.cfg.Clock()),
				(*customer.Customer).Reenable)
		})
}

func (c ArchiveCustomer) input() any  { c.Meta = Meta{}; return c }
func (c ReenableCustomer) input() any { c.Meta = Meta{}; return c }
