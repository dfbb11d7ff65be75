package search_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/commands/commandstest"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/eventstore/embedded"
	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/projectionstest"
	"github.com/fieldservice/customer-service/projections/redistest"
	"github.com/fieldservice/customer-service/projections/search"
)

var (
	coordinator = commandstest.Coordinator
	admin       = commandstest.Admin
)

type fixture struct {
	app    *commands.App
	store  *embedded.Store
	codec  *codec.Codec
	runner *projections.Runner
	rdb    *redis.Client
	last   eventstore.Position
}

func newFixture(t *testing.T, rdb *redis.Client) *fixture {
	t.Helper()
	return newFixtureOf(t, rdb, search.Projector{})
}

func newFixtureOf(t *testing.T, rdb *redis.Client, p search.Projector) *fixture {
	t.Helper()
	w := commandstest.New(t)
	app, store, cdc := w.App, w.Store, w.Codec
	runner := projectionstest.Runner(t, w, rdb, p, 0)
	projectionstest.Start(t, runner)
	return &fixture{app: app, store: store, codec: cdc, runner: runner, rdb: rdb}
}

// did checks a command's outcome and remembers its position for sync.
func (f *fixture) did(t *testing.T) func(commands.Result, error) commands.Result {
	return func(res commands.Result, err error) commands.Result {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if f.last.Compare(res.Position) < 0 {
			f.last = res.Position
		}
		return res
	}
}

// sync waits until the index reflects every command so far.
func (f *fixture) sync(t *testing.T) {
	t.Helper()
	projectionstest.Sync(t, f.runner, f.last)
}

// all returns every entry of a query, reading pages of size limit.
func all(t *testing.T, rdb *redis.Client, q string, archived bool, limit int) []search.Entry {
	t.Helper()
	return allInChunks(t, rdb, q, archived, limit, 0)
}

// allInChunks is all, with first chunks of chunk candidates (0: the default).
func allInChunks(t *testing.T, rdb *redis.Client, q string, archived bool, limit, chunk int) []search.Entry {
	t.Helper()
	var out []search.Entry
	req := search.Request{Query: q, IncludeArchived: archived, Limit: limit}
	for range 10_000 {
		res, err := search.Search(context.Background(), rdb, req)
		if chunk > 0 {
			res, err = search.SearchInChunks(context.Background(), rdb, req, chunk)
		}
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		out = append(out, res.Entries...)
		if res.Next == "" {
			return out
		}
		req.After = res.Next
	}
	t.Fatalf("search %q never ended", q)
	return nil
}

func TestPhoneFormatsFindTheSameNumber(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		f := newFixture(t, rdb)
		res := f.did(t)(f.app.RegisterCustomer.Handle(context.Background(), commands.RegisterCustomer{Meta: coordinator, Details: customer.Details{
			Kind: customer.Person, FirstName: "Grace", LastName: "Hopper", Phones: []customer.Phone{{Number: "+1 555 013 4000", Type: customer.Mobile}}}}))
		f.sync(t)
		for _, q := range []string{"555 0134", "(555) 0134", "555-0134", "+1 555 0134", "5550134"} {
			got := all(t, rdb, q, false, 20)
			if len(got) != 1 || got[0].CustomerID != res.CustomerID || got[0].Field != search.FieldPhone {
				t.Fatalf("%q found %+v, want the customer by phone", q, got)
			}
		}
		if got := all(t, rdb, "hopp", false, 20); len(got) != 1 || got[0].Field != search.FieldName || got[0].Class != search.Prefix {
			t.Fatalf("hopp found %+v", got)
		}
		if _, err := search.Search(context.Background(), rdb, search.Request{Query: "gr "}); err != search.ErrQueryTooShort {
			t.Fatalf("a 3-character query: %v", err)
		}
	})
}

func TestEntriesPerAddressRankedWithTheirField(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		muller := f.did(t)(f.app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: coordinator, Details: customer.Details{
			Kind: customer.Person, FirstName: "Jürgen", LastName: "Müller", Email: "jm@example.org",
			Addresses: []customer.Address{{Type: customer.Service, Street: "1 Elm Road"}, {Type: customer.Service, Street: "2 Oak Road"},
				{Type: customer.Billing, Street: "3 Mullerstrasse"}}}}))
		exact := f.did(t)(f.app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: coordinator, Details: customer.Details{
			Kind: customer.Company, BusinessName: "Mull", Email: "office@mull.example"}}))
		infix := f.did(t)(f.app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: coordinator, Details: customer.Details{
			Kind: customer.Person, FirstName: "Ann", LastName: "Smull", Email: "ann@example.org"}}))
		f.sync(t)
		got := all(t, rdb, "MULL", false, 2) // pages of two
		type row struct {
			id    string
			addr  int
			field search.Field
			class search.Class
		}
		var rows []row
		for _, e := range got {
			rows = append(rows, row{e.CustomerID, e.AddressIndex, e.Field, e.Class})
		}
		want := []row{
			{exact.CustomerID, -1, search.FieldName, search.Exact},
			{muller.CustomerID, 0, search.FieldName, search.Prefix}, // "jurgen muller": a word starts with mull
			{muller.CustomerID, 1, search.FieldName, search.Prefix},
			{muller.CustomerID, 2, search.FieldName, search.Prefix}, // its street matches too, but the name ranks first
			{infix.CustomerID, -1, search.FieldName, search.Infix},
		}
		if !slices.Equal(rows, want) {
			t.Fatalf("results:\n got %+v\nwant %+v", rows, want)
		}
		if got[1].Address == nil || got[1].Address.Street != "1 Elm Road" || got[1].DisplayName != "Jürgen Müller" {
			t.Fatalf("an entry must carry its own address and the display name: %+v", got[1])
		}
		// Archived customers are left out unless asked for.
		f.did(t)(f.app.ArchiveCustomer.Handle(ctx, commands.ArchiveCustomer{Meta: coordinator, CustomerID: exact.CustomerID, Reason: "gone"}))
		f.sync(t)
		if n := len(all(t, rdb, "mull", false, 20)); n != 4 {
			t.Fatalf("%d entries without archived customers, want 4", n)
		}
		if n := len(all(t, rdb, "mull", true, 20)); n != 5 {
			t.Fatalf("%d entries with archived customers, want 5", n)
		}
	})
}

// TestIndexMatchesBruteForce drives random commands, then compares every query's
// results, page after page, with a brute-force scan of the customers' current
// states (read back from the log): no stale token after renames, changed phones
// and emails, removed addresses, archiving, erasure; nothing missing; the same
// order.
// TestIndexMatchesBruteForce drives random commands, then compares every
// query's results with a brute-force scan of the customers' states: with the
// default layout, where all these customers share one range, and with ranges
// of four customers, so that searches walk ranges as they do at scale.
func TestIndexMatchesBruteForce(t *testing.T) {
	t.Parallel()
	for _, bits := range []int{0, 2} {
		t.Run(fmt.Sprintf("range bits %d", bits), func(t *testing.T) {
			t.Parallel()
			matchesBruteForce(t, search.Projector{RangeBits: bits})
		})
	}
}

func matchesBruteForce(t *testing.T, p search.Projector) {
	rdb := redistest.Start(t).Client(t)
	f := newFixtureOf(t, rdb, p)
	rng := rand.New(rand.NewPCG(7, 11))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	firsts := []string{"Ann", "Anne", "Anna", "José", "Jose", "Zoë", "Bartholomew"}
	lasts := []string{"Smith", "Smithson", "Müller", "Muller", "Lee", "Leeds", "O'Neill"}
	businesses := []string{"Acme Plumbing", "Acme Plumb", "Plumbing Co", "Anneville Farms", ""}
	streets := []string{"1 Main St", "12 Main Street", "Mainway 5", "Annestraße 3", "77 Smith Road"}
	phones := []string{"+1 212 555 0134", "+1 212 555 0135", "+1 310 555 0134", "+44 20 7946 0018"}
	details := func(n int) customer.Details {
		d := customer.Details{Kind: customer.Person, FirstName: pick(firsts...), LastName: pick(lasts...),
			Email: fmt.Sprintf("%s.%d@mail.test", strings.ToLower(pick("ann", "smith", "lee", "acme")), n)}
		if b := pick(businesses...); b != "" && rng.IntN(2) == 0 {
			d.Kind, d.BusinessName = customer.Company, b
		}
		for _, i := range rng.Perm(len(phones))[:rng.IntN(3)] {
			d.Phones = append(d.Phones, customer.Phone{Number: phones[i], Type: customer.Mobile})
		}
		if rng.IntN(2) == 0 {
			d.NotificationEmails = []string{pick("office@acme.test", "anna@smith.test", "billing@leeds.test")}
		}
		for _, i := range rng.Perm(len(streets))[:rng.IntN(4)] {
			d.Addresses = append(d.Addresses, customer.Address{Type: customer.Service, Street: streets[i], City: "Springfield"})
		}
		return d
	}
	ctx := context.Background()
	var ids []string
	for step := range 300 {
		switch op := rng.IntN(10); {
		case op < 4 || len(ids) == 0:
			res := f.did(t)(f.app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: coordinator, Details: details(step)}))
			ids = append(ids, res.CustomerID)
		case op < 7:
			d := details(step)
			patch := customer.Patch{FirstName: &d.FirstName, Phones: &d.Phones, Addresses: &d.Addresses, NotificationEmails: &d.NotificationEmails}
			if rng.IntN(2) == 0 {
				patch.LastName, patch.BusinessName, patch.Kind = &d.LastName, &d.BusinessName, &d.Kind
			}
			_, err := f.app.UpdateCustomer.Handle(ctx, commands.UpdateCustomer{Meta: coordinator, CustomerID: pick(ids...), Patch: patch})
			if err == nil {
				continue // the position is caught by sync below through later results
			}
		case op < 8:
			_, _ = f.app.ArchiveCustomer.Handle(ctx, commands.ArchiveCustomer{Meta: coordinator, CustomerID: pick(ids...), Reason: "r"})
		case op < 9:
			_, _ = f.app.ReenableCustomer.Handle(ctx, commands.ReenableCustomer{Meta: coordinator, CustomerID: pick(ids...)})
		default:
			id := pick(ids...)
			_, _ = f.app.ArchiveCustomer.Handle(ctx, commands.ArchiveCustomer{Meta: coordinator, CustomerID: id, Reason: "r"})
			_, _ = f.app.EraseCustomer.Handle(ctx, commands.EraseCustomer{Meta: admin, CustomerID: id, Reason: customer.SubjectRequest})
		}
	}
	last, err := f.store.LastPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.last = last
	f.sync(t)

	states := currentStates(t, f)
	queries := []string{"(212) 555-0134", "555 0134", "+44 20 7946", "main", "mains", "ann ", "plumb", "smith", "zzzz", "muller", "MÜLL", "o'ne",
		"n mu", "a sm", "e@ac", "@mail", ".tes", "1 main", "st 1", "mainway 5", "acme plumb", "1 main st", "smith.1"}
	for _, s := range states {
		for _, v := range oracleValues(s.Details) {
			if len(v.text) >= 6 && len(queries) < 200 && rng.IntN(3) == 0 {
				at := rng.IntN(len(v.text) - 3)
				queries = append(queries, v.text[at:min(len(v.text), at+4+rng.IntN(5))])
			}
		}
	}
	// Chunks of 2 make this small index walk postings chunk after chunk, with
	// filters cut short, as a large one does; the default reads each at once.
	for _, chunk := range []int{2, 0} {
		compare(t, rdb, states, queries, chunk)
	}
}

// compare checks every query, page after page, against the brute force,
// reading first chunks of chunk candidates (0: the default).
func compare(t *testing.T, rdb *redis.Client, states map[string]customer.Snapshot, queries []string, chunk int) {
	t.Helper()
	for _, q := range queries {
		if _, ok := search.ParseQuery(q); !ok {
			continue
		}
		for _, archived := range []bool{false, true} {
			want := oracle(states, q, archived)
			got := allInChunks(t, rdb, q, archived, 3, chunk)
			if len(got) != len(want) {
				t.Fatalf("query %q (archived %v): %d entries, brute force finds %d\n got %v\nwant %v", q, archived, len(got), len(want), brief(got), want)
			}
			for i := range got {
				g := fmt.Sprintf("%s/%d/%s/%s", got[i].CustomerID, got[i].AddressIndex, got[i].Field, got[i].Class)
				if g != want[i] {
					t.Fatalf("query %q (archived %v), entry %d: %s, brute force says %s\n got %v\nwant %v", q, archived, i, g, want[i], brief(got), want)
				}
			}
		}
	}
}

func brief(es []search.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = fmt.Sprintf("%s/%d/%s/%s", e.CustomerID, e.AddressIndex, e.Field, e.Class)
	}
	return out
}

func TestErasedCustomersLeaveTheIndex(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		res := f.did(t)(f.app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: coordinator, Details: customer.Details{
			Kind: customer.Person, FirstName: "Wilhelmina", LastName: "Zwartkop", Email: "wz@example.org",
			Phones:    []customer.Phone{{Number: "+1 212 555 0199", Type: customer.Mobile}},
			Addresses: []customer.Address{{Type: customer.Service, Street: "77 Quillfeather Lane"}}}}))
		f.did(t)(f.app.ArchiveCustomer.Handle(ctx, commands.ArchiveCustomer{Meta: coordinator, CustomerID: res.CustomerID, Reason: "moved"}))
		f.sync(t)
		if n := len(all(t, rdb, "zwart", true, 20)); n != 1 {
			t.Fatalf("before erasure %d entries, want 1", n)
		}
		f.did(t)(f.app.EraseCustomer.Handle(ctx, commands.EraseCustomer{Meta: admin, CustomerID: res.CustomerID, Reason: customer.SubjectRequest}))
		f.sync(t)
		ks, err := rdb.Keys(ctx, "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			switch rdb.Type(ctx, k).Val() {
			case "hash":
				for field, v := range rdb.HGetAll(ctx, k).Val() {
					if field == res.CustomerID || strings.Contains(v, res.CustomerID) {
						t.Fatalf("hash %s still names the erased customer", k)
					}
				}
			case "string":
				v := rdb.Get(ctx, k).Val()
				if strings.Contains(v, res.CustomerID) || strings.Contains(strings.ToLower(v), "zwartkop") {
					t.Fatalf("key %s still holds the erased customer", k)
				}
				if posting := strings.Contains(k, ":g:") || strings.Contains(k, ":s:") || strings.Contains(k, ":x:"); posting {
					for _, ref := range search.PostingCustomers(v) {
						if int64(ref) == res.Number {
							t.Fatalf("posting %q still holds customer %d", k, res.Number)
						}
					}
				}
			}
		}
		// What may stay: the generation pointer, its checkpoint and layout, and
		// the runner's lease (which holds no data).
		if n := rdb.DBSize(ctx).Val() - rdb.Exists(ctx, projections.ModelPrefix(search.Name)+"lease").Val(); n > 3 {
			t.Fatalf("%d keys left after the only customer was erased: %v", n, ks)
		}
	})
}

// TestRetiredLayoutsAreDeleted: an upgraded Redis still holds the keys of the
// layouts search-v3 replaced; the runner deletes them, and nothing else.
func TestRetiredLayoutsAreDeleted(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		ctx := context.Background()
		old := []string{"rm:search-v2:gen", "rm:search-v2:17:checkpoint", "rm:search-v2:17:g:mull", "rm:search-v1:3:t:mull"}
		kept := []string{"rm:customers-v1:gen", "rm:search-v20:gen", "other"}
		for _, k := range append(old, kept...) {
			if err := rdb.Set(ctx, k, "x", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		f := newFixture(t, rdb)
		f.did(t)(f.app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: coordinator, Details: customer.Details{Kind: customer.Person, FirstName: "Ada", Email: "ada@example.org"}}))
		f.sync(t)
		if n, err := rdb.Exists(ctx, old...).Result(); err != nil || n != 0 {
			t.Fatalf("%d of the retired keys left (%v)", n, err)
		}
		if n, err := rdb.Exists(ctx, kept...).Result(); err != nil || n != int64(len(kept)) {
			t.Fatalf("%d of %d other keys kept (%v)", n, len(kept), err)
		}
	})
}

// TestSearchWalksRangesOnBothServers: with ranges of two customers, a search
// walks many ranges, in chunks of two and page after page, on redis-server and
// on the embedded mode's miniredis alike (the oracle test runs on redis-server
// only), and finds every match in customer order.
func TestSearchWalksRangesOnBothServers(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		f := newFixtureOf(t, rdb, search.Projector{RangeBits: 1})
		ctx := context.Background()
		var want []string
		for i := range 23 {
			d := customer.Details{Kind: customer.Person, FirstName: "Grace", LastName: fmt.Sprintf("Case%02d", i),
				Email: fmt.Sprintf("g%d@example.org", i)}
			if i%3 == 0 {
				d.LastName = fmt.Sprintf("Hopper%02d", i)
			}
			res := f.did(t)(f.app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: coordinator, Details: d}))
			if i%3 == 0 {
				want = append(want, res.CustomerID)
			}
		}
		f.sync(t)
		for _, chunk := range []int{2, 0} {
			got := allInChunks(t, rdb, "hoppe", false, 3, chunk)
			var ids []string
			for _, e := range got {
				ids = append(ids, e.CustomerID)
			}
			if !slices.Equal(ids, want) {
				t.Fatalf("chunks of %d: %q found %v, want %v", chunk, "hoppe", ids, want)
			}
		}
	})
}
