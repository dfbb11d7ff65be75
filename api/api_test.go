package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldservice/customer-service/api"
	"github.com/fieldservice/customer-service/api/auth"
)

func TestOpenAPIDocumentIsValid(t *testing.T) {
	if ok, errs := openAPIValidator(t).ValidateDocument(); !ok {
		t.Fatalf("the OpenAPI document is not valid OpenAPI 3.1: %s", describe(errs))
	}
}

func TestCustomerLifecycle(t *testing.T) {
	f := newFixture(t)
	w := f.register(t, person("Anna", "Müller", "anna@example.com"))
	if w.Version != 1 || w.Position == "" || w.Number < 1 {
		t.Fatalf("register answered %+v", w)
	}
	minPos := map[string]string{"X-Min-Position": w.Position}

	got := f.do(t, req{method: "GET", path: "/v1/customers/" + w.ID, role: "technician", header: minPos})
	if got.Status != 200 || got.Header.Get("ETag") != `"1"` || !strings.Contains(string(got.Body), `"display_name":"Anna Müller"`) {
		t.Fatalf("get: %d %s %s", got.Status, got.Header.Get("ETag"), got.Body)
	}
	if r := f.do(t, req{method: "GET", path: "/v1/customers/" + w.ID, role: "technician", header: map[string]string{"If-None-Match": `"1"`}}); r.Status != http.StatusNotModified {
		t.Fatalf("If-None-Match of the current ETag: %d, want 304", r.Status)
	}
	for _, q := range []string{"mull", "MÜLLER", "555-0134", "(555)%200134", "anna@ex", "baker"} {
		r := f.do(t, req{method: "GET", path: "/v1/customers?q=" + q, role: "technician", header: minPos})
		if r.Status != 200 || !strings.Contains(string(r.Body), w.ID) {
			t.Errorf("search %q: %d %s", q, r.Status, r.Body)
		}
	}

	path := "/v1/customers/" + w.ID
	edit := map[string]any{"last_name": "Schmidt"}
	if r := f.do(t, req{method: "PATCH", path: path, role: "coordinator", body: edit}); r.Status != http.StatusPreconditionRequired || r.problem(t).Code != "if-match-required" {
		t.Fatalf("PATCH without If-Match: %d %s", r.Status, r.Body)
	}
	r := f.do(t, req{method: "PATCH", path: path, role: "coordinator", body: edit, header: map[string]string{"If-Match": `"1"`}})
	if r.Status != 200 || r.Header.Get("ETag") != `"2"` {
		t.Fatalf("PATCH: %d %s", r.Status, r.Body)
	}
	var edited written
	r.json(t, &edited)
	stale := f.do(t, req{method: "PATCH", path: path, role: "coordinator", body: map[string]any{"first_name": "Ann"}, header: map[string]string{"If-Match": `"1"`}})
	if p := stale.problem(t); stale.Status != http.StatusPreconditionFailed || p.CurrentVersion != 2 {
		t.Fatalf("stale PATCH: %d %s", stale.Status, stale.Body)
	}
	after := map[string]string{"X-Min-Position": edited.Position}
	if r := f.do(t, req{method: "GET", path: "/v1/customers?q=mull", role: "technician", header: after}); strings.Contains(string(r.Body), w.ID) {
		t.Fatalf("the old name still finds the customer after the edit: %s", r.Body)
	}
	if r := f.do(t, req{method: "GET", path: "/v1/customers?q=schmidt", role: "technician", header: after}); !strings.Contains(string(r.Body), w.ID) {
		t.Fatalf("the new name does not find the customer: %s", r.Body)
	}

	arch := f.do(t, req{method: "POST", path: path + "/archive", role: "coordinator", body: map[string]any{"reason": "moved away"}})
	if arch.Status != 200 {
		t.Fatalf("archive: %d %s", arch.Status, arch.Body)
	}
	var archived written
	arch.json(t, &archived)
	after = map[string]string{"X-Min-Position": archived.Position}
	if r := f.do(t, req{method: "GET", path: "/v1/customers?q=schmidt", role: "technician", header: after}); strings.Contains(string(r.Body), w.ID) {
		t.Fatalf("an archived customer is found without include_archived: %s", r.Body)
	}
	if r := f.do(t, req{method: "GET", path: "/v1/customers?q=schmidt&include_archived=true", role: "technician", header: after}); !strings.Contains(string(r.Body), w.ID) {
		t.Fatalf("include_archived does not find the archived customer: %s", r.Body)
	}
	if r := f.do(t, req{method: "GET", path: "/v1/customers?archived=true", role: "auditor", header: after}); !strings.Contains(string(r.Body), w.ID) {
		t.Fatalf("the archived list does not hold the customer: %s", r.Body)
	}
	if r := f.do(t, req{method: "POST", path: path + "/archive", role: "coordinator"}); r.Status != http.StatusBadRequest || r.problem(t).Errors[0].Field != "body" {
		t.Errorf("archive without a body: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, req{method: "POST", path: path + "/reenable", role: "coordinator", body: map[string]any{"reason": "ignored?"}}); r.Status != http.StatusBadRequest {
		t.Errorf("re-enable with a body: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, req{method: "POST", path: path + "/archive", role: "coordinator", body: map[string]any{"reason": "again"}}); r.Status != http.StatusConflict || r.problem(t).Code != "already-archived" {
		t.Fatalf("archiving twice: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, req{method: "POST", path: path + "/reenable", role: "admin", header: map[string]string{"If-Match": `"3"`}}); r.Status != 200 || r.Header.Get("ETag") != `"4"` {
		t.Fatalf("re-enable: %d %s", r.Status, r.Body)
	}
	note := f.do(t, req{method: "POST", path: path + "/notes", role: "technician", body: map[string]any{"text": "dog in the yard"}})
	if note.Status != http.StatusCreated {
		t.Fatalf("note: %d %s", note.Status, note.Body)
	}
	h := f.do(t, req{method: "GET", path: path + "/history", role: "auditor"})
	var hist struct {
		Events []struct {
			Version uint64
			Type    string
			Actor   struct{ ID string }
		}
	}
	h.json(t, &hist)
	var types []string
	for _, e := range hist.Events {
		types = append(types, e.Type)
	}
	want := []string{"CustomerRegistered", "CustomerDetailsChanged", "CustomerArchived", "CustomerReenabled", "CustomerNoteAdded"}
	if !slices.Equal(types, want) || hist.Events[4].Actor.ID != "u-technician" {
		t.Fatalf("history: %v (actors %+v), want %v", types, hist.Events, want)
	}
	for _, p := range []string{"/v1/customers/" + w.ID, "/v1/customers"} {
		r := f.do(t, req{method: "DELETE", path: p, role: "admin"})
		if r.Status != http.StatusMethodNotAllowed || r.problem(t).Code != "customers-are-never-deleted" || !strings.Contains(r.problem(t).Detail, "archive") {
			t.Fatalf("DELETE %s: %d %s", p, r.Status, r.Body)
		}
	}
}

func TestListPagesInNameOrder(t *testing.T) {
	f := newFixture(t)
	var last written
	names := []string{"Zoe", "Adam", "Mia", "Bob", "Eve"}
	for i, n := range names {
		last = f.register(t, person(n, "Test", fmt.Sprintf("p%d@example.com", i)))
	}
	var seen []string
	after := ""
	for range names {
		r := f.do(t, req{method: "GET", path: "/v1/customers?limit=2" + after, role: "technician", header: map[string]string{"X-Min-Position": last.Position}})
		var page struct {
			Items []struct {
				DisplayName string `json:"display_name"`
			}
			Next string
		}
		r.json(t, &page)
		for _, it := range page.Items {
			seen = append(seen, it.DisplayName)
		}
		if page.Next == "" {
			break
		}
		after = "&after=" + page.Next
	}
	if want := []string{"Adam Test", "Bob Test", "Eve Test", "Mia Test", "Zoe Test"}; !slices.Equal(seen, want) {
		t.Fatalf("pages: %v, want %v", seen, want)
	}
}

func TestBadRequestsChangeNothing(t *testing.T) {
	f := newFixture(t)
	w := f.register(t, person("Anna", "Berg", "anna@example.com"))
	cases := []struct {
		name   string
		r      req
		status int
		fields []string
	}{
		{"unknown fields and wrong types, all at once",
			req{method: "POST", path: "/v1/customers", role: "coordinator", body: `{"kind":"robot","first_nam":"x","employees":"many","phones":[{"number":5,"type":"pager"}],"addresses":"none"}`},
			400, []string{"kind", "first_nam", "employees", "phones[0].number", "phones[0].type", "addresses"}},
		{"broken JSON", req{method: "POST", path: "/v1/customers", role: "coordinator", body: `{"kind":`}, 400, []string{"body"}},
		{"empty body", req{method: "POST", path: "/v1/customers", role: "coordinator", body: ` `}, 400, []string{"body"}},
		{"business rules, every field",
			req{method: "POST", path: "/v1/customers", role: "coordinator", body: map[string]any{"kind": "company", "email": "not-an-email", "employees": -1}},
			422, []string{"business_name", "email", "employees"}},
		{"phone that is no number", req{method: "POST", path: "/v1/customers", role: "coordinator",
			body: map[string]any{"kind": "person", "first_name": "A", "phones": []map[string]any{{"number": "12", "type": "mobile"}}}}, 422, []string{"phones[0].number"}},
		{"bad If-Match", req{method: "PATCH", path: "/v1/customers/" + w.ID, role: "coordinator", body: map[string]any{"last_name": "X"}, header: map[string]string{"If-Match": "yesterday"}}, 400, []string{"header.If-Match"}},
		{"bad id", req{method: "GET", path: "/v1/customers/nope", role: "coordinator"}, 400, []string{"path.id"}},
		{"short query", req{method: "GET", path: "/v1/customers?q=ab", role: "technician"}, 400, []string{"query.q"}},
		{"long query", req{method: "GET", path: "/v1/customers?q=" + strings.Repeat("a", 300), role: "technician"}, 400, []string{"query.q"}},
		{"unknown parameter", req{method: "GET", path: "/v1/customers?archive=true", role: "technician"}, 400, []string{"query.archive"}},
		{"bad limit", req{method: "GET", path: "/v1/customers?limit=1000", role: "technician"}, 400, []string{"query.limit"}},
		{"bad cursor", req{method: "GET", path: "/v1/customers?after=!!", role: "technician"}, 400, []string{"query.after"}},
		{"bad position", req{method: "GET", path: "/v1/customers/" + w.ID, role: "technician", header: map[string]string{"X-Min-Position": "soon"}}, 400, []string{"header.X-Min-Position"}},
		{"empty note", req{method: "POST", path: "/v1/customers/" + w.ID + "/notes", role: "technician", body: map[string]any{"text": " "}}, 422, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(t, c.r)
			p := r.problem(t)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			var fields []string
			for _, e := range p.Errors {
				fields = append(fields, e.Field)
				if e.Message == "" {
					t.Errorf("field %s has no message", e.Field)
				}
			}
			for _, want := range c.fields {
				if !slices.Contains(fields, want) {
					t.Errorf("problem names fields %v, want %s among them: %s", fields, want, r.Body)
				}
			}
		})
	}
	t.Run("content type", func(t *testing.T) {
		r := f.do(t, req{method: "POST", path: "/v1/customers", role: "coordinator", body: `kind=person`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
		if r.Status != http.StatusUnsupportedMediaType {
			t.Fatalf("status %d, want 415", r.Status)
		}
	})
	t.Run("body too large", func(t *testing.T) {
		big := fmt.Sprintf(`{"kind":"person","first_name":"A","description":%q}`, strings.Repeat("x", 70<<10))
		if r := f.do(t, req{method: "POST", path: "/v1/customers", role: "coordinator", body: big}); r.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", r.Status)
		}
	})
	// Nothing above changed anything: the customer is still at version 1 and alone.
	r := f.do(t, req{method: "GET", path: "/v1/customers", role: "auditor", header: map[string]string{"X-Min-Position": w.Position}})
	if strings.Count(string(r.Body), `"display_name":`) != 1 || !strings.Contains(string(r.Body), `"version":1`) {
		t.Fatalf("bad requests changed something: %s", r.Body)
	}
}

func TestIdempotencyKey(t *testing.T) {
	f := newFixture(t)
	key := map[string]string{"Idempotency-Key": "order-7"}
	body := person("Ida", "Key", "ida@example.com")
	first := f.do(t, req{method: "POST", path: "/v1/customers", role: "coordinator", body: body, header: key})
	again := f.do(t, req{method: "POST", path: "/v1/customers", role: "coordinator", body: body, header: key})
	if first.Status != 201 || again.Status != 201 || string(first.Body) != string(again.Body) {
		t.Fatalf("a retry answered differently:\n%d %s\n%d %s", first.Status, first.Body, again.Status, again.Body)
	}
	other := f.do(t, req{method: "POST", path: "/v1/customers", role: "coordinator", body: person("Ida", "Other", "ida2@example.com"), header: key})
	if other.Status != http.StatusUnprocessableEntity || other.problem(t).Code != "idempotency-key-reused" {
		t.Fatalf("same key, other body: %d %s", other.Status, other.Body)
	}
	// Keys are the caller's own: the admin's "order-7" is another request.
	if r := f.do(t, req{method: "POST", path: "/v1/customers", role: "admin", body: person("Ida", "Admin", "ida3@example.com"), header: key}); r.Status != 201 {
		t.Fatalf("another caller's key collided: %d %s", r.Status, r.Body)
	}
}

// TestRoles sends every endpoint as every role and as nobody.
func TestRoles(t *testing.T) {
	f := newFixture(t)
	w := f.register(t, person("Rolf", "Role", "rolf@example.com"))
	id := w.ID
	pos := map[string]string{"X-Min-Position": w.Position}
	type endpoint struct {
		r    req
		want map[string]int // role → status; "" is no token
	}
	readAll := map[string]int{"": 401, "admin": 200, "coordinator": 200, "technician": 200, "auditor": 200}
	eps := []endpoint{
		{req{method: "GET", path: "/v1/customers/" + id, header: pos}, readAll},
		{req{method: "GET", path: "/v1/customers", header: pos}, readAll},
		{req{method: "GET", path: "/v1/customers?q=rolf", header: pos}, readAll},
		{req{method: "GET", path: "/v1/customers/" + id + "/history"}, map[string]int{"": 401, "admin": 200, "coordinator": 200, "technician": 403, "auditor": 200}},
		{req{method: "POST", path: "/v1/customers/" + id + "/notes", body: map[string]any{"text": "n"}}, map[string]int{"": 401, "admin": 201, "coordinator": 201, "technician": 201, "auditor": 403}},
		{req{method: "PATCH", path: "/v1/customers/" + id, body: map[string]any{"description": "x"}, header: map[string]string{"If-Match": "*"}},
			map[string]int{"": 401, "admin": 200, "coordinator": 200, "technician": 403, "auditor": 403}},
		{req{method: "POST", path: "/v1/customers", body: person("New", "One", "")}, map[string]int{"": 401, "technician": 403, "auditor": 403}},
		{req{method: "POST", path: "/v1/customers/" + id + "/archive", body: map[string]any{"reason": "r"}}, map[string]int{"": 401, "technician": 403, "auditor": 403}},
		{req{method: "POST", path: "/v1/customers/" + id + "/reenable"}, map[string]int{"": 401, "technician": 403, "auditor": 403}},
		{req{method: "DELETE", path: "/v1/customers/" + id}, map[string]int{"": 401, "admin": 405, "technician": 405}},
	}
	for _, ep := range eps {
		for role, want := range ep.want {
			r := ep.r
			r.role = role
			got := f.do(t, r)
			if got.Status != want {
				t.Errorf("%s %s as %q: %d, want %d: %s", r.method, r.path, role, got.Status, want, got.Body)
			}
			if want == 401 && got.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		}
	}
	// Another customer's id reaches nothing of this one's.
	other := "01900000-0000-7000-8000-000000000000"
	for _, r := range []req{{method: "GET", path: "/v1/customers/" + other}, {method: "GET", path: "/v1/customers/" + other + "/history"},
		{method: "POST", path: "/v1/customers/" + other + "/notes", body: map[string]any{"text": "n"}}} {
		r.role = "admin"
		if got := f.do(t, r); got.Status != 404 {
			t.Errorf("%s %s: %d, want 404: %s", r.method, r.path, got.Status, got.Body)
		}
	}
}

func TestRevokedTokenIsRefusedAtOnce(t *testing.T) {
	f := newFixture(t)
	if r := f.do(t, req{method: "GET", path: "/v1/customers", role: "auditor"}); r.Status != 200 {
		t.Fatalf("before revoking: %d", r.Status)
	}
	list, err := auth.List(f.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range list {
		if tok.Role.String() == "auditor" {
			if err := auth.Revoke(f.path, tok.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if r := f.do(t, req{method: "GET", path: "/v1/customers", role: "auditor"}); r.Status != 401 {
		t.Fatalf("after revoking: %d, want 401", r.Status)
	}
	if r := f.do(t, req{method: "GET", path: "/v1/customers", role: "technician"}); r.Status != 200 {
		t.Fatalf("another token after revoking: %d, want 200", r.Status)
	}
}

func TestMinPositionBeyondTheLogAnswers503(t *testing.T) {
	f := newFixture(t, func(c *api.Config) { c.MinPositionWait = 50 * time.Millisecond })
	r := f.do(t, req{method: "GET", path: "/v1/customers", role: "technician", header: map[string]string{"X-Min-Position": "999999/999999"}})
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" || r.problem(t).Code != "read-model-behind" {
		t.Fatalf("%d %v %s", r.Status, r.Header, r.Body)
	}
}

func TestOperationsEndpoints(t *testing.T) {
	f := newFixture(t)
	w := f.register(t, person("Ops", "Person", "ops@example.com"))
	f.do(t, req{method: "GET", path: "/v1/customers/" + w.ID, role: "admin", header: map[string]string{"X-Min-Position": w.Position}})
	if r := f.do(t, req{method: "GET", path: "/readyz"}); r.Status != 200 {
		t.Fatalf("readyz: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, req{method: "GET", path: "/healthz"}); r.Status != 200 {
		t.Fatalf("healthz: %d", r.Status)
	}
	m := f.do(t, req{method: "GET", path: "/metrics"})
	for _, want := range []string{`customerd_http_request_duration_seconds_bucket{method="POST",route="/v1/customers",status="201"`,
		`customerd_projection_lag_seconds{projection="search-v4"}`, `customerd_projection_running{projection="customers-v1"} 1`} {
		if !strings.Contains(string(m.Body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if r := f.do(t, req{method: "GET", path: "/openapi.json"}); r.Status != 200 || !strings.Contains(string(r.Body), `"openapi": "3.1.0"`) {
		t.Fatalf("openapi.json: %d", r.Status)
	}
	// With Redis gone, reads and readiness say so instead of failing obscurely.
	f.redis.Stop()
	if r := f.do(t, req{method: "GET", path: "/readyz"}); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("readyz without redis: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, req{method: "GET", path: "/v1/customers/" + w.ID, role: "admin"}); r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("a read without redis: %d %s", r.Status, r.Body)
	}
}
