package api_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// For random command sequences, the customer folded from the store at every
// version (and at the instant after each write) equals what the customer
// view showed at that write's position.
func TestAsOfEqualsTheViewAtEveryVersion(t *testing.T) {
	f := newFixture(t)
	for seed := range uint64(3) {
		rng := rand.New(rand.NewPCG(seed, 9))
		w := f.register(t, person("Otto", fmt.Sprintf("Asof%d", seed), fmt.Sprintf("otto%d@asof.example", seed)))
		id := w.ID
		type seen struct {
			body string
			at   time.Time
		}
		views := map[uint64]seen{}
		capture := func(position string) {
			t.Helper()
			r := f.do(t, req{method: "GET", path: "/v1/customers/" + id, role: "admin", header: map[string]string{"X-Min-Position": position}})
			var v struct{ Version uint64 }
			r.json(t, &v)
			views[v.Version] = seen{string(r.Body), time.Now()}
		}
		capture(w.Position)
		archived := false
		for i := range 25 {
			var r response
			switch op := rng.IntN(4); {
			case op == 0 && !archived:
				r = f.do(t, req{method: "POST", path: "/v1/customers/" + id + "/archive", role: "admin", body: map[string]any{"reason": fmt.Sprintf("r%d", i)}})
				archived = true
			case op == 0:
				r = f.do(t, req{method: "POST", path: "/v1/customers/" + id + "/reenable", role: "admin"})
				archived = false
			case op == 1:
				r = f.do(t, req{method: "POST", path: "/v1/customers/" + id + "/notes", role: "admin", body: map[string]any{"text": fmt.Sprintf("note %d", i)}})
			default:
				r = f.do(t, req{method: "PATCH", path: "/v1/customers/" + id, role: "admin", header: map[string]string{"If-Match": "*"},
					body: map[string]any{"industry": fmt.Sprintf("industry-%d", rng.IntN(5)), "employees": rng.IntN(100)}})
			}
			if r.Status >= 300 {
				t.Fatalf("step %d: %d %s", i, r.Status, r.Body)
			}
			var written struct{ Position string }
			r.json(t, &written)
			if written.Position != "" {
				capture(written.Position)
			}
		}
		if len(views) < 10 {
			t.Fatalf("only %d versions: the test proves little", len(views))
		}
		for v, want := range views {
			got := f.do(t, req{method: "GET", path: fmt.Sprintf("/v1/customers/%s?version=%d", id, v), role: "auditor"})
			if got.Status != http.StatusOK || string(got.Body) != want.body {
				t.Fatalf("version %d:\n store %s\n view  %s", v, got.Body, want.body)
			}
			at := f.do(t, req{method: "GET", path: "/v1/customers/" + id + "?as_of=" + url.QueryEscape(want.at.UTC().Format(time.RFC3339Nano)), role: "auditor"})
			if at.Status != http.StatusOK || string(at.Body) != want.body {
				t.Fatalf("as of the instant after version %d:\n store %s\n view  %s", v, at.Body, want.body)
			}
		}
		if r := f.do(t, req{method: "GET", path: fmt.Sprintf("/v1/customers/%s?version=%d", id, len(views)+5), role: "admin"}); r.Status != http.StatusNotFound {
			t.Fatalf("a version that does not exist: %d", r.Status)
		}
		if r := f.do(t, req{method: "GET", path: "/v1/customers/" + id + "?as_of=2001-01-01T00:00:00Z", role: "admin"}); r.Status != http.StatusNotFound {
			t.Fatalf("before the registration: %d", r.Status)
		}
	}
}
