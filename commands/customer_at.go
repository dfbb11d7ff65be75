package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
)

// CustomerAt asks for a customer as it stood at a version of its stream, or
// at an instant (the state after every event that occurred at or before it).
// Zero for both asks for now.
type CustomerAt struct {
	CustomerID string
	Version    uint64
	AsOf       time.Time
}

// ErrNotYet: the customer did not exist at that instant, or has no such
// version.
var ErrNotYet = errors.New("the customer had no such version then")

var errStop = errors.New("stop")

// CustomerAt folds the customer's events from the store, not a read model, up
// to the version or instant asked: what an auditor asks ("what did this
// customer look like on 3 March?"). Personal fields read as they are now:
// empty once the customer was erased.
func (h *CustomerHistoryHandler) CustomerAt(ctx context.Context, q CustomerAt) (customer.Snapshot, error) {
	var history []customer.Recorded
	var existed bool
	_, err := h.d.repo.read(ctx, customer.Stream.Name(q.CustomerID), eventstore.ReadOptions{},
		func(e codec.Event, rec eventstore.RecordedEvent, meta codec.Metadata) error {
			existed = true
			if q.Version != 0 && rec.Version > q.Version || !q.AsOf.IsZero() && meta.OccurredAt.After(q.AsOf) {
				return errStop
			}
			ce, ok := e.(customer.Event)
			if !ok {
				return fmt.Errorf("%s is not a customer event", rec.Type)
			}
			history = append(history, customer.Recorded{Event: ce, At: meta.OccurredAt, By: meta.Actor})
			return nil
		})
	if err != nil && !errors.Is(err, errStop) {
		return customer.Snapshot{}, fmt.Errorf("customer %s: %w", q.CustomerID, err)
	}
	if !existed {
		return customer.Snapshot{}, fmt.Errorf("customer %s: %w", q.CustomerID, ErrCustomerNotFound)
	}
	if len(history) == 0 || q.Version != 0 && uint64(len(history)) < q.Version {
		return customer.Snapshot{}, fmt.Errorf("customer %s: %w", q.CustomerID, ErrNotYet)
	}
	c, err := customer.Replay(q.CustomerID, history)
	if err != nil {
		return customer.Snapshot{}, err
	}
	return c.Snapshot(), nil
}
