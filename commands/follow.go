package commands

import (
	"context"
	"fmt"
	"slices"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/eventstore"
)

// Follow decodes, in log order, every event after a position whose type is one
// of types (all when empty): first those stored, then new ones as they are
// appended, until ctx ends, fn fails, or (when until is not zero) the log
// passes until. It is how a subscriber without a broker follows the log (the
// API's event stream) and how republishing reads a range.
func (a *App) Follow(ctx context.Context, after, until eventstore.Position, types []string,
	fn func(rec eventstore.RecordedEvent, e codec.Event, meta codec.Metadata) error) error {
	if !until.IsZero() && until.Compare(after) <= 0 {
		return nil
	}
	for rec, err := range a.store.SubscribeAll(ctx, after) {
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("follow the log: %w", err)
		}
		if !until.IsZero() && rec.Position.Compare(until) > 0 {
			return nil
		}
		if len(types) > 0 && !slices.Contains(types, rec.Type) {
			continue
		}
		e, meta, err := a.codec.Decode(ctx, rec)
		if err != nil {
			return fmt.Errorf("follow the log: %w", err)
		}
		if err := fn(rec, e, meta); err != nil {
			return err
		}
		if !until.IsZero() && rec.Position.Compare(until) >= 0 {
			return nil
		}
	}
	return ctx.Err()
}

// LastPosition is the position of the newest event in the log.
func (a *App) LastPosition(ctx context.Context) (eventstore.Position, error) {
	return a.store.LastPosition(ctx)
}

// Store is the event store the application writes to, for readers that
// follow the whole log (the audit log's tree).
func (a *App) Store() eventstore.Store { return a.store }
