package balances

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/projections"
)

// fewOverdue is how many customers with money past due are read at once
// instead of walking the ranking by what is open. A variable for the tests,
// which walk with it at 0.
var fewOverdue int64 = 4096

// candidate is a customer with money past due on the report's date.
type candidate struct {
	overdue int64
	id      string
}

// byOverdue reads a page of the customers with money past due on the date,
// the most first (ties by id). What is overdue depends on the date, so no
// stored ranking holds it; but it is never more than what is open. So the
// ranking by what is open is walked from the top, and the walk stops once
// what is open there is below the page's smallest overdue amount, or once it
// has met every customer with money past due (those whose oldest open
// invoice was due before the date: the oldest: set counts them). Members
// carry their due dates: a customer with nothing due before the date is
// passed over, one with everything due before it owes all it has open, and
// only the others' records are read. When few customers have anything past
// due (a date long ago), they are read directly from the oldest: set.
func byOverdue(ctx context.Context, rdb redis.Cmdable, keys projections.Keys, q ReportRequest, cur string, from *rankCursor) ([]Standing, error) {
	var best []candidate
	consider := func(c candidate) {
		if c.overdue <= 0 || !from.passed(c.overdue, rawID(c.id)) {
			return
		}
		i, _ := slices.BinarySearchFunc(best, c, func(a, b candidate) int {
			if a.overdue != b.overdue {
				if a.overdue > b.overdue {
					return -1
				}
				return 1
			}
			return -strings.Compare(rawID(a.id), rawID(b.id))
		})
		if i < q.Limit {
			best = slices.Insert(best, i, c)[:min(len(best)+1, q.Limit)]
		}
	}
	dueBefore := "(" + strconv.FormatInt(int64(q.AsOf), 10)
	oldest := keys.Key("oldest", cur)
	count, err := rdb.ZCount(ctx, oldest, "-inf", dueBefore).Result()
	if err != nil {
		return nil, err
	}
	if count <= fewOverdue {
		ms, err := rdb.ZRangeByScore(ctx, oldest, &redis.ZRangeBy{Min: "-inf", Max: dueBefore}).Result()
		if err != nil {
			return nil, err
		}
		rows, err := standings(ctx, rdb, keys, idsOf(ms), q.AsOf)
		if err != nil {
			return nil, err
		}
		for _, s := range rows {
			if q.wants(s) {
				consider(candidate{s.Overdue, s.CustomerID})
			}
		}
		return page(ctx, rdb, keys, q.AsOf, best)
	}
	zone, sp, ok, err := filterCodes(ctx, rdb, keys, q)
	if err != nil || !ok {
		return nil, err // a zone or salesperson no customer ever had: no rows
	}
	key := keys.Key("open", cur)
	seen := int64(0) // customers with money past due met so far, of any zone
	for start, n := int64(0), int64(1024); ; start, n = start+n, min(4*n, 16384) {
		zs, err := rdb.ZRevRangeWithScores(ctx, key, start, start+n-1).Result()
		if err != nil {
			return nil, err
		}
		var read []string
		for _, z := range zs {
			m := z.Member.(string)
			r := parseMember(m)
			if r.oldest >= q.AsOf {
				continue // nothing due before the date
			}
			seen++
			switch {
			case !r.matches(zone, sp):
			case r.newest < q.AsOf:
				consider(candidate{int64(z.Score), idOf(m)}) // everything open is past due
			default:
				read = append(read, idOf(m))
			}
		}
		rows, err := standings(ctx, rdb, keys, read, q.AsOf)
		if err != nil {
			return nil, err
		}
		for _, s := range rows {
			consider(candidate{s.Overdue, s.CustomerID})
		}
		switch {
		case int64(len(zs)) < n, seen >= count:
			return page(ctx, rdb, keys, q.AsOf, best) // the end of the ranking, or every customer with money past due
		case len(best) == q.Limit && int64(zs[len(zs)-1].Score) < best[len(best)-1].overdue:
			return page(ctx, rdb, keys, q.AsOf, best) // nobody further down owes as much
		}
	}
}

// page reads the standings of a page's customers, in its order.
func page(ctx context.Context, rdb redis.Cmdable, keys projections.Keys, asOf account.Date, best []candidate) ([]Standing, error) {
	ids := make([]string, len(best))
	for i, c := range best {
		ids[i] = c.id
	}
	return standings(ctx, rdb, keys, ids, asOf)
}

func idsOf(members []string) []string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = idOf(m)
	}
	return out
}
