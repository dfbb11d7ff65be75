package customer

import (
	"time"

	"github.com/fieldservice/customer-service/domain/actor"
)

// Snapshot is a customer's whole state as plain data. Read models keep it and go
// on applying events to it through the same Apply as the aggregate, so a screen
// never shows a state the domain could not reach.
type Snapshot struct {
	ID            string
	Number        int64
	Version       uint64
	Details       Details
	Archived      bool
	ArchiveReason string
	Notes         []Note
	CreatedAt     time.Time
	CreatedBy     actor.Actor
	ModifiedAt    time.Time
	ModifiedBy    actor.Actor
	Erasure       *Erasure
}

// Snapshot returns the customer's state.
func (c *Customer) Snapshot() Snapshot {
	return Snapshot{
		ID: c.id, Number: c.number, Version: c.version, Details: c.details,
		Archived: c.archived, ArchiveReason: c.reason, Notes: c.Notes(),
		CreatedAt: c.createdAt, CreatedBy: c.createdBy, ModifiedAt: c.modifiedAt, ModifiedBy: c.modifiedBy,
		Erasure: c.erasure,
	}
}

// FromSnapshot returns the customer a snapshot describes, ready for Apply.
func FromSnapshot(s Snapshot) *Customer {
	return &Customer{
		id: s.ID, number: s.Number, version: s.Version, details: s.Details,
		archived: s.Archived, reason: s.ArchiveReason, notes: append([]Note(nil), s.Notes...),
		createdAt: s.CreatedAt, createdBy: s.CreatedBy, modifiedAt: s.ModifiedAt, modifiedBy: s.ModifiedBy,
		erasure: s.Erasure,
	}
}
