package customer_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/fieldservice/customer-service/domain/customer"
)

func TestErase(t *testing.T) {
	t.Parallel()
	active := given(t, registered(t))
	if _, err := active.Erase(customer.SubjectRequest, ""); !errors.Is(err, customer.ErrNotArchived) {
		t.Fatalf("erasing an active customer: %v, want ErrNotArchived", err)
	}
	if _, err := customer.New("c-2").Erase(customer.SubjectRequest, ""); !errors.Is(err, customer.ErrNotRegistered) {
		t.Fatalf("erasing an unregistered customer: %v", err)
	}

	note := customer.NoteAdded{NoteID: "n", Text: "dog in the yard", AuthorID: clerk.ID, AuthorName: clerk.Name, At: t0}
	archived := given(t, registered(t), note, customer.Archived{Reason: "moved"})
	for _, bad := range []struct {
		reason    customer.ErasureReason
		reference string
		paths     []string
	}{
		{customer.ErasureReason{}, "", []string{"reason"}},
		{customer.SubjectRequest, "asked by Ada Lovelace on the phone", []string{"reference"}}, // free text is refused
		{customer.ErasureReason{}, string(make([]byte, 65)), []string{"reason", "reference"}},
	} {
		_, err := archived.Erase(bad.reason, bad.reference)
		if !reflect.DeepEqual(fieldPaths(err), bad.paths) {
			t.Fatalf("Erase(%v, %q): %v, want problems at %v", bad.reason, bad.reference, err, bad.paths)
		}
	}
	events, err := archived.Erase(customer.SubjectRequest, " DSR-17 ")
	if err != nil {
		t.Fatal(err)
	}
	want := customer.Erased{Reason: customer.SubjectRequest, Reference: "DSR-17"}
	if len(events) != 1 || events[0] != want {
		t.Fatalf("Erase gave %#v, want %#v", events, want)
	}

	c := given(t, registered(t), note, customer.Archived{Reason: "moved"}, want)
	d := c.Details()
	if e := c.Erasure(); e == nil || e.Reason != customer.SubjectRequest || e.By != clerk || e.At != t0.Add(3*60e9) {
		t.Fatalf("erasure marker %+v", e)
	}
	if d.FirstName != "" || d.Email != "" || d.Phones[0].Number != "" || d.Addresses[0].Street != "" || c.Notes()[0].Text != "" || c.ArchiveReason() != "" {
		t.Fatalf("personal data survives in the state: %+v, notes %+v", d, c.Notes())
	}
	if d.Kind != customer.Person || d.Phones[1].Type != customer.Mobile || d.Addresses[0].City != "Springfield" || c.Number() != 7 || !c.Archived() {
		t.Fatalf("plain data must survive: %+v", d)
	}
	for name, try := range map[string]func() ([]customer.Event, error){
		"update": func() ([]customer.Event, error) {
			return c.Update(customer.Patch{ServiceZone: ptr("N")}, customer.DefaultPolicy())
		},
		"reenable": c.Reenable,
		"note":     func() ([]customer.Event, error) { return c.AddNote("n2", clerk, t0, "x") },
		"erase":    func() ([]customer.Event, error) { return c.Erase(customer.SubjectRequest, "") },
	} {
		if _, err := try(); !errors.Is(err, customer.ErrErased) {
			t.Fatalf("%s of an erased customer: %v, want ErrErased", name, err)
		}
	}
}
