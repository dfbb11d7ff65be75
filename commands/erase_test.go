package commands_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/commands/commandstest"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
)

var admin = commandstest.Admin

// person is a customer whose every personal value is distinctive enough that
// finding it in a raw file cannot be chance.
type person struct {
	first, last, email, phone, street, note, reason string
}

func newPerson(i int) person {
	return person{
		first: fmt.Sprintf("Aurelia%05d", i), last: fmt.Sprintf("Quintero%05d", i), email: fmt.Sprintf("aq%05d@example.org", i),
		phone: fmt.Sprintf("+1212555%04d", i%10000), street: fmt.Sprintf("%d Zanzibar Crescent", 1000+i),
		note: fmt.Sprintf("gate code is %05d", i), reason: fmt.Sprintf("moved to Lisbon %05d", i),
	}
}

func (p person) values() []string {
	return []string{p.first, p.last, p.email, p.phone, p.street, p.note, p.reason}
}

func (p person) details() customer.Details {
	return customer.Details{Kind: customer.Person, FirstName: p.first, LastName: p.last, Email: p.email,
		Phones:    []customer.Phone{{Number: p.phone, Type: customer.Mobile}},
		Addresses: []customer.Address{{Type: customer.Service, Street: p.street, City: "Springfield"}}}
}

// live registers p, adds a note and archives it: every kind of personal field is
// then stored.
func (f fixture) live(t *testing.T, p person) commands.Result {
	t.Helper()
	ctx := context.Background()
	res, err := f.app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: coordinator, Details: p.details()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.AddNote.Handle(ctx, commands.AddNote{Meta: technician, CustomerID: res.CustomerID, Text: p.note}); err != nil {
		t.Fatal(err)
	}
	if res, err = f.app.ArchiveCustomer.Handle(ctx, commands.ArchiveCustomer{Meta: coordinator, CustomerID: res.CustomerID, Reason: p.reason}); err != nil {
		t.Fatal(err)
	}
	return res
}

func rawFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unwrap opens a wrapped data key the way README documents the format, so the
// test can look for the raw key too: format(1) | master id(8) | nonce(12) |
// AES-256-GCM(key) with additional data "customerd data key v1" | id | master id.
func unwrap(t *testing.T, master, wrapped []byte, id uuid.UUID) []byte {
	t.Helper()
	block, _ := aes.NewCipher(master)
	gcm, _ := cipher.NewGCM(block)
	aad := append(append([]byte("customerd data key v1"), id[:]...), wrapped[1:9]...)
	raw, err := gcm.Open(nil, wrapped[9:21], wrapped[21:], aad)
	if err != nil {
		t.Fatalf("unwrapping as documented: %v", err)
	}
	return raw
}

func TestRawEventFileHoldsNoPersonalValue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var people []person
	for i := range 60 {
		p := newPerson(i)
		people = append(people, p)
		res := f.live(t, p)
		if i%3 == 0 { // an edit too: DetailsChanged carries personal values of its own
			moved := fmt.Sprintf("%d Kestrel Parade", 5000+i)
			people = append(people, person{street: moved})
			if _, err := f.app.ReenableCustomer.Handle(t.Context(), commands.ReenableCustomer{Meta: coordinator, CustomerID: res.CustomerID}); err != nil {
				t.Fatal(err)
			}
			addr := []customer.Address{{Type: customer.Service, Street: moved, City: "Springfield"}}
			if _, err := f.app.UpdateCustomer.Handle(t.Context(), commands.UpdateCustomer{Meta: coordinator, CustomerID: res.CustomerID,
				Patch: customer.Patch{Addresses: &addr}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	raw := rawFile(t, f.store.Path())
	if !bytes.Contains(raw, []byte("Springfield")) {
		t.Fatal("plain values are not in the file either: the scan below would prove nothing")
	}
	for _, p := range people {
		for _, v := range p.values() {
			if v != "" && bytes.Contains(raw, []byte(v)) {
				t.Fatalf("the raw event file holds the personal value %q", v)
			}
		}
	}
}

func TestEraseCustomer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	p, bystander := newPerson(1), newPerson(2)
	res := f.live(t, p)
	f.live(t, bystander)
	id := uuid.MustParse(res.CustomerID)
	wrapped, err := f.keyStore.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	dataKey := unwrap(t, f.masterRaw, wrapped, id)

	erase := commands.EraseCustomer{Meta: admin, CustomerID: res.CustomerID, Reason: customer.SubjectRequest, Reference: "DSR-2026-17"}
	coord := erase
	coord.Meta = coordinator
	if _, err := f.app.EraseCustomer.Handle(ctx, coord); !errors.Is(err, commands.ErrForbidden) {
		t.Fatalf("a coordinator erasing: %v, want ErrForbidden", err)
	}
	noReason := erase
	noReason.Reason = customer.ErasureReason{}
	if _, err := f.app.EraseCustomer.Handle(ctx, noReason); !errors.Is(err, customer.ErrInvalid) {
		t.Fatalf("erasing without a reason: %v", err)
	}
	erased, err := f.app.EraseCustomer.Handle(ctx, erase)
	if err != nil {
		t.Fatal(err)
	}
	if erased.Version != res.Version+1 || erased.Position.IsZero() {
		t.Fatalf("erase result %+v", erased)
	}

	// The history is intact; its personal fields read as erased.
	evs, metas := f.events(t, res.CustomerID)
	if len(evs) != 4 {
		t.Fatalf("%d events after erasure, want 4", len(evs))
	}
	reg := evs[0].(customer.Registered)
	if !metas[0].Erased || reg.Details.FirstName != "" || reg.Details.Email != "" || reg.Details.Phones[0].Number != "" {
		t.Fatalf("personal fields after erasure: erased=%v %+v", metas[0].Erased, reg.Details)
	}
	if reg.Number != res.Number || reg.Details.Kind != customer.Person || reg.Details.Addresses[0].City != "Springfield" {
		t.Fatalf("plain fields must survive erasure: %+v", reg)
	}
	if e, ok := evs[3].(customer.Erased); !ok || e.Reason != customer.SubjectRequest || e.Reference != "DSR-2026-17" || metas[3].Actor != admin.Actor {
		t.Fatalf("last event %#v by %v, want CustomerErased by the admin", evs[3], metas[3].Actor)
	}

	// The customer is frozen, erasing again is an error, and the email is free.
	if _, err := f.app.ReenableCustomer.Handle(ctx, commands.ReenableCustomer{Meta: coordinator, CustomerID: res.CustomerID}); !errors.Is(err, customer.ErrErased) {
		t.Fatalf("re-enabling an erased customer: %v", err)
	}
	if _, err := f.app.AddNote.Handle(ctx, commands.AddNote{Meta: technician, CustomerID: res.CustomerID, Text: "hello"}); !errors.Is(err, customer.ErrErased) {
		t.Fatalf("a note on an erased customer: %v", err)
	}
	if _, err := f.app.EraseCustomer.Handle(ctx, erase); !errors.Is(err, customer.ErrErased) {
		t.Fatalf("erasing twice: %v, want ErrErased", err)
	}
	if _, err := f.app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: coordinator, Details: p.details()}); err != nil {
		t.Fatalf("the erased customer's email must be free again: %v", err)
	}

	// The chain still verifies: it hashes sealed bytes.
	if r, err := codec.VerifyAll(ctx, f.store); err != nil || r.Break != nil {
		t.Fatalf("verify after erasure: %+v, %v", r.Break, err)
	}

	// Nothing of the key or of the person is left in either file. (The new
	// registration above sealed the same values under a new key: scan for the
	// erased customer's own traces only, which the bystander's presence proves
	// the scan would find.)
	keysRaw, eventsRaw := rawFile(t, f.keyStore.Path()), rawFile(t, f.store.Path())
	bw, _ := f.keyStore.Get(ctx, uuid.MustParse(f.idOf(t, bystander)))
	if !bytes.Contains(keysRaw, bw) {
		t.Fatal("the bystander's wrapped key is not in the key file: the scan would prove nothing")
	}
	for name, b := range map[string][]byte{"wrapped data key": wrapped, "data key": dataKey} {
		if bytes.Contains(keysRaw, b) || bytes.Contains(eventsRaw, b) {
			t.Fatalf("the erased customer's %s survives in a raw file", name)
		}
	}
	for _, v := range p.values() {
		if bytes.Contains(eventsRaw, []byte(v)) || bytes.Contains(keysRaw, []byte(v)) {
			t.Fatalf("the raw files hold the erased customer's %q", v)
		}
	}
}

// idOf finds the id of the customer registered with p's email, through its
// reservation: the test keeps no other index.
func (f fixture) idOf(t *testing.T, p person) string {
	t.Helper()
	_, err := f.app.RegisterCustomer.Handle(t.Context(), commands.RegisterCustomer{Meta: coordinator, Details: p.details()})
	var taken *commands.EmailTakenError
	if !errors.As(err, &taken) {
		t.Fatalf("registering %s again: %v", p.email, err)
	}
	return taken.OwnerID
}

func TestEraseOnlyArchivedCustomers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res, err := f.app.RegisterCustomer.Handle(t.Context(), commands.RegisterCustomer{Meta: coordinator, Details: newPerson(3).details()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.app.EraseCustomer.Handle(t.Context(), commands.EraseCustomer{Meta: admin, CustomerID: res.CustomerID, Reason: customer.SubjectRequest})
	if !errors.Is(err, customer.ErrNotArchived) {
		t.Fatalf("erasing an active customer: %v, want ErrNotArchived", err)
	}
	if _, err := f.keys.DataKey(t.Context(), uuid.MustParse(res.CustomerID)); err != nil {
		t.Fatalf("a refused erasure destroyed the key: %v", err)
	}
	_, err = f.app.EraseCustomer.Handle(t.Context(), commands.EraseCustomer{Meta: admin, CustomerID: uuid.NewString(), Reason: customer.SubjectRequest})
	if !errors.Is(err, commands.ErrCustomerNotFound) {
		t.Fatalf("erasing a customer that does not exist: %v", err)
	}
}

// TestEraseFinishesAnErasureCutShort: the service crashed after appending
// CustomerErased and before destroying the key. Erasing again finishes the job.
func TestEraseFinishesAnErasureCutShort(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	p := newPerson(4)
	res := f.live(t, p)
	id := uuid.MustParse(res.CustomerID)
	stream := customer.Stream.Name(res.CustomerID)
	var head codec.Head
	for rec, err := range f.store.ReadStream(ctx, stream, eventstore.ReadOptions{Direction: eventstore.Backwards, Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		_, m, err := f.codec.Decode(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		head = codec.Head{Version: rec.Version, Hash: m.Hash}
	}
	data, _, err := f.codec.Encode(ctx, codec.Batch{Stream: stream, Head: head, Subject: id}, codec.Metadata{Actor: admin.Actor},
		customer.Erased{Reason: customer.LegalOrder})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Append(ctx, stream, eventstore.Exact(head.Version), data...); err != nil {
		t.Fatal(err)
	}

	if _, err := f.app.EraseCustomer.Handle(ctx, commands.EraseCustomer{Meta: admin, CustomerID: res.CustomerID, Reason: customer.LegalOrder}); err != nil {
		t.Fatalf("finishing a cut-short erasure: %v", err)
	}
	if _, err := f.keys.DataKey(ctx, id); err == nil {
		t.Fatal("the data key survived")
	}
	if _, err := f.app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: coordinator, Details: p.details()}); err != nil {
		t.Fatalf("the email was not released: %v", err)
	}
	if evs, _ := f.events(t, res.CustomerID); len(evs) != 4 {
		t.Fatalf("finishing appended another event: %d events", len(evs))
	}
}
