package api_test

import (
	"testing"
	"time"

	"github.com/fieldservice/customer-service/api/auth"
	"github.com/fieldservice/customer-service/domain/actor"
)

type historyAnswer struct {
	Events []struct {
		Type    string         `json:"type"`
		Data    map[string]any `json:"data"`
		Changes []struct {
			Field    string `json:"field"`
			Old      any    `json:"old"`
			New      any    `json:"new"`
			Personal bool   `json:"personal"`
			Masked   bool   `json:"masked"`
		} `json:"changes"`
	} `json:"events"`
}

// The history says what each event changed, old → new; a group that may
// read the history but not view customers sees personal fields named, not
// their values.
func TestHistoryShowsFieldChanges(t *testing.T) {
	f := newFixture(t)
	id := f.register(t, person("Hana", "Before", "hana@history.example")).ID
	if r := f.do(t, req{method: "PATCH", path: "/v1/customers/" + id, role: "admin", header: map[string]string{"If-Match": `"1"`},
		body: map[string]any{"last_name": "After", "industry": "plumbing"}}); r.Status != 200 {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	var h historyAnswer
	f.do(t, req{method: "GET", path: "/v1/customers/" + id + "/history", role: "auditor"}).json(t, &h)
	if len(h.Events) != 2 {
		t.Fatalf("%d events", len(h.Events))
	}
	ch := h.Events[1].Changes
	if len(ch) != 2 || ch[0].Field != "industry" || ch[0].Old != nil || ch[0].New != "plumbing" || ch[0].Personal ||
		ch[1].Field != "last_name" || ch[1].Old != "Before" || ch[1].New != "After" || !ch[1].Personal {
		t.Fatalf("changes: %+v", ch)
	}
	if reg := h.Events[0].Changes; len(reg) < 4 {
		t.Fatalf("the registration's changes: %+v", reg)
	}

	if r := f.do(t, req{method: "PUT", path: "/v1/permission-groups/history-only", role: "admin",
		body: map[string]any{"permissions": []string{"customers.history"}}}); r.Status != 200 {
		t.Fatalf("group: %d %s", r.Status, r.Body)
	}
	secret, _, err := auth.Issue(f.path, actor.Actor{ID: "u-h", Name: "Hal", Role: mustRole(t, "history-only")}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.tokens["history-only"] = secret
	var masked historyAnswer
	f.do(t, req{method: "GET", path: "/v1/customers/" + id + "/history", role: "history-only"}).json(t, &masked)
	mc := masked.Events[1].Changes
	if masked.Events[1].Data != nil || len(mc) != 2 || mc[0].New != "plumbing" || !mc[1].Masked || mc[1].Old != nil || mc[1].New != nil {
		t.Fatalf("masked history: %+v", masked.Events[1])
	}
}
