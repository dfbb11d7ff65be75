package balances

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/projections"
)

// fewOverdue is how many customers with money past due are read at once
// instead of walking the ranking by what is open.
const fewOverdue = 4096

// byOverdue reads a page of the customers with money past due on the date,
// the most first. What is overdue depends on the date, so no stored ranking
// holds it; but it is never more than what is open. So the ranking by what is
// open is walked from the top, and the walk stops once what is open there is
// below the page's smallest overdue amount. When few customers have anything
// past due (a date long ago), they are read directly instead: the customers
// whose oldest open invoice was due before the date (the oldest: set).
func byOverdue(ctx context.Context, rdb redis.Cmdable, keys projections.Keys, q ReportRequest, cur string, from *rankCursor) ([]Standing, error) {
	var best []Standing
	keep := func(rows []Standing) {
		for _, s := range rows {
			if s.Overdue > 0 && from.passed(s.Overdue, member(s.CustomerID)) {
				best = append(best, s)
			}
		}
		slices.SortFunc(best, func(a, b Standing) int {
			if a.Overdue != b.Overdue {
				if a.Overdue > b.Overdue {
					return -1
				}
				return 1
			}
			return -strings.Compare(member(a.CustomerID), member(b.CustomerID))
		})
		best = best[:min(len(best), q.Limit)]
	}
	dueBefore := "(" + strconv.FormatInt(int64(q.AsOf), 10)
	count := int64(-1) // unknown for a zone's or a salesperson's ranking
	if q.Zone == "" && q.Salesperson == "" {
		oldest := keys.Key("oldest", cur)
		n, err := rdb.ZCount(ctx, oldest, "-inf", dueBefore).Result()
		if err != nil {
			return nil, err
		}
		if n <= fewOverdue {
			ms, err := rdb.ZRangeByScore(ctx, oldest, &redis.ZRangeBy{Min: "-inf", Max: dueBefore}).Result()
			if err != nil {
				return nil, err
			}
			rows, err := standings(ctx, rdb, keys, idsOf(ms), q.AsOf)
			if err != nil {
				return nil, err
			}
			keep(rows)
			return best, nil
		}
		count = n
	}
	key := q.group(keys, "open", cur)
	seen := int64(0)
	for start, n := int64(0), int64(256); ; start, n = start+n, min(4*n, 4096) {
		zs, err := rdb.ZRevRangeWithScores(ctx, key, start, start+n-1).Result()
		if err != nil {
			return nil, err
		}
		ids := make([]string, len(zs))
		for i, z := range zs {
			ids[i] = idOf(z.Member.(string))
		}
		rows, err := standings(ctx, rdb, keys, ids, q.AsOf)
		if err != nil {
			return nil, err
		}
		for _, s := range rows {
			if s.Overdue > 0 {
				seen++
			}
		}
		keep(rows)
		if int64(len(zs)) < n || seen == count {
			return best, nil // the end of the ranking, or every customer with money past due
		}
		if len(best) == q.Limit && int64(zs[len(zs)-1].Score) < best[len(best)-1].Overdue {
			return best, nil // nobody further down owes as much
		}
	}
}

func idsOf(members []string) []string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = idOf(m)
	}
	return out
}
