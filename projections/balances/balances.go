// Package balances is the read model of what customers owe: per customer its
// open invoices (to age them on any date), store credit, credit limit and
// billing history; company-wide, the open amounts by due date (to total the
// aging buckets exactly on any date) and customers ranked by what they owe,
// by service zone and salesperson too. It folds the account streams and the
// customer events that file a customer under a zone, a salesperson and a
// number.
//
// Keys (under the generation's prefix, see package projections):
//
//	r:<bucket>                      hash: customer id (16 bytes) → its record (record.go), binary;
//	                                65,536 buckets by a hash of the id
//	due:<cur>[:zone:<z>|:sp:<s>]    hash: due date (days since 1970) → what is open, due that day
//	open:<cur>                      sorted set: customers by what is open; a member is the 16-byte
//	                                id, the codes of its zone and salesperson, and the due dates
//	                                of its oldest and newest open invoices (members.go)
//	oldest:<cur>                    sorted set: customers (16-byte ids) by the due date of their
//	                                oldest open invoice
//	codes                           hash: "zone:<name>", "sp:<name>" → code
//	credit                          hash: currency → store credit held
//	currencies                      set: the currencies of every account
//
// Memory is what bounds the layout at a million customers: a sorted set costs
// about 120 bytes per member, a key of its own about 70 bytes more than a
// field of a shared hash. So records share bucket hashes, and the rankings
// are company-wide only: a zone's or a salesperson's ranking walks the
// company's and keeps its customers (see byOpen).
//
// Aging needs no event when a due date passes: the buckets are computed at
// query time from due dates. A hash field or set member whose amount falls to
// zero is removed, so a rebuild and the live model hold the same keys.
package balances

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/projections"
)

// Name is the read model's name and checkpoint identity.
const Name = "balances-v1"

// Projector maintains the read model.
type Projector struct{}

// Name implements projections.Projector.
func (Projector) Name() string { return Name }

// EventTypes implements projections.Subscriber: every account event, and the
// customer events that set its number, zone and salesperson.
func (Projector) EventTypes() []string {
	out := []string{customer.TypeRegistered, customer.TypeDetailsChanged}
	for _, t := range account.Events() {
		out = append(out, t.Event.EventType())
	}
	return out
}

// customerOf names the customer an event is about, from its stream.
func customerOf(stream string) (string, bool) {
	if id, ok := account.Stream.ID(stream); ok {
		return id, true
	}
	return customer.Stream.ID(stream)
}

// Project implements projections.Projector.
func (Projector) Project(ctx context.Context, keys projections.Keys, r redis.Cmdable, w redis.Pipeliner, batch []projections.Event) error {
	var ids []string
	byID := map[string][]projections.Event{}
	for _, e := range batch {
		id, ok := customerOf(e.Stream)
		if !ok {
			continue
		}
		if _, seen := byID[id]; !seen {
			ids = append(ids, id)
		}
		byID[id] = append(byID[id], e)
	}
	if len(ids) == 0 {
		return nil
	}
	records, err := load(ctx, r, keys, ids, byID)
	if err != nil {
		return err
	}
	cs, err := assignCodes(ctx, keys, r, w, batch)
	if err != nil {
		return err
	}
	ed := newEdits(keys, cs)
	for _, id := range ids {
		before := records[id]
		var after record
		if before != nil {
			after = *before
			after.Invoices = append([]invoice(nil), before.Invoices...)
			after.History = append([]Entry(nil), before.History...)
		}
		for _, e := range byID[id] {
			if err := after.apply(e); err != nil {
				return fmt.Errorf("balances: customer %s: %w", id, err)
			}
		}
		bucket, field := recordKey(keys, id)
		w.HSet(ctx, bucket, field, after.encode())
		ed.move(id, before, &after)
	}
	ed.queue(ctx, w)
	return nil
}

// load reads the records of the batch's customers that may exist already:
// all but those whose first event in the batch is their registration.
func load(ctx context.Context, r redis.Cmdable, keys projections.Keys, ids []string, byID map[string][]projections.Event) (map[string]*record, error) {
	out := map[string]*record{}
	var known []string
	for _, id := range ids {
		if first := byID[id][0]; first.Type == customer.TypeRegistered && first.Version == 1 {
			continue
		}
		known = append(known, id)
	}
	recs, err := getMany(ctx, r, keys, known)
	if err != nil {
		return nil, err
	}
	for i, id := range known {
		if recs[i] != nil {
			out[id] = recs[i]
		}
	}
	return out, nil
}

// recordKey names the hash bucket and field of a customer's record.
func recordKey(keys projections.Keys, id string) (bucket, field string) {
	h := fnv.New32a()
	h.Write([]byte(id))
	return keys.Key("r", strconv.FormatUint(uint64(h.Sum32()&0xffff), 16)), rawID(id)
}

// apply folds one event into the record; an event it saw already (a batch
// run again after a crash) changes nothing.
func (r *record) apply(e projections.Event) error {
	if _, ok := customer.Stream.ID(e.Stream); ok {
		if e.Version <= r.CustomerVersion {
			return nil
		}
		r.CustomerVersion = e.Version
		switch ev := e.Event.(type) {
		case customer.Registered:
			r.Number, r.Zone, r.Salesperson = ev.Number, ev.Details.ServiceZone, ev.Details.Salesperson
		case customer.DetailsChanged:
			if ev.Changes.ServiceZone != nil {
				r.Zone = *ev.Changes.ServiceZone
			}
			if ev.Changes.Salesperson != nil {
				r.Salesperson = *ev.Changes.Salesperson
			}
		}
		return nil
	}
	if e.Version <= r.AccountVersion {
		return nil
	}
	r.AccountVersion = e.Version
	switch ev := e.Event.(type) {
	case account.InvoiceIssued:
		r.setCurrency(ev.Currency)
		r.Invoices = append(r.Invoices, invoice{Number: ev.Number, DueOn: ev.DueOn, Open: ev.Total})
		r.History = append(r.History, Entry{Kind: Invoiced, On: ev.IssuedOn, Ref: ev.Number, Amount: ev.Total})
	case account.InvoiceVoided:
		k := r.index(ev.Number)
		if k < 0 {
			return fmt.Errorf("void of unknown invoice %s", ev.Number)
		}
		open := r.Invoices[k].Open
		r.Invoices = append(r.Invoices[:k], r.Invoices[k+1:]...)
		r.Credit += ev.CreditReturned
		r.History = append(r.History, Entry{Kind: Voided, On: ev.VoidedOn, Ref: ev.Number, Amount: open + ev.CreditReturned})
	case account.PaymentReceived:
		r.setCurrency(ev.Currency)
		for _, al := range ev.Allocations {
			if err := r.settle(al.Invoice, al.Amount); err != nil {
				return err
			}
		}
		r.Credit += ev.ToCredit
		r.History = append(r.History, Entry{Kind: Paid, On: ev.ReceivedOn, Ref: ev.PaymentID, Amount: ev.Amount,
			Method: ev.Method.String()})
	case account.PaymentRefunded:
		for _, al := range ev.Invoices {
			if err := r.settle(al.Invoice, -al.Amount); err != nil {
				return err
			}
		}
		r.Credit -= ev.FromCredit
		r.History = append(r.History, Entry{Kind: Refunded, On: ev.RefundedOn, Ref: ev.PaymentID, Amount: ev.Amount})
	case account.StoreCreditAdded:
		r.setCurrency(ev.Currency)
		r.Credit += ev.Amount
		r.History = append(r.History, Entry{Kind: Credited, On: ev.AddedOn, Ref: ev.Reference, Amount: ev.Amount})
	case account.StoreCreditApplied:
		if err := r.settle(ev.Invoice, ev.Amount); err != nil {
			return err
		}
		r.Credit -= ev.Amount
		r.History = append(r.History, Entry{Kind: CreditApplied, On: ev.AppliedOn, Ref: ev.Invoice, Amount: ev.Amount})
	case account.CreditLimitSet:
		r.setCurrency(ev.Currency)
		r.Limit = ev.Limit
	}
	return nil
}

func (r *record) index(number string) int {
	for k := range r.Invoices {
		if r.Invoices[k].Number == number {
			return k
		}
	}
	return -1
}

// settle takes amount off what is open on an invoice (a negative amount opens it again).
func (r *record) settle(number string, amount int64) error {
	k := r.index(number)
	if k < 0 {
		return fmt.Errorf("unknown invoice %s", number)
	}
	r.Invoices[k].Open -= amount
	return nil
}

func (r *record) setCurrency(c string) {
	if r.Currency == "" {
		r.Currency = c
	}
}

// groups are the keys a customer's amounts are filed under: company-wide, its
// zone's and its salesperson's.
func (r *record) groups(keys projections.Keys, kind string) []string {
	if r == nil || r.Currency == "" {
		return nil
	}
	out := []string{keys.Key(kind, r.Currency)}
	if r.Zone != "" {
		out = append(out, keys.Key(kind, r.Currency, "zone", r.Zone))
	}
	if r.Salesperson != "" {
		out = append(out, keys.Key(kind, r.Currency, "sp", r.Salesperson))
	}
	return out
}

// edits are a batch's changes to the keys customers share, gathered per key
// so that a batch sends one command per key, not one per customer.
type edits struct {
	keys       projections.Keys
	codes      codes
	due        map[string]map[int64]int64 // key → due day → change
	credit     map[string]int64           // currency → change
	add        map[string][]redis.Z
	remove     map[string][]any
	currencies map[string]bool
}

func newEdits(keys projections.Keys, cs codes) *edits {
	return &edits{keys: keys, codes: cs, due: map[string]map[int64]int64{}, credit: map[string]int64{}, add: map[string][]redis.Z{},
		remove: map[string][]any{}, currencies: map[string]bool{}}
}

// move files a customer's change: its open amounts by due day, its place in
// the rankings, its store credit.
func (ed *edits) move(id string, before, after *record) {
	keys := ed.keys
	for _, k := range before.groups(keys, "due") {
		for _, i := range before.Invoices {
			ed.dueChange(k, i.DueOn, -i.Open)
		}
	}
	for _, k := range after.groups(keys, "due") {
		for _, i := range after.Invoices {
			ed.dueChange(k, i.DueOn, i.Open)
		}
	}
	if before != nil && before.Currency != "" {
		ed.credit[before.Currency] -= before.Credit
	}
	if after.Currency != "" {
		ed.credit[after.Currency] += after.Credit
		ed.currencies[after.Currency] = true
	}
	// Its place in the rankings: removed where it leaves or its member
	// changes (a new zone or salesperson), added (or its score updated) where
	// it is.
	type place struct {
		member string
		score  float64
	}
	placed := func(r *record) map[string]place {
		out := map[string]place{}
		if r == nil || r.open() <= 0 {
			return out
		}
		oldest, newest := r.dueRange()
		m := rankMember(id, ranked{zone: ed.codes.of("zone", r.Zone), salesperson: ed.codes.of("sp", r.Salesperson), oldest: oldest, newest: newest})
		out[keys.Key("open", r.Currency)] = place{m, float64(r.open())} // exact: amounts are far below 2^53
		out[keys.Key("oldest", r.Currency)] = place{rawID(id), float64(oldest)}
		return out
	}
	was, is := placed(before), placed(after)
	for k, p := range was {
		if now, ok := is[k]; !ok || now.member != p.member {
			ed.remove[k] = append(ed.remove[k], p.member)
		}
	}
	for k, p := range is {
		ed.add[k] = append(ed.add[k], redis.Z{Score: p.score, Member: p.member})
	}
}

func (ed *edits) dueChange(key string, day account.Date, delta int64) {
	if delta == 0 {
		return
	}
	f := ed.due[key]
	if f == nil {
		f = map[int64]int64{}
		ed.due[key] = f
	}
	f[int64(day)] += delta
}

// addToHash adds to hash fields, and removes those that fall to zero.
var addToHash = redis.NewScript(`
for i = 1, #ARGV, 2 do
  if redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) == 0 then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 0`)

// queue sends the gathered edits, in a fixed order: the same batch gives the
// same commands.
func (ed *edits) queue(ctx context.Context, w redis.Pipeliner) {
	for _, k := range sortedKeys(ed.remove) {
		w.ZRem(ctx, k, ed.remove[k]...)
	}
	for _, k := range sortedKeys(ed.add) {
		w.ZAdd(ctx, k, ed.add[k]...)
	}
	for _, k := range sortedKeys(ed.due) {
		var args []any
		days := make([]int64, 0, len(ed.due[k]))
		for d, delta := range ed.due[k] {
			if delta != 0 {
				days = append(days, d)
			}
		}
		sort.Slice(days, func(i, j int) bool { return days[i] < days[j] })
		for _, d := range days {
			args = append(args, strconv.FormatInt(d, 10), ed.due[k][d])
		}
		if len(args) > 0 {
			// EVAL, not EVALSHA: in a transaction a script Redis forgot
			// would fail alone while the rest commits.
			addToHash.Eval(ctx, w, []string{k}, args...)
		}
	}
	var credit []any
	for _, c := range sortedKeys(ed.credit) {
		if ed.credit[c] != 0 {
			credit = append(credit, c, ed.credit[c])
		}
	}
	if len(credit) > 0 {
		addToHash.Eval(ctx, w, []string{ed.keys.Key("credit")}, credit...)
	}
	if len(ed.currencies) > 0 {
		w.SAdd(ctx, ed.keys.Key("currencies"), anys(sortedKeys(ed.currencies))...)
	}
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
