package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// Erasure over the API: admins only, archived first, the account settled;
// then the personal fields are gone from the view and the search at once.
func TestEraseOverTheAPI(t *testing.T) {
	f := newFixture(t)
	w := f.register(t, person("Philippa", "Forgotten", "philippa@forget.example"))
	id := w.ID
	erase := func(role string, body any) response {
		return f.do(t, req{method: "POST", path: "/v1/customers/" + id + "/erase", role: role, body: body})
	}
	if r := erase("coordinator", map[string]any{"reason": "subject_request"}); r.Status != http.StatusForbidden {
		t.Fatalf("erase as coordinator: %d", r.Status)
	}
	if r := erase("admin", map[string]any{"reason": "subject_request"}); r.Status != http.StatusConflict || r.problem(t).Code != "not-archived" {
		t.Fatalf("erase an active customer: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, req{method: "POST", path: "/v1/customers/" + id + "/archive", role: "admin", body: map[string]any{"reason": "asked"}}); r.Status != 200 {
		t.Fatalf("archive: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, req{method: "POST", path: "/v1/customers/" + id + "/invoices", role: "admin",
		body: map[string]any{"number": "INV-9", "currency": "USD", "subtotal": 2500}}); r.Status != http.StatusCreated {
		t.Fatalf("invoice: %d %s", r.Status, r.Body)
	}
	if r := erase("admin", map[string]any{"reason": "subject_request"}); r.Status != http.StatusConflict || r.problem(t).Code != "balance-not-zero" {
		t.Fatalf("erase with an open invoice: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, req{method: "POST", path: "/v1/customers/" + id + "/invoices/INV-9/void", role: "admin", body: map[string]any{}}); r.Status != 200 {
		t.Fatalf("void: %d %s", r.Status, r.Body)
	}
	if r := erase("admin", map[string]any{"reason": "because"}); r.Status != http.StatusBadRequest || r.problem(t).Errors[0].Field != "reason" {
		t.Fatalf("erase with a free-text reason: %d %s", r.Status, r.Body)
	}
	done := erase("admin", map[string]any{"reason": "subject_request", "reference": "DSR-7"})
	var written struct{ Position string }
	done.json(t, &written)
	if done.Status != 200 {
		t.Fatalf("erase: %d %s", done.Status, done.Body)
	}
	view := f.do(t, req{method: "GET", path: "/v1/customers/" + id, role: "admin", header: map[string]string{"X-Min-Position": written.Position}})
	if view.Status != 200 || strings.Contains(string(view.Body), "Forgotten") || strings.Contains(string(view.Body), "philippa@") ||
		!strings.Contains(string(view.Body), `"erased"`) {
		t.Fatalf("the view after erasure: %d %s", view.Status, view.Body)
	}
	found := f.do(t, req{method: "GET", path: "/v1/customers?q=forgotten&include_archived=true", role: "admin",
		header: map[string]string{"X-Min-Position": written.Position}})
	if found.Status != 200 || strings.Contains(string(found.Body), id) {
		t.Fatalf("the search still finds the erased customer: %d %s", found.Status, found.Body)
	}
	if r := erase("admin", map[string]any{"reason": "subject_request"}); r.Status != http.StatusGone {
		t.Fatalf("erase twice: %d %s", r.Status, r.Body)
	}
}
