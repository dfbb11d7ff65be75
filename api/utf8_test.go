package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/fieldservice/customer-service/api"
)

// TestInvalidUTF8IsRefused: bytes that are not UTF-8 get 400 naming the first
// bad string, and nothing is stored; in a query parameter too.
func TestInvalidUTF8IsRefused(t *testing.T) {
	f := newFixture(t)
	w := f.register(t, person("Anna", "Berg", "anna@example.com"))
	for _, c := range []struct {
		body  string
		field string
	}{
		{"{\"kind\":\"person\",\"first_name\":\"Ren\xe9e\",\"email\":\"r@example.com\"}", "first_name"},
		{"{\"kind\":\"person\",\"first_name\":\"Ana\",\"phones\":[{\"number\":\"+1212555\",\"type\":\"mobile\"},{\"number\":\"\xff\",\"type\":\"work\"}]}", "phones[1].number"},
		{"{\"kind\":\"person\",\"n\xe9\":1}", "n\xe9"},
	} {
		r := f.do(t, req{method: "POST", path: "/v1/customers", role: "coordinator", body: c.body})
		if r.Status != http.StatusBadRequest {
			t.Errorf("%q: %d %s", c.body, r.Status, r.Body)
			continue
		}
		p := r.problem(t)
		if len(p.Errors) != 1 || p.Errors[0].Message != "is not valid UTF-8" || p.Errors[0].Field != strings.ToValidUTF8(c.field, "\uFFFD") {
			t.Errorf("%q: %+v, want field %s", c.body, p.Errors, c.field)
		}
	}
	r := f.do(t, req{method: "GET", path: "/v1/customers?q=ren%E9e", role: "coordinator"})
	if r.Status != http.StatusBadRequest || !slices.ContainsFunc(r.problem(t).Errors, func(e api.FieldProblem) bool { return e.Field == "query.q" }) {
		t.Errorf("bad bytes in q: %d %s", r.Status, r.Body)
	}
	// Nothing was stored: the customer is still alone.
	list := f.do(t, req{method: "GET", path: "/v1/customers", role: "auditor", header: map[string]string{"X-Min-Position": w.Position}})
	var page struct{ Items []any }
	list.json(t, &page)
	if len(page.Items) != 1 {
		t.Errorf("%d customers after the refusals, want 1", len(page.Items))
	}
}
