package permission_test

import (
	"errors"
	"testing"

	"github.com/fieldservice/customer-service/domain/permission"
)

func TestDefaultsKeepTheirRules(t *testing.T) {
	g := permission.NewGroups()
	for _, name := range []string{"admin", "coordinator", "technician", "auditor"} {
		if _, ok := g.Get(name); !ok {
			t.Errorf("default group %s missing", name)
		}
	}
	auditor, _ := g.Get("auditor")
	if auditor.Permissions.Has(permission.CredentialsReveal) || !auditor.Permissions.Has(permission.CredentialsReport) {
		t.Errorf("auditor: reveal %v, report %v", auditor.Permissions.Has(permission.CredentialsReveal), auditor.Permissions.Has(permission.CredentialsReport))
	}
	if _, err := g.Save("auditor", "", auditor.Permissions|permission.SetOf(permission.CredentialsReveal)); !errors.Is(err, permission.ErrAuditorReadOnly) {
		t.Errorf("auditor granted reveal: %v", err)
	}
	if _, err := g.Save("admin", "", permission.SetOf(permission.CustomersView)); !errors.Is(err, permission.ErrFixedGroup) {
		t.Errorf("admin narrowed: %v", err)
	}
	if _, err := g.Remove("technician"); !errors.Is(err, permission.ErrBuiltIn) {
		t.Errorf("default removed: %v", err)
	}
	for _, bad := range []string{"", "A", "x", "system", "has space", "-x", "toolongtoolongtoolongtoolongtoolong"} {
		if _, err := g.Save(bad, "", 0); !errors.Is(err, permission.ErrGroupName) {
			t.Errorf("name %q: %v", bad, err)
		}
	}
}

func TestSaveChangeRemove(t *testing.T) {
	g := permission.NewGroups()
	perms := permission.SetOf(permission.CustomersView, permission.CredentialsView, permission.CredentialsReveal)
	events, err := g.Save("field-leads", "Leads", perms)
	if err != nil || len(events) != 1 {
		t.Fatalf("save: %v %v", events, err)
	}
	for _, e := range events {
		if err := g.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	got, ok := g.Get("field-leads")
	if !ok || got.Permissions != perms || got.BuiltIn || g.Version() != 1 {
		t.Fatalf("got %+v %v version %d", got, ok, g.Version())
	}
	if again, _ := g.Save("field-leads", "Leads", perms); len(again) != 0 {
		t.Errorf("saving the same definition again made %v", again)
	}
	events, err = g.Remove("field-leads")
	if err != nil {
		t.Fatal(err)
	}
	replayed, err := permission.Replay(append([]permission.Event{permission.GroupSaved{Name: "field-leads", Permissions: perms.Names()}}, events...))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := replayed.Get("field-leads"); ok {
		t.Error("removed group still there after replay")
	}
	if _, err := replayed.Remove("field-leads"); !errors.Is(err, permission.ErrGroupNotFound) {
		t.Errorf("remove twice: %v", err)
	}
}

func TestParseSetNamesEveryUnknown(t *testing.T) {
	_, err := permission.ParseSet([]string{"customers.view", "credentials.peek", "x"})
	if !errors.Is(err, permission.ErrUnknownPermission) || err.Error() != `unknown permission "credentials.peek", "x"` {
		t.Errorf("err = %v", err)
	}
	s, err := permission.ParseSet(permission.Every().Names())
	if err != nil || s != permission.Every() {
		t.Errorf("round trip: %v %v", s, err)
	}
}
