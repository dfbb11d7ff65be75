// Package codec turns domain events into stored events and back: the one registry of
// event types (name, schema version, Go type) and the envelope metadata every event
// carries. Later it also seals personal fields and chains hashes (DESIGN.md).
package codec

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/domain/reservation"
	"github.com/fieldservice/customer-service/eventstore"
)

// Event is any registered event: it names its own stored type.
type Event interface{ EventType() string }

// Metadata is the envelope's metadata, stored as JSON beside the payload.
type Metadata struct {
	OccurredAt    time.Time
	Actor         actor.Actor
	CorrelationID string
	CausationID   string
	SchemaVersion int // set by Encode from the registry
}

// wireMetadata is Metadata's stored form; its field names are part of the format.
type wireMetadata struct {
	OccurredAt    time.Time `json:"occurred_at"`
	Actor         wireActor `json:"actor"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	CausationID   string    `json:"causation_id,omitempty"`
	SchemaVersion int       `json:"schema_version"`
}

type wireActor struct {
	ID   string     `json:"id"`
	Name string     `json:"name,omitempty"`
	Role actor.Role `json:"role"`
}

type entry struct {
	version int
	typ     reflect.Type
}

// Registry maps stored type names to Go types.
type Registry struct {
	byName map[string]entry
}

// Registration is one line of the registry: an example value and its schema version.
type Registration struct {
	Event         Event
	SchemaVersion int
}

// NewRegistry builds a registry; it panics on a repeated name, a programming error
// the first test run catches.
func NewRegistry(regs ...Registration) *Registry {
	r := &Registry{byName: map[string]entry{}}
	for _, reg := range regs {
		name := reg.Event.EventType()
		if _, dup := r.byName[name]; dup {
			panic("codec: event type " + name + " registered twice")
		}
		r.byName[name] = entry{version: reg.SchemaVersion, typ: reflect.TypeOf(reg.Event)}
	}
	return r
}

// Events is the registry of every event the service stores: the one place a new
// event type is added.
var Events = NewRegistry(
	Registration{customer.Registered{}, 1},
	Registration{customer.DetailsChanged{}, 1},
	Registration{customer.Archived{}, 1},
	Registration{customer.Reenabled{}, 1},
	Registration{customer.NoteAdded{}, 1},
	Registration{reservation.EmailReserved{}, 1},
	Registration{reservation.EmailReleased{}, 1},
	Registration{reservation.NumberAssigned{}, 1},
	Registration{reservation.CommandClaimed{}, 1},
	Registration{reservation.CommandCompleted{}, 1},
	Registration{reservation.CommandFailed{}, 1},
)

// Encode makes a stored event of e with a new UUIDv7 id. The metadata's schema
// version is filled from the registry.
func (r *Registry) Encode(e Event, meta Metadata) (eventstore.EventData, error) {
	return r.EncodeWithID(uuid.Must(uuid.NewV7()), e, meta)
}

// EncodeWithID is Encode with a chosen id, for retries that must repeat an append.
func (r *Registry) EncodeWithID(id uuid.UUID, e Event, meta Metadata) (eventstore.EventData, error) {
	ent, ok := r.byName[e.EventType()]
	if !ok || ent.typ != reflect.TypeOf(e) {
		return eventstore.EventData{}, fmt.Errorf("encode %T: event type not registered", e)
	}
	data, err := json.Marshal(e)
	if err != nil {
		return eventstore.EventData{}, fmt.Errorf("encode %s: %w", e.EventType(), err)
	}
	md, err := json.Marshal(wireMetadata{
		OccurredAt:    meta.OccurredAt.UTC(),
		Actor:         wireActor(meta.Actor),
		CorrelationID: meta.CorrelationID,
		CausationID:   meta.CausationID,
		SchemaVersion: ent.version,
	})
	if err != nil {
		return eventstore.EventData{}, fmt.Errorf("encode %s metadata: %w", e.EventType(), err)
	}
	return eventstore.EventData{ID: id, Type: e.EventType(), Data: data, Metadata: md}, nil
}

// Decode reads a stored event back into its Go type (a value, not a pointer).
func (r *Registry) Decode(rec eventstore.RecordedEvent) (Event, Metadata, error) {
	var meta Metadata
	ent, ok := r.byName[rec.Type]
	if !ok {
		return nil, meta, fmt.Errorf("decode %s@%d: unknown event type %q", rec.Stream, rec.Version, rec.Type)
	}
	v := reflect.New(ent.typ)
	if err := json.Unmarshal(rec.Data, v.Interface()); err != nil {
		return nil, meta, fmt.Errorf("decode %s %s@%d: %w", rec.Type, rec.Stream, rec.Version, err)
	}
	if len(rec.Metadata) > 0 {
		var w wireMetadata
		if err := json.Unmarshal(rec.Metadata, &w); err != nil {
			return nil, meta, fmt.Errorf("decode metadata of %s@%d: %w", rec.Stream, rec.Version, err)
		}
		meta = Metadata{OccurredAt: w.OccurredAt, Actor: actor.Actor(w.Actor), CorrelationID: w.CorrelationID,
			CausationID: w.CausationID, SchemaVersion: w.SchemaVersion}
	}
	return v.Elem().Interface().(Event), meta, nil
}
