package commands

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore/embedded"
	"github.com/fieldservice/customer-service/keystore"
	keys "github.com/fieldservice/customer-service/keystore/embedded"
)

// TestCrashedReservationIsTakenOverAfterGrace simulates a registration that crashed
// after reserving its email and before saving the customer: the email stays taken
// during the grace period, then a new registration takes it over.
func TestCrashedReservationIsTakenOverAfterGrace(t *testing.T) {
	store, err := embedded.Open(embedded.Config{Path: filepath.Join(t.TempDir(), "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ks, err := keys.Open(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	master, _ := keystore.NewMasterKey(keystore.GenerateMasterKey())
	ring, _ := keystore.NewKeyring(ks, master, keystore.KeyringOptions{})
	var mu sync.Mutex
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	app, err := New(t.Context(), Config{Store: store, Keys: ring, Clock: clock, ClaimGrace: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	meta := Meta{Actor: actor.Actor{ID: "u", Role: actor.Admin}}
	d := app.RegisterCustomer.d
	if err := d.emails.reserve(t.Context(), "ghost@example.com", "crashed-customer", meta); err != nil {
		t.Fatal(err)
	}
	register := func() error {
		_, err := app.RegisterCustomer.Handle(t.Context(), RegisterCustomer{Meta: meta,
			Details: customer.Details{Kind: customer.Person, FirstName: "G", Email: "Ghost@example.com"}})
		return err
	}
	var taken *EmailTakenError
	if err := register(); !errors.As(err, &taken) || taken.OwnerID != "crashed-customer" {
		t.Fatalf("within the grace period: %v, want taken by the crashed registration", err)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if err := register(); err != nil {
		t.Fatalf("after the grace period the orphaned reservation should be taken over: %v", err)
	}
	if err := register(); !errors.As(err, &taken) || taken.OwnerID == "crashed-customer" {
		t.Fatalf("the new owner's email must now be taken: %v", err)
	}
}
