package balances

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/projections"
)

// Errors of the queries.
var (
	ErrNotReady  = errors.New("the balances read model is not built yet")
	ErrBadCursor = errors.New("invalid cursor")
	// ErrCurrencyRequired: accounts are in several currencies, and a report
	// totals one.
	ErrCurrencyRequired = errors.New("accounts are in several currencies: name one")
	// ErrOneFilter: a report filters by a zone or by a salesperson, not both.
	ErrOneFilter = errors.New("filter by service zone or by salesperson, not both")
)

// Standing is one customer's account on a date.
type Standing struct {
	CustomerID string
	Number     int64
	// Zone and Salesperson are the customer's service zone and salesperson.
	Zone, Salesperson string
	// Version is the account's version (its ETag); 0 before its first event.
	Version uint64
	AsOf    account.Date
	account.Summary

	rank string // its member in the ranking it was read from: the cursor's tie-break
}

func currentKeys(ctx context.Context, rdb redis.Cmdable) (projections.Keys, error) {
	keys, ok, err := projections.CurrentKeys(ctx, rdb, Name)
	if err != nil {
		return keys, err
	}
	if !ok {
		return keys, ErrNotReady
	}
	return keys, nil
}

func get(ctx context.Context, rdb redis.Cmdable, keys projections.Keys, id string) (*record, error) {
	recs, err := getMany(ctx, rdb, keys, []string{id})
	if err != nil {
		return nil, err
	}
	return recs[0], nil
}

func standingOf(id string, r *record, asOf account.Date) Standing {
	return Standing{CustomerID: id, Number: r.Number, Zone: r.Zone, Salesperson: r.Salesperson, Version: r.AccountVersion, AsOf: asOf,
		Summary: account.Age(r.Currency, r.openItems(), r.Credit, r.Limit, asOf)}
}

// Balance is a customer's standing on asOf; false when the read model does
// not know the customer.
func Balance(ctx context.Context, rdb redis.Cmdable, id string, asOf account.Date) (Standing, bool, error) {
	keys, err := currentKeys(ctx, rdb)
	if err != nil {
		return Standing{}, false, err
	}
	r, err := get(ctx, rdb, keys, id)
	if err != nil || r == nil {
		return Standing{}, false, err
	}
	return standingOf(id, r, asOf), true, nil
}

// Holds tells which of the customers are on credit hold on asOf (those the
// read model does not know are not).
func Holds(ctx context.Context, rdb redis.Cmdable, ids []string, asOf account.Date) (map[string]account.Hold, error) {
	out := map[string]account.Hold{}
	if len(ids) == 0 {
		return out, nil
	}
	keys, err := currentKeys(ctx, rdb)
	if err != nil {
		return nil, err
	}
	recs, err := getMany(ctx, rdb, keys, ids)
	if err != nil {
		return nil, err
	}
	for i, r := range recs {
		if r != nil {
			out[ids[i]] = standingOf(ids[i], r, asOf).Hold
		}
	}
	return out, nil
}

// getMany reads customers' records in one round trip; nil for one the model
// does not know.
func getMany(ctx context.Context, rdb redis.Cmdable, keys projections.Keys, ids []string) ([]*record, error) {
	out := make([]*record, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	cmds := make([]*redis.StringCmd, len(ids))
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			bucket, field := recordKey(keys, id)
			cmds[i] = p.HGet(ctx, bucket, field)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	for i, c := range cmds {
		s, err := c.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		r, err := decodeRecord(s)
		if err != nil {
			return nil, fmt.Errorf("customer %s: %w", ids[i], err)
		}
		out[i] = &r
	}
	return out, nil
}

// HistoryLine is an entry of the billing history with the balance after it.
type HistoryLine struct {
	Entry
	Balance int64
}

// HistoryPage is a page of a customer's billing history, oldest first.
type HistoryPage struct {
	Currency string
	Lines    []HistoryLine
	Next     string
}

// History is a page of a customer's billing history in date order (entries of
// one day in the order they were recorded), with the running balance: what is
// open less store credit. after is the cursor of the previous page.
func History(ctx context.Context, rdb redis.Cmdable, id, after string, limit int) (HistoryPage, bool, error) {
	keys, err := currentKeys(ctx, rdb)
	if err != nil {
		return HistoryPage{}, false, err
	}
	from := 0
	if after != "" {
		n, err := strconv.ParseUint(after, 10, 31)
		if err != nil {
			return HistoryPage{}, false, ErrBadCursor
		}
		from = int(n)
	}
	r, err := get(ctx, rdb, keys, id)
	if err != nil || r == nil {
		return HistoryPage{}, false, err
	}
	lines := make([]HistoryLine, len(r.History))
	for i, e := range r.History {
		lines[i] = HistoryLine{Entry: e}
	}
	slices.SortStableFunc(lines, func(a, b HistoryLine) int { return int(a.On - b.On) })
	var bal int64
	for i := range lines {
		bal += lines[i].Effect()
		lines[i].Balance = bal
	}
	// The cursor is a place in date order: an entry dated back later moves
	// the lines after it by one, as a new page of a ledger would.
	if from > len(lines) {
		return HistoryPage{}, false, ErrBadCursor
	}
	page := HistoryPage{Currency: r.Currency, Lines: lines[from:min(len(lines), from+limit)]}
	if end := from + len(page.Lines); end < len(lines) {
		page.Next = strconv.Itoa(end)
	}
	return page, true, nil
}

// Order is how a report ranks customers.
type Order string

const (
	ByOpen    Order = "open"
	ByOverdue Order = "overdue"
)

// ReportRequest asks for the unpaid balances on a date.
type ReportRequest struct {
	AsOf        account.Date
	Currency    string // "" when accounts have one currency
	Zone        string
	Salesperson string
	Order       Order
	After       string
	Limit       int
}

// Report is the company's unpaid balances on a date: the totals of every
// account (of the zone or salesperson asked for) and a page of customers,
// the largest first.
type Report struct {
	Currency    string
	AsOf        account.Date
	Totals      account.Buckets
	StoreCredit int64 // company-wide
	Rows        []Standing
	Next        string
}

// dueKey names the hash of open amounts by due date the report totals.
func (q ReportRequest) dueKey(keys projections.Keys, cur string) string {
	switch {
	case q.Zone != "":
		return keys.Key("due", cur, "zone", q.Zone)
	case q.Salesperson != "":
		return keys.Key("due", cur, "sp", q.Salesperson)
	}
	return keys.Key("due", cur)
}

// UnpaidBalances answers a report request.
func UnpaidBalances(ctx context.Context, rdb redis.Cmdable, q ReportRequest) (Report, error) {
	if q.Zone != "" && q.Salesperson != "" {
		return Report{}, ErrOneFilter
	}
	if q.Limit <= 0 {
		q.Limit = 20
	}
	keys, err := currentKeys(ctx, rdb)
	if err != nil {
		return Report{}, err
	}
	cur, err := currencyOf(ctx, rdb, keys, q.Currency)
	if err != nil || cur == "" {
		return Report{Currency: q.Currency, AsOf: q.AsOf}, err
	}
	rep := Report{Currency: cur, AsOf: q.AsOf}
	if rep.Totals, err = Totals(ctx, rdb, keys, q.dueKey(keys, cur), q.AsOf); err != nil {
		return Report{}, err
	}
	credit, err := rdb.HGet(ctx, keys.Key("credit"), cur).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return Report{}, err
	}
	rep.StoreCredit = credit
	from, err := decodeRankCursor(q.After)
	if err != nil {
		return Report{}, err
	}
	switch q.Order {
	case ByOverdue:
		rep.Rows, err = byOverdue(ctx, rdb, keys, q, cur, from)
	default:
		rep.Rows, err = byOpen(ctx, rdb, keys, keys.Key("open", cur), q, from)
	}
	if err != nil {
		return Report{}, err
	}
	if len(rep.Rows) == q.Limit {
		last := rep.Rows[len(rep.Rows)-1]
		score := last.Open
		if q.Order == ByOverdue {
			score = last.Overdue
		}
		rep.Next = rankCursor{score: score, member: last.rank}.encode()
	}
	return rep, nil
}

// currencyOf is the currency a report is in: the one asked for, or the only
// one; "" when there are no accounts yet.
func currencyOf(ctx context.Context, rdb redis.Cmdable, keys projections.Keys, asked string) (string, error) {
	if asked != "" {
		return account.ParseCurrency(asked)
	}
	all, err := rdb.SMembers(ctx, keys.Key("currencies")).Result()
	switch {
	case err != nil:
		return "", err
	case len(all) == 0:
		return "", nil
	case len(all) > 1:
		slices.Sort(all)
		return "", fmt.Errorf("%w (%v)", ErrCurrencyRequired, all)
	}
	return all[0], nil
}

// Totals ages what is open, by due day in the hash key, on asOf: exact, in one
// read of a field per distinct due date.
func Totals(ctx context.Context, rdb redis.Cmdable, keys projections.Keys, key string, asOf account.Date) (account.Buckets, error) {
	var b account.Buckets
	m, err := rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return b, err
	}
	for day, v := range m {
		d, err1 := strconv.ParseInt(day, 10, 32)
		amount, err2 := strconv.ParseInt(v, 10, 64)
		if err1 != nil || err2 != nil {
			return b, fmt.Errorf("balances: %s holds %s=%s", key, day, v)
		}
		b.Put(account.Date(d), asOf, amount)
	}
	return b, nil
}

// rankCursor is where a ranked page ended: the last row's amount and member.
type rankCursor struct {
	score  int64
	member string
}

func (c rankCursor) encode() string {
	b := binary.AppendVarint(nil, c.score)
	return base64.RawURLEncoding.EncodeToString(append(b, c.member...))
}

func decodeRankCursor(s string) (*rankCursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	v, n := binary.Varint(b)
	if n <= 0 || len(b)-n < 16 || len(b)-n > 16+4*binary.MaxVarintLen64 {
		return nil, ErrBadCursor
	}
	return &rankCursor{score: v, member: string(b[n:])}, nil
}

// passed reports whether (score, member) comes after the cursor in a ranking,
// largest first, ties in descending member order as ZREVRANGE gives them.
func (c *rankCursor) passed(score int64, member string) bool {
	return c == nil || score < c.score || score == c.score && member < c.member
}

// wants reports whether a customer belongs in the report: its zone's or its
// salesperson's when the request names one.
func (q ReportRequest) wants(s Standing) bool {
	return (q.Zone == "" || s.Zone == q.Zone) && (q.Salesperson == "" || s.Salesperson == q.Salesperson)
}

// byOpen reads a page of the ranking by what is open. A zone's or a
// salesperson's page walks the company's ranking and keeps their customers,
// in batches that grow while few match.
func byOpen(ctx context.Context, rdb redis.Cmdable, keys projections.Keys, key string, q ReportRequest, from *rankCursor) ([]Standing, error) {
	start := int64(0)
	if from != nil {
		// Where the cursor's customer is now, when it still has the cursor's
		// amount; else from that amount down, past the ties already shown.
		if rank, err := rdb.ZRevRank(ctx, key, from.member).Result(); err == nil {
			if score, _ := rdb.ZScore(ctx, key, from.member).Result(); int64(score) == from.score {
				start = rank + 1
				from = nil
			}
		}
	}
	zone, sp, ok, err := filterCodes(ctx, rdb, keys, q)
	if err != nil || !ok {
		return nil, err // a zone or salesperson no customer ever had: no rows
	}
	var out []Standing
	n := int64(q.Limit + 16)
	if q.Zone != "" || q.Salesperson != "" {
		n = 256
	}
	for ; len(out) < q.Limit; n = min(4*n, 4096) {
		var zs []redis.Z
		var err error
		if from == nil {
			zs, err = rdb.ZRevRangeWithScores(ctx, key, start, start+n-1).Result()
		} else {
			zs, err = rdb.ZRevRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{Max: strconv.FormatInt(from.score, 10), Min: "-inf", Offset: start, Count: n}).Result()
		}
		if err != nil {
			return nil, err
		}
		start += int64(len(zs))
		var ids []string
		rankOf := map[string]string{}
		for _, z := range zs {
			m := z.Member.(string)
			if from.passed(int64(z.Score), m) && parseMember(m).matches(zone, sp) {
				ids = append(ids, idOf(m))
				rankOf[idOf(m)] = m
			}
		}
		rows, err := standings(ctx, rdb, keys, ids, q.AsOf)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if len(out) < q.Limit {
				r.rank = rankOf[r.CustomerID]
				out = append(out, r)
			}
		}
		if int64(len(zs)) < n {
			break
		}
	}
	return out, nil
}

// filterCodes are the codes of the zone and salesperson a request filters by
// (0: any); false when one of them no customer ever had.
func filterCodes(ctx context.Context, rdb redis.Cmdable, keys projections.Keys, q ReportRequest) (zone, sp uint64, ok bool, err error) {
	ok = true
	if q.Zone != "" {
		if zone, ok, err = code(ctx, rdb, keys, "zone", q.Zone); err != nil || !ok {
			return 0, 0, false, err
		}
	}
	if q.Salesperson != "" {
		if sp, ok, err = code(ctx, rdb, keys, "sp", q.Salesperson); err != nil || !ok {
			return 0, 0, false, err
		}
	}
	return zone, sp, true, nil
}

// matches reports whether a ranking member is of the zone and salesperson
// (0: any).
func (r ranked) matches(zone, sp uint64) bool {
	return (zone == 0 || r.zone == zone) && (sp == 0 || r.salesperson == sp)
}

// standings reads the customers' standings on asOf, in order; one the model
// does not know (erased between two reads) is left out.
func standings(ctx context.Context, rdb redis.Cmdable, keys projections.Keys, ids []string, asOf account.Date) ([]Standing, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	recs, err := getMany(ctx, rdb, keys, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Standing, 0, len(ids))
	for i, r := range recs {
		if r != nil {
			s := standingOf(ids[i], r, asOf)
			s.rank = rawID(ids[i])
			out = append(out, s)
		}
	}
	return out, nil
}
