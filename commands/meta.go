package commands

import (
	"slices"
	"time"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/actor"
)

// Meta is what every command carries besides its input: who asks, how the request
// relates to others, and an optional idempotency key.
type Meta struct {
	Actor         actor.Actor
	CorrelationID string // ties together everything one user action caused
	CausationID   string // the request or event that caused this command
	// IdempotencyKey, when set, makes a retry of the same command return the first
	// result instead of acting again.
	IdempotencyKey string
}

func (m Meta) metadata(at time.Time) codec.Metadata {
	return codec.Metadata{OccurredAt: at, Actor: m.Actor, CorrelationID: m.CorrelationID, CausationID: m.CausationID}
}

// authorize checks the actor is complete and has one of the roles.
func (m Meta) authorize(roles ...actor.Role) error {
	if err := m.Actor.Validate(); err != nil {
		return err
	}
	if !slices.Contains(roles, m.Actor.Role) {
		return ErrForbidden
	}
	return nil
}

var writers = []actor.Role{actor.Admin, actor.Coordinator}
