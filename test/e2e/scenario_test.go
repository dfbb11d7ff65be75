package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestCustomerJourney: register → search finds it → edit → search reflects the
// edit → archive → excluded → re-enable → found again; each read asks for the
// position of the write before it, so no step sleeps or polls.
func TestCustomerJourney(t *testing.T) {
	s := startServer(t, false)
	tech := s.token(t, "technician")
	w := s.register(t, person("Greta", "Lindqvist", "greta@example.com"))
	if got := s.searchIDs(t, tech, "lindq", w.Position); !slices.Equal(got, []string{w.ID}) {
		t.Fatalf("search after register: %v", got)
	}
	a := s.do(t, "PATCH", "/v1/customers/"+w.ID, s.admin, map[string]any{"last_name": "Nordström"}, map[string]string{"If-Match": `"1"`})
	if a.Status != http.StatusOK {
		t.Fatalf("edit: %d %s", a.Status, a.Body)
	}
	var edit write
	a.decode(t, &edit)
	if got := s.searchIDs(t, tech, "lindq", edit.Position); len(got) != 0 {
		t.Fatalf("the old name still finds the customer: %v", got)
	}
	if got := s.searchIDs(t, tech, "nordstrom", edit.Position); !slices.Equal(got, []string{w.ID}) {
		t.Fatalf("the new name (folded) does not: %v", got)
	}
	a = s.do(t, "POST", "/v1/customers/"+w.ID+"/archive", s.admin, map[string]any{"reason": "closed"}, nil)
	var arch write
	a.decode(t, &arch)
	if got := s.searchIDs(t, tech, "nordstrom", arch.Position); len(got) != 0 {
		t.Fatalf("an archived customer is found: %v", got)
	}
	a = s.do(t, "POST", "/v1/customers/"+w.ID+"/reenable", s.admin, nil, nil)
	var back write
	a.decode(t, &back)
	if got := s.searchIDs(t, tech, "nordstrom", back.Position); !slices.Equal(got, []string{w.ID}) {
		t.Fatalf("a re-enabled customer is not found: %v", got)
	}
}

// TestConcurrentEditsOfOneVersion: many PATCHes with the same If-Match; exactly
// one wins, every other gets 412 (or 409 for a lost race), none is lost silently.
func TestConcurrentEditsOfOneVersion(t *testing.T) {
	s := startServer(t, false)
	w := s.register(t, person("Con", "Current", "con@example.com"))
	const n = 16
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a, err := s.call("PATCH", "/v1/customers/"+w.ID, s.admin, map[string]any{"description": fmt.Sprintf("edit %d", i)},
				map[string]string{"If-Match": `"1"`})
			if err != nil {
				t.Error(err)
				return
			}
			statuses[i] = a.Status
		})
	}
	wg.Wait()
	won := 0
	for _, st := range statuses {
		switch st {
		case http.StatusOK:
			won++
		case http.StatusPreconditionFailed, http.StatusConflict:
		default:
			t.Errorf("status %d", st)
		}
	}
	if won != 1 {
		t.Fatalf("%d edits of version 1 won (statuses %v), want exactly 1", won, statuses)
	}
	a := s.do(t, "GET", "/v1/customers/"+w.ID+"/history", s.admin, nil, nil)
	if c := strings.Count(string(a.Body), `"CustomerDetailsChanged"`); c != 1 {
		t.Fatalf("%d edits recorded, want 1", c)
	}
}

// TestConcurrentRegistrationsOfOneEmail: exactly one 201; every other answer is
// a 409 naming the winner.
func TestConcurrentRegistrationsOfOneEmail(t *testing.T) {
	s := startServer(t, false)
	const n = 100
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a, err := s.call("POST", "/v1/customers", s.admin, person("Same", fmt.Sprintf("Mail%d", i), "Same@Example.com"), nil)
			if err != nil {
				t.Error(err)
			}
			answers[i] = a
		})
	}
	wg.Wait()
	var winner string
	for _, a := range answers {
		if a.Status == http.StatusCreated {
			if winner != "" {
				t.Fatal("two registrations with one email succeeded")
			}
			var w write
			a.decode(t, &w)
			winner = w.ID
		}
	}
	if winner == "" {
		t.Fatal("no registration succeeded")
	}
	for _, a := range answers {
		if a.Status == http.StatusCreated {
			continue
		}
		var p struct {
			Code    string `json:"code"`
			OwnerID string `json:"owner_id"`
		}
		a.decode(t, &p)
		if a.Status != http.StatusConflict || p.Code != "email-taken" || p.OwnerID != winner {
			t.Fatalf("a losing registration answered %d %s, want 409 email-taken naming %s", a.Status, a.Body, winner)
		}
	}
}

// TestConcurrentRequestsWithOneIdempotencyKey: one customer, one answer.
func TestConcurrentRequestsWithOneIdempotencyKey(t *testing.T) {
	s := startServer(t, false)
	const n = 20
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a, err := s.call("POST", "/v1/customers", s.admin, person("Idem", "Potent", "idem@example.com"),
				map[string]string{"Idempotency-Key": "import-42"})
			if err != nil {
				t.Error(err)
			}
			answers[i] = a
		})
	}
	wg.Wait()
	for _, a := range answers {
		if a.Status != http.StatusCreated || string(a.Body) != string(answers[0].Body) {
			t.Fatalf("answers differ: %d %s vs %d %s", a.Status, a.Body, answers[0].Status, answers[0].Body)
		}
	}
	var w write
	answers[0].decode(t, &w)
	a := s.do(t, "GET", "/v1/customers", s.admin, nil, map[string]string{"X-Min-Position": w.Position})
	if c := strings.Count(string(a.Body), `"display_name"`); c != 1 {
		t.Fatalf("%d customers exist, want 1: %s", c, a.Body)
	}
}

// TestRolesWithIssuedTokens: tokens customerctl issues work at once with their
// role's rights, and a revoked one stops working at once.
func TestRolesWithIssuedTokens(t *testing.T) {
	s := startServer(t, true)
	w := s.register(t, person("Role", "Play", "role@example.com"))
	tokens := map[string]string{"admin": s.admin}
	for _, r := range []string{"coordinator", "technician", "auditor"} {
		tokens[r] = s.token(t, r)
	}
	path := "/v1/customers/" + w.ID
	pos := map[string]string{"X-Min-Position": w.Position}
	cases := []struct {
		method, path string
		body         any
		header       map[string]string
		want         map[string]int
	}{
		{"GET", path, nil, pos, map[string]int{"admin": 200, "coordinator": 200, "technician": 200, "auditor": 200}},
		{"GET", "/v1/customers?q=play", nil, pos, map[string]int{"admin": 200, "coordinator": 200, "technician": 200, "auditor": 200}},
		{"GET", path + "/history", nil, nil, map[string]int{"admin": 200, "coordinator": 200, "technician": 403, "auditor": 200}},
		{"POST", path + "/notes", map[string]any{"text": "gate code on file"}, nil, map[string]int{"coordinator": 201, "technician": 201, "auditor": 403}},
		{"PATCH", path, map[string]any{"website": "example.com"}, map[string]string{"If-Match": "*"}, map[string]int{"coordinator": 200, "technician": 403, "auditor": 403}},
		{"POST", "/v1/customers", person("New", "Person", ""), nil, map[string]int{"technician": 403, "auditor": 403, "coordinator": 201}},
		{"POST", path + "/archive", nil, nil, map[string]int{"technician": 403, "auditor": 403}},
		{"DELETE", path, nil, nil, map[string]int{"admin": 405}},
	}
	for _, c := range cases {
		for role, want := range c.want {
			if a := s.do(t, c.method, c.path, tokens[role], c.body, c.header); a.Status != want {
				t.Errorf("%s %s as %s: %d, want %d: %s", c.method, c.path, role, a.Status, want, a.Body)
			}
		}
		if a := s.do(t, c.method, c.path, "", c.body, c.header); a.Status != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d", c.method, c.path, a.Status)
		}
	}
	list := s.ctl(t, "token", "list")
	var auditorID string
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "auditor" {
			auditorID = f[0]
		}
	}
	s.ctl(t, "token", "revoke", auditorID)
	if a := s.do(t, "GET", path, tokens["auditor"], nil, nil); a.Status != http.StatusUnauthorized {
		t.Fatalf("a revoked token still reads: %d", a.Status)
	}
	if strings.Contains(s.logs.String(), tokens["technician"]) || strings.Contains(s.logs.String(), "Play") {
		t.Fatal("the log holds a token or personal data")
	}
}
