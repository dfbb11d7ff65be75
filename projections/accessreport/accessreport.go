// Package accessreport is the credential-access report: who revealed which
// credential, when and from where, and who created, changed and removed each
// one, so it is the complete trail. It folds the credential streams; entries
// are never changed or deleted. Queries filter by customer, credential, user
// and time range, newest first, a page at a time.
//
// Keys (under the generation's prefix, see package projections):
//
//	seq                 string: the last entry's sequence number
//	r:<bucket>          hash: member → entry (record.go), 256 entries per hash
//	all                 sorted set: every entry; score = unix ms, member = 5-byte sequence number
//	c:<customer id>     sorted set: the customer's entries, likewise
//	k:<credential id>   sorted set: the credential's entries
//	u:<actor id>        sorted set: what one user did
//	cred                hash: credential id (16 bytes) → customer id (16 bytes) and name
//
// One index per filter makes any single filter a range of one sorted set,
// found by rank in O(log n) (query.go); a second filter is checked on the
// entries of the first. Members are five bytes, not ids, because each entry
// is in four sets.
package accessreport

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/domain/credential"
	"github.com/fieldservice/customer-service/projections"
)

// Name is the read model's name and checkpoint identity.
const Name = "credential-access-v1"

// Projector maintains the report.
type Projector struct{}

// Name implements projections.Projector.
func (Projector) Name() string { return Name }

// EventTypes implements projections.Subscriber.
func (Projector) EventTypes() []string {
	return []string{credential.TypeCreated, credential.TypeChanged, credential.TypeRevealed, credential.TypeRemoved}
}

type credInfo struct {
	customer uuid.UUID
	name     string
}

func (c credInfo) encode() string { return string(c.customer[:]) + c.name }

// Project implements projections.Projector.
func (Projector) Project(ctx context.Context, keys projections.Keys, r redis.Cmdable, w redis.Pipeliner, batch []projections.Event) error {
	var ids []string
	seen := map[string]bool{}
	for _, e := range batch {
		if id, ok := credential.Stream.ID(e.Stream); ok && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	infos, seq, err := load(ctx, r, keys, ids)
	if err != nil {
		return err
	}
	for _, e := range batch {
		id, ok := credential.Stream.ID(e.Stream)
		if !ok {
			continue
		}
		info := infos[id]
		entry := Entry{At: e.Meta.OccurredAt, CredentialID: id, ActorID: e.Meta.Actor.ID, ActorName: e.Meta.Actor.Name,
			ActorRole: e.Meta.Actor.Role.String(), Version: e.Version}
		switch ev := e.Event.(type) {
		case credential.Created:
			cust, err := uuid.Parse(ev.CustomerID)
			if err != nil {
				return fmt.Errorf("access report: credential %s: customer id: %w", id, err)
			}
			info = credInfo{customer: cust, name: ev.Name}
			entry.Action = Created
		case credential.Changed:
			if ev.Name != nil {
				info.name = *ev.Name
			}
			entry.Action, entry.Changed = Changed, changedFields(ev)
		case credential.Revealed:
			entry.Action, entry.ClientAddress, entry.UserAgent, entry.Reason = Revealed, ev.ClientAddress, ev.UserAgent, ev.Reason
		case credential.Removed:
			entry.Action, entry.Reason = Removed, ev.Reason
		default:
			continue
		}
		if info.customer == uuid.Nil {
			return fmt.Errorf("access report: %s@%d before the credential's creation", e.Stream, e.Version)
		}
		infos[id] = info
		entry.CustomerID, entry.CredentialName = info.customer.String(), info.name
		seq++
		m := member(seq)
		w.HSet(ctx, keys.Key("r", bucket(m)), m, entry.encode())
		z := redis.Z{Score: float64(entry.At.UnixMilli()), Member: m}
		for _, idx := range []string{keys.Key("all"), keys.Key("c", entry.CustomerID), keys.Key("k", id), keys.Key("u", entry.ActorID)} {
			w.ZAdd(ctx, idx, z)
		}
	}
	fields := make([]any, 0, 2*len(infos))
	for id, info := range infos {
		u := uuid.MustParse(id)
		fields = append(fields, string(u[:]), info.encode())
	}
	w.HSet(ctx, keys.Key("cred"), fields...)
	w.Set(ctx, keys.Key("seq"), seq, 0)
	return nil
}

// load reads what the batch's credentials were before it, and the last
// sequence number.
func load(ctx context.Context, r redis.Cmdable, keys projections.Keys, ids []string) (map[string]credInfo, uint64, error) {
	fields := make([]string, len(ids))
	for i, id := range ids {
		u := uuid.MustParse(id)
		fields[i] = string(u[:])
	}
	vals, err := r.HMGet(ctx, keys.Key("cred"), fields...).Result()
	if err != nil {
		return nil, 0, fmt.Errorf("access report: %w", err)
	}
	out := make(map[string]credInfo, len(ids))
	for i, v := range vals {
		s, ok := v.(string)
		if !ok || len(s) < 16 {
			continue
		}
		out[ids[i]] = credInfo{customer: uuid.UUID([]byte(s[:16])), name: s[16:]}
	}
	seq, err := r.Get(ctx, keys.Key("seq")).Uint64()
	if err != nil && err != redis.Nil {
		return nil, 0, fmt.Errorf("access report: %w", err)
	}
	return out, seq, nil
}

// changedFields names what an edit changed, never the values.
func changedFields(e credential.Changed) string {
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"name", e.Name != nil}, {"username", e.Username != nil}, {"url", e.URL != nil}, {"contact_id", e.ContactID != nil},
		{"password", len(e.Password) > 0}, {"notes", len(e.Notes) > 0 || e.NotesCleared}, {"public", e.Public != nil}} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return strings.Join(out, ", ")
}

// Count is how many entries the report holds.
func Count(ctx context.Context, rdb redis.Cmdable) (uint64, error) {
	keys, err := currentKeys(ctx, rdb)
	if err != nil {
		return 0, err
	}
	s, err := rdb.Get(ctx, keys.Key("seq")).Result()
	if err == redis.Nil {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(s, 10, 64)
}
