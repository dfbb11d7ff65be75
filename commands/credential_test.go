package commands_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/commands/commandstest"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/credential"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/keystore"
)

var auditor = commands.Meta{Actor: actor.Actor{ID: "u-3", Name: "Abe", Role: actor.Auditor}}

// routerLogin has values distinctive enough that finding one in a raw file
// cannot be chance.
var routerLogin = credential.Input{Name: "Office router", Username: "netadmin-zq81", URL: "http://192.168.1.1",
	Password: "Pw-Xylophone-4471!", Notes: "WPS pin 77310452, reset button behind the plant", Public: false}

func (f fixture) credential(t *testing.T, customerID string, in credential.Input) commands.CredentialResult {
	t.Helper()
	res, err := f.app.Credentials.Create(t.Context(), commands.CreateCredential{Meta: technician, CustomerID: customerID, Credential: in})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestCredentialLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	cust := f.register(t, "router-owner@example.org")
	created := f.credential(t, cust.CustomerID, routerLogin)
	if created.Version != 1 || created.CustomerID != cust.CustomerID {
		t.Fatalf("created %+v", created)
	}

	view, err := f.app.Credentials.Credential(ctx, commands.CredentialQuery{CredentialID: created.CredentialID})
	if err != nil || view.Name() != "Office router" || view.Username() != routerLogin.Username || !view.HasNotes() {
		t.Fatalf("view %+v %v", view, err)
	}
	if pw, _ := view.Secrets(); bytes.Contains(pw, []byte(routerLogin.Password)) || len(pw) == 0 {
		t.Fatal("the stored password is not sealed")
	}

	// Nobody may reveal without the permission: the auditor sees, never reveals.
	if _, err := f.app.Credentials.Reveal(ctx, commands.RevealCredential{Meta: auditor, CredentialID: created.CredentialID}); !errors.Is(err, commands.ErrForbidden) {
		t.Fatalf("auditor reveal: %v", err)
	}
	newPassword := "Pw-Quokka-9902?"
	if _, err := f.app.Credentials.Change(ctx, commands.ChangeCredential{Meta: technician, CredentialID: created.CredentialID,
		SeenVersion: 1, Patch: credential.Patch{Password: &newPassword}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Credentials.Change(ctx, commands.ChangeCredential{Meta: technician, CredentialID: created.CredentialID,
		SeenVersion: 1, Patch: credential.Patch{Password: &newPassword}}); !errors.Is(err, commands.ErrStaleVersion) {
		t.Fatalf("a stale edit: %v", err)
	}

	got, err := f.app.Credentials.Reveal(ctx, commands.RevealCredential{Meta: technician, CredentialID: created.CredentialID,
		ClientAddress: "203.0.113.7", UserAgent: "test", Reason: "ticket 4411"})
	if err != nil || got.Password != newPassword || got.Notes != routerLogin.Notes || got.Version != 3 {
		t.Fatalf("reveal: %+v %v", got, err)
	}
	// The reveal is in the credential's stream, in its hash chain, before the answer.
	events, metas := f.credentialEvents(t, created.CredentialID)
	last, ok := events[len(events)-1].(credential.Revealed)
	if !ok || last.ClientAddress != "203.0.113.7" || last.Reason != "ticket 4411" || metas[len(metas)-1].Actor.ID != technician.Actor.ID {
		t.Fatalf("last event %#v by %+v", events[len(events)-1], metas[len(metas)-1].Actor)
	}
	if r, err := codec.Verify(ctx, f.store, credential.Stream.Name(created.CredentialID)); err != nil || r.Break != nil {
		t.Fatalf("chain: %v %v", err, r.Break)
	}

	// Another customer's credential is not found through that customer.
	other := f.register(t, "someone-else@example.org")
	if _, err := f.app.Credentials.Reveal(ctx, commands.RevealCredential{Meta: technician, CustomerID: other.CustomerID,
		CredentialID: created.CredentialID}); !errors.Is(err, credential.ErrNotFound) {
		t.Fatalf("reveal through another customer: %v", err)
	}
	if n := len(f.mustEvents(t, created.CredentialID)); n != 3 {
		t.Fatalf("a refused reveal was recorded: %d events", n)
	}

	// Removing: only with credentials.delete; then never revealed again.
	if _, err := f.app.Credentials.Remove(ctx, commands.RemoveCredential{Meta: technician, CredentialID: created.CredentialID}); !errors.Is(err, commands.ErrForbidden) {
		t.Fatalf("technician remove: %v", err)
	}
	if _, err := f.app.Credentials.Remove(ctx, commands.RemoveCredential{Meta: admin, CredentialID: created.CredentialID, Reason: "router replaced"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.Credentials.Reveal(ctx, commands.RevealCredential{Meta: technician, CredentialID: created.CredentialID}); !errors.Is(err, credential.ErrRemoved) {
		t.Fatalf("reveal after removal: %v", err)
	}
	if _, err := f.keys.DataKey(ctx, uuid.MustParse(created.CredentialID)); !errors.Is(err, keystore.ErrDestroyed) {
		t.Fatalf("the removed credential's key: %v", err)
	}
	list, err := f.app.Credentials.CustomerCredentials(ctx, cust.CustomerID, false)
	if err != nil || len(list) != 0 {
		t.Fatalf("list after removal: %d %v", len(list), err)
	}
	if list, _ = f.app.Credentials.CustomerCredentials(ctx, cust.CustomerID, true); len(list) != 1 || list[0].Username() != "" || !list[0].Erased {
		t.Fatalf("a removed credential's username must be gone with its key: %+v", list)
	}

	// Neither file holds a secret, the username, or the credential's raw key.
	for _, file := range []string{f.store.Path(), f.keyStore.Path()} {
		raw := rawFile(t, file)
		for _, v := range []string{routerLogin.Password, newPassword, routerLogin.Notes, routerLogin.Username} {
			if bytes.Contains(raw, []byte(v)) {
				t.Errorf("%s holds %q in clear", file, v)
			}
		}
	}
}

func (f fixture) credentialEvents(t *testing.T, id string) ([]codec.Event, []codec.Metadata) {
	t.Helper()
	var events []codec.Event
	var metas []codec.Metadata
	for rec, err := range f.store.ReadStream(t.Context(), credential.Stream.Name(id), eventstore.ReadOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		e, m, err := f.codec.Decode(t.Context(), rec)
		if err != nil {
			t.Fatal(err)
		}
		events, metas = append(events, e), append(metas, m)
	}
	return events, metas
}

func (f fixture) mustEvents(t *testing.T, id string) []codec.Event {
	e, _ := f.credentialEvents(t, id)
	return e
}

// A ciphertext altered in the store, or copied from another credential, does
// not open: the reveal fails with ErrSecretDoesNotOpen, never shows garbage.
func TestCredentialSecretAlteredOrCopied(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	cust := f.register(t, "tamper@example.org")
	a := f.credential(t, cust.CustomerID, routerLogin)
	b := f.credential(t, cust.CustomerID, credential.Input{Name: "Alarm panel", Password: "Panel-Secret-3310"})
	sealedOf := func(id string) credential.Sealed {
		return f.mustEvents(t, id)[0].(credential.Created).Password
	}

	// Written behind the commands' back, as someone with write access to the
	// store could: the chain continues properly, only the secret is wrong.
	forge := func(id string, pw credential.Sealed) {
		t.Helper()
		_, metas := f.credentialEvents(t, id)
		head := codec.Head{Version: uint64(len(metas)), Hash: metas[len(metas)-1].Hash}
		data, _, err := f.codec.Encode(ctx, codec.Batch{Stream: credential.Stream.Name(id), Head: head, Subject: uuid.MustParse(id)},
			codec.Metadata{Actor: admin.Actor}, credential.Changed{Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.Append(ctx, credential.Stream.Name(id), eventstore.Exact(head.Version), data...); err != nil {
			t.Fatal(err)
		}
	}
	altered := bytes.Clone(sealedOf(a.CredentialID))
	altered[len(altered)-1] ^= 1
	forge(a.CredentialID, altered)
	forge(b.CredentialID, sealedOf(a.CredentialID))

	for _, id := range []string{a.CredentialID, b.CredentialID} {
		got, err := f.app.Credentials.Reveal(ctx, commands.RevealCredential{Meta: technician, CredentialID: id})
		if !errors.Is(err, commands.ErrSecretDoesNotOpen) || got.Password != "" {
			t.Errorf("reveal of %s: %q, %v", id, got.Password, err)
		}
	}
}

// Erasing a customer destroys its credentials' keys: nothing of them can be
// revealed again, and the usernames read empty.
func TestEraseReachesCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	cust := f.register(t, "erased-with-logins@example.org")
	creds := []commands.CredentialResult{f.credential(t, cust.CustomerID, routerLogin),
		f.credential(t, cust.CustomerID, credential.Input{Name: "Wi-Fi", Password: "Wifi-Secret-5521"})}
	if _, err := f.app.ArchiveCustomer.Handle(ctx, commands.ArchiveCustomer{Meta: coordinator, CustomerID: cust.CustomerID, Reason: "closed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.EraseCustomer.Handle(ctx, commands.EraseCustomer{Meta: admin, CustomerID: cust.CustomerID,
		Reason: customer.SubjectRequest}); err != nil {
		t.Fatal(err)
	}
	for _, c := range creds {
		if _, err := f.keys.DataKey(ctx, uuid.MustParse(c.CredentialID)); !errors.Is(err, keystore.ErrDestroyed) {
			t.Errorf("credential %s key after erasure: %v", c.CredentialID, err)
		}
		if _, err := f.app.Credentials.Reveal(ctx, commands.RevealCredential{Meta: admin, CredentialID: c.CredentialID}); !errors.Is(err, customer.ErrErased) {
			t.Errorf("reveal after erasure: %v", err)
		}
	}
	if _, err := f.app.Credentials.Create(ctx, commands.CreateCredential{Meta: admin, CustomerID: cust.CustomerID,
		Credential: credential.Input{Name: "New", Password: "x"}}); !errors.Is(err, customer.ErrErased) {
		t.Errorf("a credential for an erased customer: %v", err)
	}
}

// failingAppends is the real store whose appends to credential streams fail
// once armed: a disk that fills between the read and the write.
type failingAppends struct {
	eventstore.Store
	armed bool
}

func (s *failingAppends) Append(ctx context.Context, stream string, exp eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if s.armed && credential.Stream.Owns(stream) {
		return eventstore.AppendResult{}, errors.New("injected: no space left on device")
	}
	return s.Store.Append(ctx, stream, exp, events...)
}

// If the reveal cannot be recorded, nothing is revealed.
func TestRevealRevealsNothingUnrecorded(t *testing.T) {
	t.Parallel()
	w := commandstest.New(t)
	store := &failingAppends{Store: w.Store}
	app, err := commands.New(t.Context(), commands.Config{Store: store, Keys: w.Keys})
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{app: app, store: w.Store, keys: w.Keys, codec: w.Codec}
	cust := f.register(t, "unrecorded@example.org")
	c := f.credential(t, cust.CustomerID, routerLogin)
	store.armed = true
	got, err := app.Credentials.Reveal(t.Context(), commands.RevealCredential{Meta: technician, CredentialID: c.CredentialID})
	if err == nil || got.Password != "" || got.Notes != "" {
		t.Fatalf("reveal with a failing store: %+v, %v", got, err)
	}
	if n := len(f.mustEvents(t, c.CredentialID)); n != 1 {
		t.Fatalf("%d events", n)
	}
}

// A retried create with the same idempotency key answers with the first
// credential and creates no second one.
func TestCreateCredentialIdempotent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cust := f.register(t, "idem-cred@example.org")
	meta := technician
	meta.IdempotencyKey = "create-router-1"
	cmd := commands.CreateCredential{Meta: meta, CustomerID: cust.CustomerID, Credential: routerLogin}
	first, err := f.app.Credentials.Create(t.Context(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.app.Credentials.Create(t.Context(), cmd)
	if err != nil || again.CredentialID != first.CredentialID {
		t.Fatalf("retry: %+v %v (first %s)", again, err, first.CredentialID)
	}
	list, err := f.app.Credentials.CustomerCredentials(t.Context(), cust.CustomerID, true)
	if err != nil || len(list) != 1 {
		t.Fatalf("%d credentials, %v", len(list), err)
	}
	cmd.Credential.Name = "Another"
	if _, err := f.app.Credentials.Create(t.Context(), cmd); !errors.Is(err, commands.ErrIdempotencyKeyReused) {
		t.Fatalf("same key, other request: %v", err)
	}
}

// Master-key rotation rewraps the credentials' keys with the customers': after
// it, a keyring with only the new master key still reveals.
func TestCredentialKeysRotateWithTheMasterKey(t *testing.T) {
	t.Parallel()
	w := commandstest.New(t)
	f := fixture{app: w.App, store: w.Store, keys: w.Keys, codec: w.Codec}
	cust := f.register(t, "rotated@example.org")
	c := f.credential(t, cust.CustomerID, routerLogin)
	next, err := keystore.NewMasterKey(keystore.GenerateMasterKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Keys.Rotate(t.Context(), next); err != nil {
		t.Fatal(err)
	}
	ring, err := keystore.NewKeyring(w.KeyStore, next, keystore.KeyringOptions{})
	if err != nil {
		t.Fatal(err)
	}
	app, err := commands.New(t.Context(), commands.Config{Store: w.Store, Keys: ring})
	if err != nil {
		t.Fatal(err)
	}
	got, err := app.Credentials.Reveal(t.Context(), commands.RevealCredential{Meta: technician, CredentialID: c.CredentialID})
	if err != nil || got.Password != routerLogin.Password {
		t.Fatalf("reveal under the new master key: %q %v", got.Password, err)
	}
}

// A reveal starts from the state the last one left and reads only the newer
// events: changes made through another instance in between are seen, and the
// versions stay exact.
func TestRevealSeesChangesMadeElsewhere(t *testing.T) {
	t.Parallel()
	w := commandstest.New(t)
	f := fixture{app: w.App, store: w.Store, keys: w.Keys, codec: w.Codec}
	other, err := commands.New(t.Context(), commands.Config{Store: w.Store, Keys: w.Keys})
	if err != nil {
		t.Fatal(err)
	}
	cust := f.register(t, "two-instances@example.org")
	c := f.credential(t, cust.CustomerID, routerLogin)
	for i := range 5 {
		got, err := w.App.Credentials.Reveal(t.Context(), commands.RevealCredential{Meta: technician, CredentialID: c.CredentialID})
		if err != nil || got.Version != uint64(2+5*i) {
			t.Fatalf("reveal %d: version %d, %v", i, got.Version, err)
		}
		pw := fmt.Sprintf("Elsewhere-%d", i)
		if _, err := other.Credentials.Change(t.Context(), commands.ChangeCredential{Meta: technician, CredentialID: c.CredentialID,
			Patch: credential.Patch{Password: &pw}}); err != nil {
			t.Fatal(err)
		}
		got, err = w.App.Credentials.Reveal(t.Context(), commands.RevealCredential{Meta: technician, CredentialID: c.CredentialID})
		if err != nil || got.Password != pw {
			t.Fatalf("after a change elsewhere: %q %v", got.Password, err)
		}
		if _, err := other.Credentials.Reveal(t.Context(), commands.RevealCredential{Meta: technician, CredentialID: c.CredentialID}); err != nil {
			t.Fatal(err)
		}
		// reveal here, change and reveal elsewhere, reveal here: 5 events a round
		if i < 4 {
			_, err := w.App.Credentials.Reveal(t.Context(), commands.RevealCredential{Meta: technician, CredentialID: c.CredentialID})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	view, err := w.App.Credentials.Credential(t.Context(), commands.CredentialQuery{CredentialID: c.CredentialID})
	if err != nil || view.Version() != uint64(len(f.mustEvents(t, c.CredentialID))) || view.Reveals() != 19 {
		t.Fatalf("version %d reveals %d, %v", view.Version(), view.Reveals(), err)
	}
}
