package credential_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/credential"
)

// seal stands in for the command layer's AES-GCM: the domain only passes
// what it returns along, and must never put the plaintext in an event.
func seal(field, plaintext string) (credential.Sealed, error) {
	return credential.Sealed("sealed(" + field + ":" + strings.Repeat("*", len(plaintext)) + ")"), nil
}

var tech = actor.Actor{ID: "u-2", Name: "Tom", Role: actor.Technician}

func created(t *testing.T) *credential.Credential {
	t.Helper()
	c := credential.New("0193a4b2-7c1d-7e2f-8a3b-4c5d6e7f8091")
	events, err := c.Create("cust-1", credential.Input{Name: " Office router ", Username: "admin", Password: "hunter2", Notes: "pin 1234"}, seal)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if err := c.Apply(e, time.Now(), tech); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestCreateSealsAndValidates(t *testing.T) {
	c := created(t)
	pw, notes := c.Secrets()
	if c.Name() != "Office router" || c.CustomerID() != "cust-1" || c.Version() != 1 || !c.HasNotes() ||
		strings.Contains(string(pw), "hunter2") || strings.Contains(string(notes), "1234") {
		t.Fatalf("created %+v", c)
	}
	_, err := credential.New("x").Create("cust-1", credential.Input{Name: "", Password: "", Username: "a\x00b",
		Notes: strings.Repeat("n", 4001)}, seal)
	var e *credential.Error
	if !errors.As(err, &e) || !errors.Is(err, credential.ErrInvalid) || len(e.Problems) != 4 {
		t.Fatalf("invalid input: %v", err)
	}
	for _, p := range e.Problems {
		if strings.Contains(p.Message, "hunter2") {
			t.Errorf("a problem names a secret: %v", p)
		}
	}
}

func TestChangeRevealRemove(t *testing.T) {
	c := created(t)
	same := "Office router"
	if events, err := c.Change(credential.Patch{Name: &same}, seal); err != nil || len(events) != 0 {
		t.Fatalf("a patch that changes nothing: %v %v", events, err)
	}
	empty := ""
	if _, err := c.Change(credential.Patch{Password: &empty}, seal); !errors.Is(err, credential.ErrInvalid) {
		t.Fatalf("clearing the password: %v", err)
	}
	events, err := c.Change(credential.Patch{Notes: &empty}, seal)
	if err != nil || len(events) != 1 || !events[0].(credential.Changed).NotesCleared {
		t.Fatalf("clearing notes: %v %v", events, err)
	}
	_ = c.Apply(events[0], time.Now(), tech)
	if c.HasNotes() {
		t.Fatal("notes still there")
	}
	events, err = c.Reveal("203.0.113.9", strings.Repeat("u", 1000), "ticket 9")
	if err != nil || len(events[0].(credential.Revealed).UserAgent) != 256 {
		t.Fatalf("reveal: %v %v", events, err)
	}
	_ = c.Apply(events[0], time.Now(), tech)
	events, err = c.Remove("replaced")
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Apply(events[0], time.Now(), tech)
	if !c.Removed() || c.Reveals() != 1 || c.Version() != 4 {
		t.Fatalf("after removal: removed %v reveals %d version %d", c.Removed(), c.Reveals(), c.Version())
	}
	for name, f := range map[string]func() error{
		"reveal": func() error { _, err := c.Reveal("", "", ""); return err },
		"change": func() error { _, err := c.Change(credential.Patch{Name: &same}, seal); return err },
		"remove": func() error { _, err := c.Remove(""); return err },
	} {
		if err := f(); !errors.Is(err, credential.ErrRemoved) {
			t.Errorf("%s after removal: %v", name, err)
		}
	}
	if _, err := credential.New("y").Reveal("", "", ""); !errors.Is(err, credential.ErrNotFound) {
		t.Errorf("reveal of nothing: %v", err)
	}
}
