package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/domain/permission"
)

// AddNote adds an office note to a customer. Technicians may add notes too.
type AddNote struct {
	Meta       Meta
	CustomerID string
	Text       string
}

// AddNoteHandler handles AddNote.
type AddNoteHandler struct{ d *deps }

func (h *AddNoteHandler) Handle(ctx context.Context, cmd AddNote) (Result, error) {
	if err := cmd.Meta.authorize(permission.NotesAdd); err != nil {
		return Result{}, err
	}
	return h.d.idem.run(ctx, cmd.Meta, "AddNote", cmd.input(), cmd.CustomerID,
		func(string, bool) (Result, error) {
			now := h.d.cfg.Clock()
			return h.d.repo.update(ctx, cmd.CustomerID, 0, cmd.Meta.metadata(now),
				func(c *customer.Customer) ([]customer.Event, error) {
					return c.AddNote(uuid.Must(uuid.NewV7()).String(), cmd.Meta.Actor, now, cmd.Text)
				})
		})
}

func (c AddNote) input() any { c.Meta = Meta{}; return c }
