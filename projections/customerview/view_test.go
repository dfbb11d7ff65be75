package customerview_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/commands/commandstest"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore/embedded"
	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/customerview"
	"github.com/fieldservice/customer-service/projections/projectionstest"
	"github.com/fieldservice/customer-service/projections/redistest"
)

var (
	coordinator = commandstest.Coordinator
	admin       = commandstest.Admin
)

type fixture struct {
	app    *commands.App
	store  *embedded.Store
	runner *projections.Runner
	rdb    *redis.Client
}

func newFixture(t *testing.T, rdb *redis.Client) fixture {
	t.Helper()
	w := commandstest.New(t)
	app, store := w.App, w.Store
	runner := projectionstest.Runner(t, w, rdb, customerview.Projector{}, 0)
	projectionstest.Start(t, runner)
	return fixture{app: app, store: store, runner: runner, rdb: rdb}
}

// sync waits until the view reflects res (read-your-writes).
func (f fixture) sync(t *testing.T, res commands.Result) {
	t.Helper()
	projectionstest.Sync(t, f.runner, res.Position)
}

func (f fixture) register(t *testing.T, d customer.Details) commands.Result {
	t.Helper()
	res, err := f.app.RegisterCustomer.Handle(context.Background(), commands.RegisterCustomer{Meta: coordinator, Details: d})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func person(first, last, zone string) customer.Details {
	return customer.Details{Kind: customer.Person, FirstName: first, LastName: last, ServiceZone: zone,
		Email:  strings.ToLower(first+"."+last) + "@example.org",
		Phones: []customer.Phone{{Number: "+12125550134", Type: customer.Mobile}}}
}

func get(t *testing.T, rdb *redis.Client, id string) customerview.View {
	t.Helper()
	v, ok, err := customerview.Get(context.Background(), rdb, id)
	if err != nil || !ok {
		t.Fatalf("get %s: found=%v, %v", id, ok, err)
	}
	return v
}

func names(p customerview.Page) []string {
	out := make([]string, len(p.Items))
	for i, v := range p.Items {
		out[i] = v.DisplayName
	}
	return out
}

func TestViewFollowsTheLog(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		zoe := f.register(t, person("Zoë", "Adams", "North"))
		bob := f.register(t, person("bob", "Brown", "South"))
		acme := f.register(t, customer.Details{Kind: customer.Company, BusinessName: "Acme Plumbing", ServiceZone: "North", Email: "ops@acme.example"})
		f.sync(t, acme)

		if v := get(t, rdb, zoe.CustomerID); v.DisplayName != "Zoë Adams" || v.Number != zoe.Number || v.Version != 1 || v.Details.Email != "zoë.adams@example.org" {
			t.Fatalf("view of a new customer: %+v", v)
		}
		page, err := customerview.List(ctx, rdb, customerview.ListQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(page); !slices.Equal(got, []string{"Acme Plumbing", "bob Brown", "Zoë Adams"}) {
			t.Fatalf("list order %q: want display-name order, case and accents folded", got)
		}

		renamed, err := f.app.UpdateCustomer.Handle(ctx, commands.UpdateCustomer{Meta: coordinator, CustomerID: bob.CustomerID,
			Patch: customer.Patch{FirstName: ptr("Aaron"), ServiceZone: ptr("North")}})
		if err != nil {
			t.Fatal(err)
		}
		archived, err := f.app.ArchiveCustomer.Handle(ctx, commands.ArchiveCustomer{Meta: coordinator, CustomerID: acme.CustomerID, Reason: "closed down"})
		if err != nil {
			t.Fatal(err)
		}
		f.sync(t, archived)
		f.sync(t, renamed)
		if v := get(t, rdb, bob.CustomerID); v.DisplayName != "Aaron Brown" || v.Version != 2 || v.ModifiedBy.ID != coordinator.Actor.ID {
			t.Fatalf("view after an edit: %+v", v)
		}
		active, north := false, "North"
		page, _ = customerview.List(ctx, rdb, customerview.ListQuery{Archived: &active, Zone: north})
		if got := names(page); !slices.Equal(got, []string{"Aaron Brown", "Zoë Adams"}) {
			t.Fatalf("active customers in the North: %q", got)
		}
		archivedOnly := true
		page, _ = customerview.List(ctx, rdb, customerview.ListQuery{Archived: &archivedOnly})
		if got := names(page); !slices.Equal(got, []string{"Acme Plumbing"}) {
			t.Fatalf("archived customers: %q", got)
		}
		page, _ = customerview.List(ctx, rdb, customerview.ListQuery{Zone: "South"})
		if len(page.Items) != 0 {
			t.Fatalf("nobody is in the South any more, yet the list gives %q", names(page))
		}
	})
}

func TestErasureLeavesNoPersonalDataInRedis(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		d := person("Wilhelmina", "Zwartkop", "East")
		d.Addresses = []customer.Address{{Type: customer.Service, Street: "77 Quillfeather Lane", City: "Springfield"}}
		res := f.register(t, d)
		if _, err := f.app.AddNote.Handle(ctx, commands.AddNote{Meta: coordinator, CustomerID: res.CustomerID, Text: "beware of the geese"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.app.ArchiveCustomer.Handle(ctx, commands.ArchiveCustomer{Meta: coordinator, CustomerID: res.CustomerID, Reason: "moved to Quillfeather"}); err != nil {
			t.Fatal(err)
		}
		erased, err := f.app.EraseCustomer.Handle(ctx, commands.EraseCustomer{Meta: admin, CustomerID: res.CustomerID, Reason: customer.SubjectRequest})
		if err != nil {
			t.Fatal(err)
		}
		f.sync(t, erased)
		v := get(t, rdb, res.CustomerID)
		if v.Erased == nil || v.Erased.Reason != "subject_request" || v.DisplayName != "" || v.Details.Email != "" || v.Notes[0].Text != "" {
			t.Fatalf("view after erasure: %+v", v)
		}
		if v.Number != res.Number || v.Details.ServiceZone != "East" || v.Details.Addresses[0].City != "Springfield" {
			t.Fatalf("plain fields must survive erasure: %+v", v)
		}
		for _, secret := range []string{"Wilhelmina", "Zwartkop", "wilhelmina", "zwartkop", "Quillfeather", "geese", "5550134"} {
			if where := findInRedis(t, rdb, secret); where != "" {
				t.Fatalf("%q survives the erasure in Redis key %s", secret, where)
			}
		}
	})
}

// findInRedis returns a key whose name or value holds s, or "".
func findInRedis(t *testing.T, rdb *redis.Client, s string) string {
	t.Helper()
	ctx := context.Background()
	ks, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if strings.Contains(k, s) {
			return k
		}
		var vals []string
		switch rdb.Type(ctx, k).Val() {
		case "string":
			vals = []string{rdb.Get(ctx, k).Val()}
		case "zset":
			vals = rdb.ZRange(ctx, k, 0, -1).Val()
		case "hash":
			for f, v := range rdb.HGetAll(ctx, k).Val() {
				vals = append(vals, f, v)
			}
		case "set":
			vals = rdb.SMembers(ctx, k).Val()
		}
		for _, v := range vals {
			if strings.Contains(v, s) {
				return k
			}
		}
	}
	return ""
}

func TestCursorsStayCorrectWhileCustomersChange(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb *redis.Client) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		ids := map[string]string{} // display name → id
		var last commands.Result
		for i := range 30 {
			name := fmt.Sprintf("M%02d", i)
			last = f.register(t, customer.Details{Kind: customer.Company, BusinessName: name, Email: name + "@example.org"})
			ids[name] = last.CustomerID
		}
		f.sync(t, last)
		page, err := customerview.List(ctx, rdb, customerview.ListQuery{Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		seen := names(page)
		// Meanwhile: customers before and after the cursor, a rename from page 1 to
		// the end, a rename from the end to page 1.
		for _, n := range []string{"A-new", "M10b", "Z-new"} {
			last = f.register(t, customer.Details{Kind: customer.Company, BusinessName: n, Email: n + "@example.org"})
		}
		for from, to := range map[string]string{"M02": "Zz-was-M02", "M29": "Aa-was-M29"} {
			if last, err = f.app.UpdateCustomer.Handle(ctx, commands.UpdateCustomer{Meta: coordinator, CustomerID: ids[from],
				Patch: customer.Patch{BusinessName: ptr(to)}}); err != nil {
				t.Fatal(err)
			}
		}
		f.sync(t, last)
		for page.Next != "" {
			if page, err = customerview.List(ctx, rdb, customerview.ListQuery{Limit: 7, After: page.Next}); err != nil {
				t.Fatal(err)
			}
			seen = append(seen, names(page)...)
		}
		count := map[string]int{}
		for _, n := range seen {
			count[n]++
		}
		for i := range 29 { // every customer that kept its name, once
			if n := fmt.Sprintf("M%02d", i); n != "M02" && count[n] != 1 {
				t.Fatalf("%s appeared %d times while paging: %q", n, count[n], seen)
			}
		}
		for _, n := range []string{"M10b", "Z-new", "Zz-was-M02"} { // added or moved after the cursor
			if count[n] != 1 {
				t.Fatalf("%s, which sorts after the cursor, appeared %d times: %q", n, count[n], seen)
			}
		}
		if count["A-new"] != 0 || count["Aa-was-M29"] != 0 {
			t.Fatalf("entries before the cursor appeared: %q", seen)
		}
		if _, err := customerview.List(ctx, rdb, customerview.ListQuery{After: "%%%"}); !errors.Is(err, customerview.ErrBadCursor) {
			t.Fatalf("a malformed cursor: %v", err)
		}
	})
}

func ptr[T any](v T) *T { return &v }
