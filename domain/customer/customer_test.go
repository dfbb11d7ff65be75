package customer_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/customer"
)

var (
	clerk = actor.Actor{ID: "u-1", Name: "Dana Clerk", Role: actor.Coordinator}
	t0    = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
)

func ptr[T any](v T) *T { return &v }

func person() customer.Details {
	return customer.Details{
		Kind: customer.Person, FirstName: " Ada ", LastName: "Lovelace", Email: "ada@example.com",
		Phones: []customer.Phone{{Number: "+15550100", Type: customer.Work}, {Number: "+15550101", Type: customer.Mobile}},
		Addresses: []customer.Address{
			{Type: customer.Service, Street: "1 Main St", City: "Springfield", Country: "us"},
			{Type: customer.Service, Street: "2 Side St", City: "Springfield"},
		},
	}
}

// given replays events into a registered customer.
func given(t *testing.T, events ...customer.Event) *customer.Customer {
	t.Helper()
	history := make([]customer.Recorded, len(events))
	for i, e := range events {
		history[i] = customer.Recorded{Event: e, At: t0.Add(time.Duration(i) * time.Minute), By: clerk}
	}
	c, err := customer.Replay("c-1", history)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func registered(t *testing.T) customer.Registered {
	t.Helper()
	reg, err := customer.New("c-1").Register(person(), customer.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	return reg.Numbered(7)[0].(customer.Registered)
}

func fieldPaths(err error) []string {
	var ve *customer.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	paths := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		paths[i] = p.Path
	}
	return paths
}

func TestRegisterNormalizes(t *testing.T) {
	t.Parallel()
	d := registered(t).Details
	if d.FirstName != "Ada" || d.DisplayName() != "Ada Lovelace" {
		t.Errorf("name not trimmed: %q, display %q", d.FirstName, d.DisplayName())
	}
	if !d.Phones[0].Primary || d.Phones[1].Primary {
		t.Errorf("first phone should become primary when none is: %+v", d.Phones)
	}
	if !d.Addresses[0].Default || d.Addresses[1].Default || d.Addresses[0].Country != "US" {
		t.Errorf("first service address should become the default, country upper-cased: %+v", d.Addresses)
	}
	if d.SMSNumber() != "+15550101" {
		t.Errorf("SMS goes to %q, want the mobile +15550101", d.SMSNumber())
	}
}

func TestCompanyNameTakesPrecedence(t *testing.T) {
	t.Parallel()
	d := person()
	d.Kind, d.BusinessName, d.UseCompanyName = customer.Company, "Analytical Engines Ltd", true
	reg, err := customer.New("c-2").Register(d, customer.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if got := reg.Numbered(8)[0].(customer.Registered).Details.DisplayName(); got != "Analytical Engines Ltd" {
		t.Fatalf("display name %q, want the business name", got)
	}
}

func TestRegisterReportsEveryProblem(t *testing.T) {
	t.Parallel()
	lat := 95.0
	cases := []struct {
		name   string
		edit   func(*customer.Details)
		policy customer.Policy
		want   []string
	}{
		{"no name, no contact", func(d *customer.Details) { *d = customer.Details{Kind: customer.Person} },
			customer.DefaultPolicy(), []string{"first_name", "display_name", "email"}},
		{"company without business name", func(d *customer.Details) { d.Kind = customer.Company },
			customer.DefaultPolicy(), []string{"business_name"}},
		{"bad contact data", func(d *customer.Details) {
			d.Email = "not-an-email"
			d.InvoiceCCEmails = []string{"x@example.com", "Bob <bob@example.com>"}
			d.Phones = []customer.Phone{{Number: "555-0100", Type: customer.Work}, {Number: "+15550101", Primary: true}, {Number: "+15550102", Type: customer.Home, Primary: true}}
		}, customer.DefaultPolicy(), []string{"email", "invoice_cc_emails[1]", "phones[0].number", "phones[1].type", "phones"}},
		{"bad address and tax", func(d *customer.Details) {
			d.Addresses = []customer.Address{{Type: customer.Billing, City: "X", Lat: &lat}, {Type: customer.Billing, City: "Y", Country: "XX", Default: true}, {Type: customer.Billing, Street: "Z", Default: true}}
			d.TaxExempt, d.TaxRate = true, 80_000
		}, customer.DefaultPolicy(), []string{"addresses[0]", "addresses[0].lat", "addresses[1].country", "addresses", "tax_exempt_reason", "tax_rate"}},
		{"policy requires industry and a billing address", func(d *customer.Details) {},
			customer.Policy{Required: []string{"industry", "billing_address"}}, []string{"industry", "billing_address"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := person()
			c.edit(&d)
			reg, err := customer.New("c-9").Register(d, c.policy)
			if !reflect.DeepEqual(reg, customer.Registration{}) || !errors.Is(err, customer.ErrInvalid) {
				t.Fatalf("got %v, %v; want no registration and a validation error", reg, err)
			}
			if got := fieldPaths(err); !reflect.DeepEqual(sortedCopy(got), sortedCopy(c.want)) {
				t.Fatalf("problems at %v, want %v (%v)", got, c.want, err)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	reg := registered(t)
	cases := []struct {
		name  string
		patch customer.Patch
		want  []customer.Event
		err   error
	}{
		{"no-op edit records nothing", customer.Patch{FirstName: ptr("Ada"), Email: ptr("ada@example.com"), Phones: ptr(reg.Details.Phones)}, nil, nil},
		{"whitespace-only change is a no-op", customer.Patch{LastName: ptr(" Lovelace  ")}, nil, nil},
		{"records only what changed", customer.Patch{FirstName: ptr("Augusta"), LastName: ptr("Lovelace"), Industry: ptr("HVAC")},
			[]customer.Event{customer.DetailsChanged{Changes: customer.Patch{FirstName: ptr("Augusta"), Industry: ptr("HVAC")}}}, nil},
		{"clearing a field is a change", customer.Patch{Email: ptr("")},
			[]customer.Event{customer.DetailsChanged{Changes: customer.Patch{Email: ptr("")}}}, nil},
		{"clearing both email and phones is refused", customer.Patch{Email: ptr(""), Phones: &[]customer.Phone{}}, nil, customer.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			events, err := given(t, reg).Update(c.patch, customer.DefaultPolicy())
			if !errors.Is(err, c.err) || (c.err == nil && err != nil) {
				t.Fatalf("error %v, want %v", err, c.err)
			}
			if !reflect.DeepEqual(events, c.want) {
				t.Fatalf("events %#v, want %#v", events, c.want)
			}
		})
	}
}

func TestArchiveAndReenable(t *testing.T) {
	t.Parallel()
	reg := registered(t)
	if _, err := given(t, reg).Reenable(); !errors.Is(err, customer.ErrNotArchived) {
		t.Fatalf("re-enabling an active customer: %v, want ErrNotArchived", err)
	}
	if _, err := given(t, reg).Archive("  "); !errors.Is(err, customer.ErrInvalid) {
		t.Fatalf("archiving without a reason: %v, want a validation error", err)
	}
	events, err := given(t, reg).Archive("moved away")
	if err != nil || !reflect.DeepEqual(events, []customer.Event{customer.Archived{Reason: "moved away"}}) {
		t.Fatalf("archive: %v, %v", events, err)
	}
	c := given(t, reg, events[0])
	if !c.Archived() || c.ArchiveReason() != "moved away" || c.Version() != 2 {
		t.Fatalf("after archive: archived=%v reason=%q version=%d", c.Archived(), c.ArchiveReason(), c.Version())
	}
	if _, err := c.Archive("again"); !errors.Is(err, customer.ErrAlreadyArchived) {
		t.Fatalf("archiving twice: %v, want ErrAlreadyArchived", err)
	}
	if events, err := c.Reenable(); err != nil || len(events) != 1 {
		t.Fatalf("re-enable: %v, %v", events, err)
	}
	if _, err := customer.New("x").Archive("r"); !errors.Is(err, customer.ErrNotRegistered) {
		t.Fatalf("archiving an unregistered customer: %v", err)
	}
}

func TestReplayTracksAuditFieldsAndNotes(t *testing.T) {
	t.Parallel()
	reg := registered(t)
	note, err := given(t, reg).AddNote("n-1", clerk, t0, "  gate code 1234, dog friendly  ")
	if err != nil {
		t.Fatal(err)
	}
	change := customer.DetailsChanged{Changes: customer.Patch{ServiceZone: ptr("North")}}
	c := given(t, reg, note[0], change)
	if c.Number() != 7 || c.Version() != 3 || c.Details().ServiceZone != "North" {
		t.Fatalf("replayed state: number %d version %d zone %q", c.Number(), c.Version(), c.Details().ServiceZone)
	}
	if !c.CreatedAt().Equal(t0) || !c.ModifiedAt().Equal(t0.Add(2*time.Minute)) || c.ModifiedBy() != clerk {
		t.Fatalf("audit fields: created %v modified %v by %v", c.CreatedAt(), c.ModifiedAt(), c.ModifiedBy())
	}
	if n := c.Notes(); len(n) != 1 || n[0].Text != "gate code 1234, dog friendly" || n[0].Author != clerk {
		t.Fatalf("notes: %+v", n)
	}
	if _, err := c.AddNote("n-2", clerk, t0, ""); !errors.Is(err, customer.ErrInvalid) {
		t.Fatalf("empty note: %v", err)
	}
	if _, err := c.Register(person(), customer.DefaultPolicy()); !errors.Is(err, customer.ErrAlreadyRegistered) {
		t.Fatalf("registering twice: %v", err)
	}
}

func TestTaxRate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]customer.TaxRate{"8.875": 88_750, "20%": 200_000, "0": 0, "100": 1_000_000} {
		got, err := customer.ParseTaxRate(in)
		if err != nil || got != want {
			t.Errorf("ParseTaxRate(%q) = %d, %v; want %d", in, got, err, want)
		}
		if back, _ := customer.ParseTaxRate(got.String()); back != got {
			t.Errorf("%d formats as %q, which reads back as %d", got, got.String(), back)
		}
	}
	for _, bad := range []string{"", "abc", "8.12345", "-1", "101"} {
		if _, err := customer.ParseTaxRate(bad); err == nil {
			t.Errorf("ParseTaxRate(%q) accepted", bad)
		}
	}
}

func TestPolicyRejectsUnknownFields(t *testing.T) {
	t.Parallel()
	if err := (customer.Policy{Required: []string{"industry", "shoe_size"}}).Validate(); err == nil {
		t.Fatal("a policy requiring an unknown field was accepted")
	}
}

func sortedCopy(s []string) []string { return slices.Sorted(slices.Values(s)) }

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	note := customer.NoteAdded{NoteID: "n", Text: "t", AuthorID: clerk.ID, AuthorName: clerk.Name, At: t0}
	c := given(t, registered(t), note, customer.Archived{Reason: "moved"})
	back := customer.FromSnapshot(c.Snapshot())
	if !reflect.DeepEqual(back.Snapshot(), c.Snapshot()) {
		t.Fatalf("snapshot round trip:\n%+v\n%+v", back.Snapshot(), c.Snapshot())
	}
	// Applying to a restored snapshot is applying to the customer.
	next := customer.Recorded{Event: customer.Reenabled{}, At: t0.Add(time.Hour), By: clerk}
	if err := back.Apply(next); err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(next); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Snapshot(), c.Snapshot()) {
		t.Fatal("a restored customer applies events differently")
	}
}
