package search

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/projections"
)

// Name is the read model's name and checkpoint identity.
const Name = "search-v1"

// doc is what the index keeps of a customer: its searchable state, which is also
// what a result shows. Members name customers by a short ref (the customer
// number in base 36) rather than their 36-character id: a customer has about a
// hundred members.
type doc struct {
	ID       string           `json:"id"`
	Number   int64            `json:"number"`
	Version  uint64           `json:"version"`
	Archived bool             `json:"archived,omitempty"`
	Details  customer.Details `json:"details"`
}

func refOf(number int64) string { return strconv.FormatInt(number, 36) }

// Projector maintains the index.
type Projector struct{}

// Name implements projections.Projector.
func (Projector) Name() string { return Name }

// searchable keeps the details search finds customers by and shows in results;
// edits of other fields change nothing here, so the state stays small.
func searchable(d customer.Details) customer.Details {
	return customer.Details{Kind: d.Kind, FirstName: d.FirstName, LastName: d.LastName, BusinessName: d.BusinessName,
		ContactName: d.ContactName, Email: d.Email, NotificationEmails: d.NotificationEmails, InvoiceCCEmails: d.InvoiceCCEmails,
		StatementEmail: d.StatementEmail, Phones: d.Phones, Addresses: d.Addresses}
}

// Project implements projections.Projector: for each customer the batch touches,
// it applies the events to the kept state through the aggregate, then removes the
// members of values that are gone and adds those of new values, one ZREM and one
// ZADD per key for the whole batch. An erased customer leaves the index entirely.
func (Projector) Project(ctx context.Context, keys projections.Keys, r redis.Cmdable, w redis.Pipeliner, batch []projections.Event) error {
	ids, byID := projections.CustomerBatch(batch)
	if len(ids) == 0 {
		return nil
	}
	old, err := loadDocs(ctx, r, keys, ids)
	if err != nil {
		return err
	}
	adds, rems := map[string][]any{}, map[string][]any{}
	for _, id := range ids {
		c := customer.New(id)
		var before []member
		if d := old[id]; d != nil {
			c = customer.FromSnapshot(customer.Snapshot{ID: id, Number: d.Number, Version: d.Version, Details: d.Details, Archived: d.Archived})
			before = members(refOf(d.Number), values(d.Details))
		}
		if err := projections.ApplyNew(c, byID[id]); err != nil {
			return fmt.Errorf("search: %w", err)
		}
		ref := refOf(c.Number())
		var after []member
		if c.Erasure() == nil {
			d := searchable(c.Details())
			after = members(ref, values(d))
			js, err := json.Marshal(doc{ID: id, Number: c.Number(), Version: c.Version(), Archived: c.Archived(), Details: d})
			if err != nil {
				return err
			}
			w.Set(ctx, keys.Key("d", ref), js, 0)
			w.Set(ctx, keys.Key("r", id), ref, 0)
		} else {
			w.Del(ctx, keys.Key("d", ref), keys.Key("r", id))
		}
		// Two values can give one member (two phones ending alike): compare sets.
		had, has := set(before), set(after)
		for m := range had {
			if !has[m] {
				rems[m.key] = append(rems[m.key], m.m)
			}
		}
		for m := range has {
			if !had[m] {
				adds[m.key] = append(adds[m.key], redis.Z{Member: m.m})
			}
		}
	}
	for k, ms := range rems {
		w.ZRem(ctx, keys.Prefix()+k, ms...)
	}
	for k, zs := range adds {
		z := make([]redis.Z, len(zs))
		for i, v := range zs {
			z[i] = v.(redis.Z)
		}
		w.ZAdd(ctx, keys.Prefix()+k, z...)
	}
	return nil
}

// loadDocs reads the docs of customers by id, through their refs.
func loadDocs(ctx context.Context, r redis.Cmdable, keys projections.Keys, ids []string) (map[string]*doc, error) {
	refKeys := make([]string, len(ids))
	for i, id := range ids {
		refKeys[i] = keys.Key("r", id)
	}
	refs, err := r.MGet(ctx, refKeys...).Result()
	if err != nil {
		return nil, err
	}
	var docKeys []string
	for _, ref := range refs {
		if s, ok := ref.(string); ok {
			docKeys = append(docKeys, keys.Key("d", s))
		}
	}
	out := map[string]*doc{}
	if len(docKeys) == 0 {
		return out, nil
	}
	vals, err := r.MGet(ctx, docKeys...).Result()
	if err != nil {
		return nil, err
	}
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		var d doc
		if err := json.Unmarshal([]byte(s), &d); err != nil {
			return nil, fmt.Errorf("search doc: %w", err)
		}
		out[d.ID] = &d
	}
	return out, nil
}

func set(ms []member) map[member]bool {
	out := make(map[member]bool, len(ms))
	for _, m := range ms {
		out[m] = true
	}
	return out
}
