// Package customerview is the read model every customer screen reads: the full
// current state of each customer (personal fields unsealed; empty once erased),
// and a list ordered by display name, filterable by archived, type, service zone,
// salesperson and industry, with cursors that stay correct while customers are
// added or renamed.
//
// Keys (under the generation's prefix, see package projections):
//
//	c:<id>               the customer's view, JSON
//	list                 sorted set of "<folded display name>\x00<id>", all scores 0,
//	                     so ZRANGE BYLEX walks customers in name order
//	f:<field>:<value>    the same members, for customers with that value of a
//	                     filter field (archived, type, zone, salesperson, industry)
package customerview

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/customerbatch"
	"github.com/fieldservice/customer-service/projections/textkey"
)

// Name is the read model's name and checkpoint identity.
const Name = "customers-v1"

// View is one customer as screens show it.
type View struct {
	ID            string           `json:"id"`
	Number        int64            `json:"number"`
	Version       uint64           `json:"version"` // the ETag of the customer
	DisplayName   string           `json:"display_name"`
	Details       customer.Details `json:"details"`
	Archived      bool             `json:"archived"`
	ArchiveReason string           `json:"archive_reason,omitempty"`
	Notes         []Note           `json:"notes,omitempty"`
	CreatedAt     time.Time        `json:"created_at"`
	CreatedBy     Actor            `json:"created_by"`
	ModifiedAt    time.Time        `json:"modified_at"`
	ModifiedBy    Actor            `json:"modified_by"`
	// Erased is set once the customer's personal data was erased.
	Erased *Erasure `json:"erased,omitempty"`
}

// Note is an office note.
type Note struct {
	ID     string    `json:"id"`
	Text   string    `json:"text"`
	Author Actor     `json:"author"`
	At     time.Time `json:"at"`
}

// Actor is who made a change.
type Actor struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Role string `json:"role,omitempty"`
}

// Erasure says when, by whom and why personal data was erased.
type Erasure struct {
	At        time.Time `json:"at"`
	By        Actor     `json:"by"`
	Reason    string    `json:"reason"`
	Reference string    `json:"reference,omitempty"`
}

func actorOf(a actor.Actor) Actor { return Actor{ID: a.ID, Name: a.Name, Role: a.Role.String()} }

func (a Actor) actor() actor.Actor {
	r, _ := actor.ParseRole(a.Role) // stored by us: valid, or empty
	return actor.Actor{ID: a.ID, Name: a.Name, Role: r}
}

// ViewOf is the view of a customer's state: what the read model stores, and what
// a state folded from the store (as of a version or an instant) shows.
func ViewOf(s customer.Snapshot) View {
	v := View{ID: s.ID, Number: s.Number, Version: s.Version, DisplayName: s.Details.DisplayName(), Details: s.Details,
		Archived: s.Archived, ArchiveReason: s.ArchiveReason, CreatedAt: s.CreatedAt, CreatedBy: actorOf(s.CreatedBy),
		ModifiedAt: s.ModifiedAt, ModifiedBy: actorOf(s.ModifiedBy)}
	for _, n := range s.Notes {
		v.Notes = append(v.Notes, Note{ID: n.ID, Text: n.Text, Author: actorOf(n.Author), At: n.At})
	}
	if e := s.Erasure; e != nil {
		v.Erased = &Erasure{At: e.At, By: actorOf(e.By), Reason: e.Reason.String(), Reference: e.Reference}
	}
	return v
}

func (v View) snapshot() customer.Snapshot {
	s := customer.Snapshot{ID: v.ID, Number: v.Number, Version: v.Version, Details: v.Details, Archived: v.Archived,
		ArchiveReason: v.ArchiveReason, CreatedAt: v.CreatedAt, CreatedBy: v.CreatedBy.actor(), ModifiedAt: v.ModifiedAt,
		ModifiedBy: v.ModifiedBy.actor()}
	for _, n := range v.Notes {
		s.Notes = append(s.Notes, customer.Note{ID: n.ID, Text: n.Text, Author: n.Author.actor(), At: n.At})
	}
	if e := v.Erased; e != nil {
		reason, _ := customer.ParseErasureReason(e.Reason)
		s.Erasure = &customer.Erasure{At: e.At, By: e.By.actor(), Reason: reason, Reference: e.Reference}
	}
	return s
}

// member is the customer's place in the lists.
func (v View) member() string { return textkey.Fold(v.DisplayName) + "\x00" + v.ID }

// filters are the filter sets the customer belongs to.
func (v View) filters(k projections.Keys) []string {
	out := []string{k.Key("f", "archived", fmt.Sprint(v.Archived))}
	for field, value := range map[string]string{"type": v.Details.CustomerType, "zone": v.Details.ServiceZone,
		"salesperson": v.Details.Salesperson, "industry": v.Details.Industry} {
		if value != "" {
			out = append(out, k.Key("f", field, value))
		}
	}
	return out
}

// Projector maintains the view.
type Projector struct{}

// Name implements projections.Projector.
func (Projector) Name() string { return Name }

// EventTypes implements projections.Subscriber: a customer's events only.
func (Projector) EventTypes() []string { return customerbatch.EventTypes() }

// Project implements projections.Projector: it loads the views the batch
// touches, applies the batch to them through the aggregate's Apply, and writes
// them back with their list entries.
func (Projector) Project(ctx context.Context, keys projections.Keys, r redis.Cmdable, w redis.Pipeliner, batch []projections.Event) error {
	ids, byID := customerbatch.Group(batch)
	if len(ids) == 0 {
		return nil
	}
	old, err := loadViews(ctx, r, keys, ids, byID)
	if err != nil {
		return err
	}
	// List entries are gathered per key, so that a batch sends one ZREM and one
	// ZADD per list, not one per customer: a rebuild's batch of 8,192
	// registrations adds to the same few lists.
	lists := newListEdits()
	for _, id := range ids {
		before := old[id]
		c := customer.New(id)
		if before != nil {
			c = customer.FromSnapshot(before.snapshot())
		}
		if err := customerbatch.ApplyNew(c, byID[id]); err != nil {
			return fmt.Errorf("customer view: %w", err)
		}
		after := ViewOf(c.Snapshot())
		js, err := json.Marshal(after)
		if err != nil {
			return err
		}
		w.Set(ctx, keys.Key("c", id), js, 0)
		added := map[string]bool{}
		m := after.member()
		for _, k := range append(after.filters(keys), keys.Key("list")) {
			lists.add[k] = append(lists.add[k], redis.Z{Member: m})
			added[k] = true
		}
		if before != nil {
			for _, k := range append(before.filters(keys), keys.Key("list")) {
				if bm := before.member(); bm != m || !added[k] {
					lists.remove[k] = append(lists.remove[k], bm)
				}
			}
		}
	}
	lists.queue(ctx, w)
	return nil
}

// listEdits are a batch's changes to the sorted sets, per key.
type listEdits struct {
	add    map[string][]redis.Z
	remove map[string][]any
}

func newListEdits() listEdits {
	return listEdits{add: map[string][]redis.Z{}, remove: map[string][]any{}}
}

// queue sends the removals before the additions: a customer's old and new
// entries differ, or the old one is not removed.
func (l listEdits) queue(ctx context.Context, w redis.Pipeliner) {
	for k, ms := range l.remove {
		w.ZRem(ctx, k, ms...)
	}
	for k, ms := range l.add {
		w.ZAdd(ctx, k, ms...)
	}
}

// loadViews reads the stored views of the batch's known customers.
func loadViews(ctx context.Context, r redis.Cmdable, keys projections.Keys, ids []string, byID map[string][]projections.Event) (map[string]*View, error) {
	out := map[string]*View{}
	known := customerbatch.Known(ids, byID)
	if len(known) == 0 {
		return out, nil
	}
	stored := make([]string, len(known))
	for i, id := range known {
		stored[i] = keys.Key("c", id)
	}
	vals, err := r.MGet(ctx, stored...).Result()
	if err != nil {
		return nil, err
	}
	for i, id := range known {
		s, ok := vals[i].(string)
		if !ok {
			continue
		}
		var v View
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, fmt.Errorf("customer view %s: %w", id, err)
		}
		out[id] = &v
	}
	return out, nil
}

// ErrNotReady: the read model has no generation yet (first build, or Redis lost
// its data and is being rebuilt).
var ErrNotReady = errors.New("customer view is not built yet")

// Get returns one customer's view.
func Get(ctx context.Context, rdb redis.Cmdable, id string) (View, bool, error) {
	keys, ok, err := projections.CurrentKeys(ctx, rdb, Name)
	if err != nil || !ok {
		return View{}, false, errors.Join(err, notReady(ok))
	}
	s, err := rdb.Get(ctx, keys.Key("c", id)).Result()
	if errors.Is(err, redis.Nil) {
		return View{}, false, nil
	}
	if err != nil {
		return View{}, false, err
	}
	var v View
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return View{}, false, fmt.Errorf("customer view %s: %w", id, err)
	}
	return v, true, nil
}

func notReady(ok bool) error {
	if ok {
		return nil
	}
	return ErrNotReady
}
