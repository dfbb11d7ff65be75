package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/domain/personal"
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
	// Changes is what the event changed, field by field, found by folding
	// the customer before and after it (so it holds for events stored before
	// it existed).
	Changes []Change
}

// Change is one field an event changed: its JSON name, its value before and
// after (JSON; absent when empty), and whether it holds personal data.
type Change struct {
	Field    string
	Old, New json.RawMessage
	Personal bool
}

// CustomerHistoryHandler answers CustomerHistory from the event store itself, not
// a read model: the history is the record, and it is always current.
type CustomerHistoryHandler struct{ d *deps }

// Handle returns the customer's events in order, or ErrCustomerNotFound.
func (h *CustomerHistoryHandler) Handle(ctx context.Context, q CustomerHistory) ([]HistoryEvent, error) {
	var out []HistoryEvent
	state := customer.New(q.CustomerID)
	head, err := h.d.repo.read(ctx, customer.Stream.Name(q.CustomerID), eventstore.ReadOptions{},
		func(e codec.Event, rec eventstore.RecordedEvent, md codec.Metadata) error {
			ce, ok := e.(customer.Event)
			if !ok {
				return fmt.Errorf("%s is not a customer event", rec.Type)
			}
			before := state.Snapshot()
			if err := state.Apply(customer.Recorded{Event: ce, At: md.OccurredAt, By: md.Actor}); err != nil {
				return err
			}
			out = append(out, HistoryEvent{Version: rec.Version, Position: rec.Position, Type: rec.Type,
				OccurredAt: md.OccurredAt, RecordedAt: rec.RecordedAt, Actor: md.Actor, Event: e, Erased: md.Erased,
				CorrelationID: md.CorrelationID, Hash: md.Hash, PrevHash: md.PrevHash, Changes: diff(before, state.Snapshot())})
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

// diff lists the fields that differ between two states of a customer: each
// detail by its JSON name, then archived, archive_reason, notes (the notes
// added) and erased.
func diff(before, after customer.Snapshot) []Change {
	var out []Change
	old, cur := members(before.Details), members(after.Details)
	personalNames := personalFields(before.Details)
	for k := range personalFields(after.Details) {
		personalNames[k] = true
	}
	names := make([]string, 0, len(cur))
	for k := range cur {
		names = append(names, k)
	}
	for k := range old {
		if _, ok := cur[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		if string(old[k]) != string(cur[k]) {
			out = append(out, Change{Field: k, Old: old[k], New: cur[k], Personal: personalNames[k]})
		}
	}
	js := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	if before.Archived != after.Archived {
		out = append(out, Change{Field: "archived", Old: js(before.Archived), New: js(after.Archived)})
	}
	if before.ArchiveReason != after.ArchiveReason {
		out = append(out, Change{Field: "archive_reason", Old: nonEmpty(before.ArchiveReason), New: nonEmpty(after.ArchiveReason), Personal: true})
	}
	if len(after.Notes) > len(before.Notes) {
		out = append(out, Change{Field: "notes", New: js(after.Notes[len(after.Notes)-1].Text), Personal: true})
	}
	if before.Erasure == nil && after.Erasure != nil {
		out = append(out, Change{Field: "erased", New: js(map[string]string{"reason": after.Erasure.Reason.String(), "reference": after.Erasure.Reference})})
	}
	return out
}

func nonEmpty(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	b, _ := json.Marshal(s)
	return b
}

// members is a customer's details by JSON name; empty fields are absent.
func members(d customer.Details) map[string]json.RawMessage {
	b, _ := json.Marshal(d) // plain data: encoding cannot fail
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	return m
}

// personalFields names the details' top-level fields that hold personal
// values (a phone list does, for its numbers).
func personalFields(d customer.Details) map[string]bool {
	out := map[string]bool{}
	_, _ = personal.Split(reflect.ValueOf(d), func(path, _ []byte) {
		name, _, _ := strings.Cut(string(path), ".")
		out[name] = true
	})
	return out
}
