package commands_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/commands/commandstest"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/eventstore/embedded"
	"github.com/fieldservice/customer-service/keystore"
	keys "github.com/fieldservice/customer-service/keystore/embedded"
)

var (
	coordinator = commandstest.Coordinator
	technician  = commandstest.Technician
)

type fixture struct {
	app       *commands.App
	store     *embedded.Store
	keyStore  *keys.Store
	keys      *keystore.Keyring
	masterRaw []byte
	codec     *codec.Codec
}

func newFixture(t testing.TB) fixture {
	t.Helper()
	w := commandstest.New(t)
	return fixture{app: w.App, store: w.Store, keyStore: w.KeyStore, keys: w.Keys, masterRaw: w.MasterRaw, codec: w.Codec}
}

func details(email string) customer.Details {
	return customer.Details{
		Kind: customer.Person, FirstName: "Grace", LastName: "Hopper", Email: email,
		Phones:    []customer.Phone{{Number: "(212) 555-0134", Type: customer.Mobile}},
		Addresses: []customer.Address{{Type: customer.Service, Street: "1 Navy Way", City: "Arlington"}},
	}
}

func (f fixture) register(t testing.TB, email string) commands.Result {
	t.Helper()
	res, err := f.app.RegisterCustomer.Handle(context.Background(), commands.RegisterCustomer{Meta: coordinator, Details: details(email)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// events reads a customer's stored events and their metadata.
func (f fixture) events(t *testing.T, id string) ([]codec.Event, []codec.Metadata) {
	t.Helper()
	var evs []codec.Event
	var metas []codec.Metadata
	for rec, err := range f.store.ReadStream(t.Context(), customer.Stream.Name(id), eventstore.ReadOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		e, m, err := f.codec.Decode(t.Context(), rec)
		if err != nil {
			t.Fatal(err)
		}
		evs, metas = append(evs, e), append(metas, m)
	}
	return evs, metas
}

func (f fixture) last(t *testing.T) eventstore.Position {
	t.Helper()
	p, err := f.store.LastPosition(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRegisterStoresNormalizedCustomerWithMetadata(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res := f.register(t, "Grace@Example.com")
	if res.Number != 1 || res.Version != 1 || res.Position.IsZero() {
		t.Fatalf("result %+v: want number 1, version 1 and a position", res)
	}
	evs, metas := f.events(t, res.CustomerID)
	reg, ok := evs[0].(customer.Registered)
	if len(evs) != 1 || !ok {
		t.Fatalf("stored %#v, want one CustomerRegistered", evs)
	}
	if got := reg.Details.Phones[0].Number; got != "+12125550134" {
		t.Errorf("phone stored as %q, want E.164 +12125550134", got)
	}
	m := metas[0]
	if m.Actor != coordinator.Actor || m.CorrelationID != "corr-1" || m.OccurredAt.IsZero() || m.SchemaVersion != 1 {
		t.Errorf("metadata %+v lacks the actor, correlation id, time or schema version", m)
	}
}

func TestCustomerNumbersAreUniqueAndIncreasing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := f.register(t, fmt.Sprintf("n%d@example.com", i))
			mu.Lock()
			defer mu.Unlock()
			if seen[res.Number] {
				t.Errorf("number %d given twice", res.Number)
			}
			seen[res.Number] = true
		}()
	}
	wg.Wait()
	for n := int64(1); n <= 30; n++ {
		if !seen[n] {
			t.Errorf("number %d was skipped", n)
		}
	}
	if next := f.register(t, "after@example.com"); next.Number != 31 {
		t.Errorf("next number %d, want 31", next.Number)
	}
}

func TestPrimaryEmailIsUniqueUnderRaces(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const n = 100
	type outcome struct {
		res commands.Result
		err error
	}
	out := make(chan outcome, n)
	start := make(chan struct{})
	for i := range n {
		go func() {
			<-start
			email := "race@example.com"
			if i%2 == 1 {
				email = "RACE@Example.com" // compared case-insensitively
			}
			res, err := f.app.RegisterCustomer.Handle(context.Background(), commands.RegisterCustomer{Meta: coordinator, Details: details(email)})
			out <- outcome{res, err}
		}()
	}
	close(start)
	var winners []commands.Result
	var losers []error
	for range n {
		o := <-out
		if o.err == nil {
			winners = append(winners, o.res)
		} else {
			losers = append(losers, o.err)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d registrations succeeded, want exactly one", len(winners))
	}
	for _, err := range losers {
		var taken *commands.EmailTakenError
		if !errors.As(err, &taken) || taken.OwnerID != winners[0].CustomerID {
			t.Fatalf("loser got %v, want EmailTakenError naming %s", err, winners[0].CustomerID)
		}
		if strings.Contains(err.Error(), "race@") {
			t.Fatalf("error %q repeats the email", err)
		}
	}
}

func TestChangingEmailReleasesTheOldOne(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.register(t, "old@example.com")
	_, err := f.app.UpdateCustomer.Handle(t.Context(), commands.UpdateCustomer{Meta: coordinator, CustomerID: a.CustomerID, SeenVersion: 1, Patch: customer.Patch{Email: ptr("new@example.com")}})
	if err != nil {
		t.Fatal(err)
	}
	f.register(t, "old@example.com") // free again
	_, err = f.app.RegisterCustomer.Handle(t.Context(), commands.RegisterCustomer{Meta: coordinator, Details: details("New@example.com")})
	var taken *commands.EmailTakenError
	if !errors.As(err, &taken) || taken.OwnerID != a.CustomerID {
		t.Fatalf("registering the new email of another customer: %v, want taken by %s", err, a.CustomerID)
	}
}

func TestBadInputReportsEveryProblemAndAppendsNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	before := f.last(t)
	d := details("not an email")
	d.FirstName, d.LastName = "", ""
	d.Phones = append(d.Phones, customer.Phone{Number: "call me maybe", Type: customer.Home})
	_, err := f.app.RegisterCustomer.Handle(t.Context(), commands.RegisterCustomer{Meta: coordinator, Details: d})
	var ve *customer.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a validation error", err)
	}
	paths := map[string]bool{}
	for _, p := range ve.Problems {
		paths[p.Path] = true
	}
	for _, want := range []string{"first_name", "email", "phones[1].number", "display_name"} {
		if !paths[want] {
			t.Errorf("problems %v miss %s", ve.Problems, want)
		}
	}
	if after := f.last(t); after != before {
		t.Fatalf("refused registration appended events: log moved from %v to %v", before, after)
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	meta := coordinator
	meta.IdempotencyKey = "key-1"
	cmd := commands.RegisterCustomer{Meta: meta, Details: details("idem@example.com")}

	// 20 concurrent requests with one key: one customer, one answer.
	const n = 20
	results := make(chan commands.Result, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := f.app.RegisterCustomer.Handle(context.Background(), cmd)
			if err != nil {
				t.Error(err)
			}
			results <- res
		}()
	}
	wg.Wait()
	close(results)
	first := <-results
	for r := range results {
		if r != first {
			t.Fatalf("same key answered %+v and %+v", first, r)
		}
	}
	before := f.last(t)
	cmd.Meta.CorrelationID = "a-retry" // metadata may differ on a retry
	again, err := f.app.RegisterCustomer.Handle(t.Context(), cmd)
	if err != nil || again != first {
		t.Fatalf("retry answered %+v, %v; want the first answer %+v", again, err, first)
	}
	if f.last(t) != before {
		t.Fatal("a retry appended events")
	}
	cmd.Details.FirstName = "Other"
	if _, err := f.app.RegisterCustomer.Handle(t.Context(), cmd); !errors.Is(err, commands.ErrIdempotencyKeyReused) {
		t.Fatalf("same key, different request: %v, want ErrIdempotencyKeyReused", err)
	}
}

func TestConcurrentEditsOfOneVersionLoseNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.register(t, "edit@example.com")
	const n = 10
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		go func() {
			<-start
			_, err := f.app.UpdateCustomer.Handle(context.Background(), commands.UpdateCustomer{
				Meta: coordinator, CustomerID: c.CustomerID, SeenVersion: 1, Patch: customer.Patch{Industry: ptr(fmt.Sprint("industry ", i))}})
			errs <- err
		}()
	}
	close(start)
	wins := 0
	for range n {
		err := <-errs
		switch {
		case err == nil:
			wins++
		case errors.Is(err, commands.ErrStaleVersion), errors.Is(err, commands.ErrConflict):
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d edits of version 1 succeeded, want exactly one", wins)
	}
	if evs, _ := f.events(t, c.CustomerID); len(evs) != 2 {
		t.Fatalf("customer has %d events, want 2", len(evs))
	}
	_, err := f.app.UpdateCustomer.Handle(t.Context(), commands.UpdateCustomer{Meta: coordinator, CustomerID: c.CustomerID, SeenVersion: 1, Patch: customer.Patch{Area: ptr("x")}})
	var stale *commands.StaleVersionError
	if !errors.As(err, &stale) || stale.Actual != 2 || stale.Expected != 1 {
		t.Fatalf("edit of an old version: %v, want StaleVersionError 1 vs 2", err)
	}
}

func TestNoOpEditAppendsNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.register(t, "noop@example.com")
	before := f.last(t)
	res, err := f.app.UpdateCustomer.Handle(t.Context(), commands.UpdateCustomer{Meta: coordinator, CustomerID: c.CustomerID,
		Patch: customer.Patch{FirstName: ptr(" Grace "), Phones: &[]customer.Phone{{Number: "+1 212 555 0134", Type: customer.Mobile}}}})
	if err != nil || res.Version != 1 {
		t.Fatalf("no-op edit: %+v, %v", res, err)
	}
	if f.last(t) != before {
		t.Fatal("a no-op edit appended an event")
	}
}

func TestRolesArchiveAndNotes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.app.RegisterCustomer.Handle(t.Context(), commands.RegisterCustomer{Meta: technician, Details: details("t@example.com")}); !errors.Is(err, commands.ErrForbidden) {
		t.Fatalf("technician registering: %v, want ErrForbidden", err)
	}
	c := f.register(t, "arch@example.com")
	if _, err := f.app.ArchiveCustomer.Handle(t.Context(), commands.ArchiveCustomer{Meta: technician, CustomerID: c.CustomerID, Reason: "x"}); !errors.Is(err, commands.ErrForbidden) {
		t.Fatalf("technician archiving: %v, want ErrForbidden", err)
	}
	if _, err := f.app.AddNote.Handle(t.Context(), commands.AddNote{Meta: technician, CustomerID: c.CustomerID, Text: "side gate"}); err != nil {
		t.Fatalf("technician adding a note: %v", err)
	}
	if _, err := f.app.ArchiveCustomer.Handle(t.Context(), commands.ArchiveCustomer{Meta: coordinator, CustomerID: c.CustomerID, Reason: "closed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.ArchiveCustomer.Handle(t.Context(), commands.ArchiveCustomer{Meta: coordinator, CustomerID: c.CustomerID, Reason: "again"}); !errors.Is(err, customer.ErrAlreadyArchived) {
		t.Fatalf("archiving twice: %v", err)
	}
	res, err := f.app.ReenableCustomer.Handle(t.Context(), commands.ReenableCustomer{Meta: coordinator, CustomerID: c.CustomerID, SeenVersion: 3})
	if err != nil || res.Version != 4 {
		t.Fatalf("re-enable: %+v, %v", res, err)
	}
	if _, err := f.app.AddNote.Handle(t.Context(), commands.AddNote{Meta: coordinator, CustomerID: "no-such-id", Text: "x"}); !errors.Is(err, commands.ErrCustomerNotFound) {
		t.Fatalf("note on a missing customer: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
