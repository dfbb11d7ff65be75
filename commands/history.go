package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
)

// CustomerHistory asks for a customer's events as the record holds them.
type CustomerHistory struct {
	CustomerID string
}

// HistoryEvent is one event of a customer's history with its envelope.
type HistoryEvent struct {
	Version    uint64
	Position   eventstore.Position
	Type       string
	OccurredAt time.Time
	RecordedAt time.Time
	Actor      actor.Actor
	// Event is the decoded event; its personal fields are empty once erased.
	Event         codec.Event
	Erased        bool
	CorrelationID string
	Hash          codec.Hash
	PrevHash      codec.Hash
}

// CustomerHistoryHandler answers CustomerHistory from the event store itself, not
// a read model: the history is the record, and it is always current.
type CustomerHistoryHandler struct{ d *deps }

// Handle returns the customer's events in order, or ErrCustomerNotFound.
func (h *CustomerHistoryHandler) Handle(ctx context.Context, q CustomerHistory) ([]HistoryEvent, error) {
	var out []HistoryEvent
	head, err := h.d.repo.read(ctx, customer.Stream.Name(q.CustomerID), eventstore.ReadOptions{},
		func(e codec.Event, rec eventstore.RecordedEvent, md codec.Metadata) error {
			out = append(out, HistoryEvent{Version: rec.Version, Position: rec.Position, Type: rec.Type,
				OccurredAt: md.OccurredAt, RecordedAt: rec.RecordedAt, Actor: md.Actor, Event: e, Erased: md.Erased,
				CorrelationID: md.CorrelationID, Hash: md.Hash, PrevHash: md.PrevHash})
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("customer %s history: %w", q.CustomerID, err)
	}
	if head.Version == 0 {
		return nil, fmt.Errorf("customer %s: %w", q.CustomerID, ErrCustomerNotFound)
	}
	return out, nil
}
