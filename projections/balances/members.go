package balances

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/projections"
)

// The ranking by what is open is company-wide; a zone's or a salesperson's
// page walks it and keeps their customers. So that the walk reads only their
// records, a member of the ranking names the customer's zone and salesperson
// too: its 16-byte id, then the codes of both as uvarints (0 for none). Codes
// are numbered in the order names first appear in the log (the codes hash),
// so a rebuild numbers them as the live model did.

// rawID is a customer id's 16 bytes: the field of its record, and the head of
// its ranking member.
func rawID(id string) string {
	u := uuid.MustParse(id) // from a stream name the store checked
	return string(u[:])
}

func idOf(member string) string {
	var u uuid.UUID
	copy(u[:], member)
	return u.String()
}

func rankMember(id string, zone, salesperson uint64) string {
	b := binary.AppendUvarint([]byte(rawID(id)), zone)
	return string(binary.AppendUvarint(b, salesperson))
}

// memberCodes reads the zone's and salesperson's codes of a ranking member.
func memberCodes(m string) (zone, salesperson uint64) {
	if len(m) < 18 {
		return 0, 0
	}
	zone, n := binary.Uvarint([]byte(m[16:]))
	if n <= 0 {
		return 0, 0
	}
	salesperson, _ = binary.Uvarint([]byte(m[16+n:]))
	return zone, salesperson
}

// codes maps "zone:<name>" and "sp:<name>" to their codes.
type codes map[string]uint64

func codeField(kind, name string) string { return kind + ":" + name }

func (c codes) of(kind, name string) uint64 {
	if name == "" {
		return 0
	}
	return c[codeField(kind, name)]
}

// assignCodes reads the codes, and numbers the zones and salespersons the
// batch names for the first time, in log order, queueing them.
func assignCodes(ctx context.Context, keys projections.Keys, r redis.Cmdable, w redis.Pipeliner, batch []projections.Event) (codes, error) {
	var named []string
	for _, e := range batch {
		switch ev := e.Event.(type) {
		case customer.Registered:
			named = append(named, codeField("zone", ev.Details.ServiceZone), codeField("sp", ev.Details.Salesperson))
		case customer.DetailsChanged:
			if z := ev.Changes.ServiceZone; z != nil {
				named = append(named, codeField("zone", *z))
			}
			if s := ev.Changes.Salesperson; s != nil {
				named = append(named, codeField("sp", *s))
			}
		}
	}
	c := codes{}
	all, err := r.HGetAll(ctx, keys.Key("codes")).Result()
	if err != nil {
		return nil, err
	}
	counts := map[string]uint64{}
	for f, v := range all {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, errors.New("balances: corrupt codes")
		}
		c[f] = n
		kind, _, _ := strings.Cut(f, ":")
		counts[kind]++
	}
	for _, f := range named {
		kind, name, _ := strings.Cut(f, ":")
		if _, ok := c[f]; ok || name == "" {
			continue
		}
		counts[kind]++
		c[f] = counts[kind]
		w.HSet(ctx, keys.Key("codes"), f, c[f])
	}
	return c, nil
}

// code looks up the code of a zone or salesperson for a query; false when no
// customer ever had it.
func code(ctx context.Context, rdb redis.Cmdable, keys projections.Keys, kind, name string) (uint64, bool, error) {
	n, err := rdb.HGet(ctx, keys.Key("codes"), codeField(kind, name)).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	return n, err == nil, err
}
