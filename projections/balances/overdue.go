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
// instead of walking the ranking by what is open. A variable for the tests,
// which walk with it at 0.
var fewOverdue int64 = 4096

// byOverdue reads a page of the customers with money past due on the date,
// the most first. What is overdue depends on the date, so no stored ranking
// holds it; but it is never more than what is open. So the ranking by what is
// open is walked from the top, and the walk stops once what is open there is
// below the page's smallest overdue amount. When few customers have anything
// past due (a date long ago), they are read directly instead: the customers
// whose oldest open invoice was due before the date (the oldest: set). A
// zone's or a salesperson's page walks the company's ranking and keeps theirs.
func byOverdue(ctx context.Context, rdb redis.Cmdable, keys projections.Keys, q ReportRequest, cur string, from *rankCursor) ([]Standing, error) {
	var best []Standing
	keep := func(rows []Standing) {
		for _, s := range rows {
			if s.Overdue > 0 && q.wants(s) && from.passed(s.Overdue, s.rank) {
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
			return -strings.Compare(a.rank, b.rank)
		})
		best = best[:min(len(best), q.Limit)]
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
		keep(rows)
		return best, nil
	}
	zone, sp, ok, err := filterCodes(ctx, rdb, keys, q)
	if err != nil || !ok {
		return nil, err // a zone or salesperson no customer ever had: no rows
	}
	key := keys.Key("open", cur)
	seen := int64(0) // customers with money past due met so far, of any zone
	for start, n := int64(0), int64(256); ; start, n = start+n, min(4*n, 4096) {
		zs, err := rdb.ZRevRangeWithScores(ctx, key, start, start+n-1).Result()
		if err != nil {
			return nil, err
		}
		// Only the zone's or salesperson's records are read; the others still
		// count towards the customers with money past due, whose oldest open
		// invoice is due before the date.
		var ids []string
		for _, z := range zs {
			if m := z.Member.(string); matches(m, zone, sp) {
				ids = append(ids, idOf(m))
			}
		}
		if zone != 0 || sp != 0 {
			seen = -1 // the count is the company's: it cannot end a filtered walk
		}
		rows, err := standings(ctx, rdb, keys, ids, q.AsOf)
		if err != nil {
			return nil, err
		}
		for _, s := range rows {
			if s.Overdue > 0 && seen >= 0 {
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
