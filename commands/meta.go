package commands

import (
	"fmt"
	"time"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/permission"
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

// authorize checks the actor is complete and its group grants p.
func (m Meta) authorize(p permission.Permission) error {
	if err := m.Actor.Validate(); err != nil {
		return err
	}
	if !m.Actor.Can(p) {
		return fmt.Errorf("%w: %s needs %s", ErrForbidden, m.Actor.Role, p)
	}
	return nil
}
