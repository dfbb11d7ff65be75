package balances

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/projections"
)

// The ranking by what is open is company-wide; a zone's or a salesperson's
// page walks it and keeps their customers, and the ranking by what is overdue
// on a date walks it too (overdue.go). So that a walk reads few records, a
// member of the ranking says more than who: its 16-byte id, the codes of the
// customer's zone and salesperson (uvarints, 0 for none), and the due dates of
// its oldest and newest open invoices (varints): on a date before the first
// nothing is overdue, after the second everything is. Codes are numbered in
// the order names first appear in the log (the codes hash), so a rebuild
// numbers them as the live model did.

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

// ranked is what a ranking member says.
type ranked struct {
	zone, salesperson uint64
	oldest, newest    account.Date // due dates of the oldest and newest open invoices
}

func rankMember(id string, r ranked) string {
	b := binary.AppendUvarint([]byte(rawID(id)), r.zone)
	b = binary.AppendUvarint(b, r.salesperson)
	b = binary.AppendVarint(b, int64(r.oldest))
	return string(binary.AppendVarint(b, int64(r.newest)))
}

// parseMember reads a ranking member; a malformed one says nothing, which
// makes every walk read its record.
func parseMember(m string) ranked {
	d := decoder{s: m, i: 16}
	r := ranked{zone: d.uvarint(), salesperson: d.uvarint(), oldest: account.Date(d.varint()), newest: account.Date(d.varint())}
	if d.err || len(m) < 16 {
		return ranked{oldest: math.MinInt32, newest: math.MaxInt32}
	}
	return r
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
