package customerview

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/projections"
)

// ListQuery selects and pages customers in display-name order.
type ListQuery struct {
	Archived    *bool // nil: archived and active alike
	Type        string
	Zone        string
	Salesperson string
	Industry    string
	// After is the cursor of the previous page ("" for the first).
	After string
	// Limit is the page size: default 20, at most 100.
	Limit int
}

// Page is one page of a list.
type Page struct {
	Items []View
	// Next is the cursor of the next page; "" when this is the last.
	Next string
}

// MaxLimit caps a page.
const MaxLimit = 100

// ErrBadCursor: the cursor was not made by List.
var ErrBadCursor = errors.New("invalid list cursor")

// List returns a page of customers in display-name order. The cursor is the last
// entry read, so pages stay consistent while customers are added, renamed or
// archived: no customer that kept its name is skipped or repeated.
func List(ctx context.Context, rdb redis.Cmdable, q ListQuery) (Page, error) {
	keys, ok, err := projections.CurrentKeys(ctx, rdb, Name)
	if err != nil || !ok {
		return Page{}, errors.Join(err, notReady(ok))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, MaxLimit)
	start := "-"
	if q.After != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.After)
		if err != nil || len(b) == 0 {
			return Page{}, ErrBadCursor
		}
		start = "(" + string(b)
	}
	// Walk the smallest set that every wanted customer is in; check the other
	// filters on the views themselves.
	sets := []string{}
	if q.Archived != nil {
		sets = append(sets, keys.Key("f", "archived", fmt.Sprint(*q.Archived)))
	}
	for field, value := range map[string]string{"type": q.Type, "zone": q.Zone, "salesperson": q.Salesperson, "industry": q.Industry} {
		if value != "" {
			sets = append(sets, keys.Key("f", field, value))
		}
	}
	source := keys.Key("list")
	if len(sets) > 0 {
		cards := make([]*redis.IntCmd, len(sets))
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, s := range sets {
				cards[i] = p.ZCard(ctx, s)
			}
			return nil
		})
		if err != nil {
			return Page{}, err
		}
		best := 0
		for i, c := range cards {
			if c.Val() < cards[best].Val() {
				best = i
			}
		}
		source = sets[best]
	}
	var page Page
	chunk := int64(limit * 2)
	for {
		members, err := rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: source, Start: start, Stop: "+", ByLex: true, Count: chunk}).Result()
		if err != nil {
			return Page{}, err
		}
		if len(members) == 0 {
			return page, nil
		}
		views, err := load(ctx, rdb, keys, members)
		if err != nil {
			return Page{}, err
		}
		for i, v := range views {
			if v == nil || !q.matches(*v) {
				continue
			}
			page.Items = append(page.Items, *v)
			if len(page.Items) == limit {
				if i < len(members)-1 || int64(len(members)) == chunk {
					page.Next = base64.RawURLEncoding.EncodeToString([]byte(members[i]))
				}
				return page, nil
			}
		}
		if int64(len(members)) < chunk {
			return page, nil
		}
		start = "(" + members[len(members)-1]
	}
}

func (q ListQuery) matches(v View) bool {
	return (q.Archived == nil || *q.Archived == v.Archived) &&
		(q.Type == "" || q.Type == v.Details.CustomerType) && (q.Zone == "" || q.Zone == v.Details.ServiceZone) &&
		(q.Salesperson == "" || q.Salesperson == v.Details.Salesperson) && (q.Industry == "" || q.Industry == v.Details.Industry)
}

// load reads the views of list members ("name\x00id"); a member whose view is
// gone (a race with a rename) gives nil.
func load(ctx context.Context, rdb redis.Cmdable, keys projections.Keys, members []string) ([]*View, error) {
	ks := make([]string, len(members))
	for i, m := range members {
		id := m[len(m)-idLen(m):]
		ks[i] = keys.Key("c", id)
	}
	vals, err := rdb.MGet(ctx, ks...).Result()
	if err != nil {
		return nil, err
	}
	out := make([]*View, len(vals))
	for i, val := range vals {
		s, ok := val.(string)
		if !ok {
			continue
		}
		var v View
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, err
		}
		if v.member() == members[i] { // else renamed since the range was read
			out[i] = &v
		}
	}
	return out, nil
}

func idLen(member string) int {
	for i := len(member) - 1; i >= 0; i-- {
		if member[i] == 0 {
			return len(member) - i - 1
		}
	}
	return len(member)
}
