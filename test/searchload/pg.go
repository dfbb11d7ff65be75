package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/projections/search"
	"github.com/fieldservice/customer-service/projections/textkey"
)

// postgresBaseline loads the same customers (read back from the log) into a
// table of search entries (one row per customer address, like the Redis index)
// with a pg_trgm GIN index, and runs the same queries ranked the same way: a
// whole value equal to the query, then a word starting with it, then anywhere;
// LIMIT 20.
func postgresBaseline(ctx context.Context, url string, store eventstore.Store, cdc *codec.Codec, queries []string) ([]time.Duration, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		`CREATE EXTENSION IF NOT EXISTS pg_trgm`,
		`DROP TABLE IF EXISTS searchload_entries`,
		`CREATE UNLOGGED TABLE searchload_entries (customer_id text, address_idx int, display_name text, doc text)`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return nil, err
		}
	}
	var rows [][]any
	flush := func() error {
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"searchload_entries"}, []string{"customer_id", "address_idx", "display_name", "doc"}, pgx.CopyFromRows(rows))
		rows = rows[:0]
		return err
	}
	t := time.Now()
	for rec, err := range store.ReadAll(ctx, eventstore.Position{}, 0) {
		if err != nil {
			return nil, err
		}
		e, _, err := cdc.Decode(ctx, rec)
		if err != nil {
			return nil, err
		}
		reg, ok := e.(customer.Registered)
		if !ok {
			continue
		}
		d := reg.Details
		shared := []string{textkey.Fold(d.FirstName + " " + d.LastName), textkey.Fold(d.BusinessName), textkey.Fold(d.ContactName), textkey.Fold(d.Email)}
		for _, m := range d.NotificationEmails {
			shared = append(shared, textkey.Fold(m))
		}
		for _, p := range d.Phones {
			shared = append(shared, strings.TrimPrefix(p.Number, "+"))
		}
		for i, a := range d.Addresses {
			doc := " | " + strings.Join(append(shared, textkey.Fold(a.Street)), " | ") + " | "
			rows = append(rows, []any{reg.CustomerID, i, d.DisplayName(), doc})
		}
		if len(rows) >= 10_000 {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `CREATE INDEX ON searchload_entries USING gin (doc gin_trgm_ops)`); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `ANALYZE searchload_entries`); err != nil {
		return nil, err
	}
	fmt.Printf("PostgreSQL: loaded and indexed in %s\n", time.Since(t).Round(time.Millisecond))
	const query = `SELECT customer_id, address_idx, display_name FROM searchload_entries
		WHERE doc LIKE '%' || $1 || '%'
		ORDER BY CASE WHEN doc LIKE '% | ' || $1 || ' | %' THEN 0
		              WHEN doc LIKE '% ' || $1 || '%' OR doc LIKE '%@' || $1 || '%' OR doc LIKE '%.' || $1 || '%' THEN 1
		              ELSE 2 END
		LIMIT 20`
	lat := make([]time.Duration, 0, len(queries))
	for _, raw := range queries {
		q, _ := search.ParseQuery(raw)
		like := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q.Text())
		t := time.Now()
		rs, err := conn.Query(ctx, query, like)
		if err != nil {
			return nil, err
		}
		for rs.Next() {
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t))
	}
	return lat, nil
}
