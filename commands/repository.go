package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
)

// Result is what a successful customer command reports.
type Result struct {
	CustomerID string
	Number     int64
	// Version is the customer's version after the command (its ETag).
	Version uint64
	// Position is the global position of the command's last event, for
	// read-your-writes; zero when the command changed nothing.
	Position eventstore.Position
}

// repository loads and saves customers.
type repository struct{ streams }

// loaded is a customer and the head of its stream's hash chain, which the next
// append continues.
type loaded struct {
	*customer.Customer
	head    codec.Head
	history []customer.Recorded
}

// load rebuilds a customer; one that was never registered comes back unregistered
// (version 0), not as an error, so Register can decide on it.
func (r repository) load(ctx context.Context, id string) (loaded, error) {
	var history []customer.Recorded
	head, err := r.read(ctx, customer.Stream.Name(id), eventstore.ReadOptions{},
		func(e codec.Event, rec eventstore.RecordedEvent, meta codec.Metadata) error {
			ce, ok := e.(customer.Event)
			if !ok {
				return fmt.Errorf("%s is not a customer event", rec.Type)
			}
			history = append(history, customer.Recorded{Event: ce, At: meta.OccurredAt, By: meta.Actor})
			return nil
		})
	if err != nil {
		return loaded{}, fmt.Errorf("load customer %s: %w", id, err)
	}
	c, err := customer.Replay(id, history)
	return loaded{Customer: c, head: head, history: history}, err
}

// save appends a decision's events, expecting the customer at the version it was
// decided on. A lost race is ErrConflict, never retried here: the caller decided on
// a state that no longer exists.
func (r repository) save(ctx context.Context, c loaded, events []customer.Event, meta codec.Metadata) (Result, error) {
	res := Result{CustomerID: c.ID(), Number: c.Number(), Version: c.Version()}
	if len(events) == 0 {
		return res, nil
	}
	subject, err := uuid.Parse(c.ID())
	if err != nil {
		return Result{}, fmt.Errorf("customer id %q: %w", c.ID(), err)
	}
	stored := make([]codec.Event, len(events))
	for i, e := range events {
		stored[i] = e
		if reg, ok := e.(customer.Registered); ok {
			res.Number = reg.Number
		}
	}
	b := codec.Batch{Stream: customer.Stream.Name(c.ID()), Head: c.head, Subject: subject, NewSubject: c.Version() == 0}
	_, ar, err := r.append(ctx, b, meta, stored...)
	if errors.Is(err, eventstore.ErrWrongVersion) {
		return Result{}, fmt.Errorf("customer %s: %w: %w", c.ID(), ErrConflict, err)
	}
	if err != nil {
		return Result{}, fmt.Errorf("save customer %s: %w", c.ID(), err)
	}
	res.Version, res.Position = ar.Version, ar.Position
	return res, nil
}

// update loads a customer, checks the version the caller saw (0: any), lets decide
// produce events and saves them.
func (r repository) update(ctx context.Context, id string, seen uint64, meta codec.Metadata,
	decide func(*customer.Customer) ([]customer.Event, error)) (Result, error) {
	c, err := r.load(ctx, id)
	if err != nil {
		return Result{}, err
	}
	if !c.Registered() {
		return Result{}, fmt.Errorf("customer %s: %w", id, ErrCustomerNotFound)
	}
	if seen != 0 && seen != c.Version() {
		return Result{}, &StaleVersionError{CustomerID: id, Expected: seen, Actual: c.Version()}
	}
	events, err := decide(c.Customer)
	if err != nil {
		return Result{}, err
	}
	return r.save(ctx, c, events, meta)
}
