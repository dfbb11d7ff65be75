// Package customerbatch is what the read models of customers share: a batch of
// the log grouped by customer, and the customer aggregate's own Apply to fold it,
// so that every such read model sees a customer as the write side does.
package customerbatch

import (
	"fmt"

	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/projections"
)

// Event is a decoded event of the log, as projectors receive it.
type Event = projections.Event

// EventTypes are the types of a customer's events: what the customer read
// models subscribe to (projections.Subscriber).
func EventTypes() []string {
	var out []string
	for _, t := range customer.Events() {
		out = append(out, t.Event.EventType())
	}
	return out
}

// Group groups a batch's customer events by customer id, in the order the
// customers first appear; other streams (reservations, accounts, …) are left
// out.
func Group(batch []Event) (ids []string, events map[string][]Event) {
	events = map[string][]Event{}
	for _, e := range batch {
		id, ok := customer.Stream.ID(e.Stream)
		if !ok {
			continue
		}
		if _, seen := events[id]; !seen {
			ids = append(ids, id)
		}
		events[id] = append(events[id], e)
	}
	return ids, events
}

// Known lists the customers of a batch that a read model may hold already:
// those whose first event in the batch is not their registration. A rebuild's
// batches of registrations read nothing back.
func Known(ids []string, events map[string][]Event) []string {
	var out []string
	for _, id := range ids {
		if events[id][0].Version > 1 {
			out = append(out, id)
		}
	}
	return out
}

// ApplyNew applies to c the events it has not seen yet (a replayed batch holds
// some it has), through the aggregate's own Apply.
func ApplyNew(c *customer.Customer, events []Event) error {
	for _, e := range events {
		if e.Version <= c.Version() {
			continue
		}
		ce, ok := e.Event.(customer.Event)
		if !ok {
			return fmt.Errorf("customer %s: %s is not a customer event", c.ID(), e.Type)
		}
		if err := c.Apply(customer.Recorded{Event: ce, At: e.Meta.OccurredAt, By: e.Meta.Actor}); err != nil {
			return err
		}
	}
	return nil
}
