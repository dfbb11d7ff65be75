package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldservice/customer-service/api"
	"github.com/fieldservice/customer-service/api/auth"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/projections/projectionstest"
)

type credentialAnswer struct {
	ID       string `json:"id"`
	Password string `json:"password"`
	Notes    string `json:"notes"`
	Username string `json:"username"`
	Version  uint64 `json:"version"`
	Removed  bool   `json:"removed"`
	Reveals  int    `json:"reveals"`
}

// routerLogin's values are distinctive enough that finding one anywhere
// cannot be chance.
var routerLogin = map[string]any{"name": "Office router", "username": "netadmin-qz19", "url": "http://192.168.1.1",
	"password": "Pw-Marmalade-8812!", "notes": "WPS pin 66120497"}

func (f *fixture) storeCredential(t *testing.T, customerID, role string) credentialAnswer {
	t.Helper()
	r := f.do(t, req{method: "POST", path: "/v1/customers/" + customerID + "/credentials", role: role, body: routerLogin})
	if r.Status != http.StatusCreated {
		t.Fatalf("create credential as %s: %d %s", role, r.Status, r.Body)
	}
	var c credentialAnswer
	r.json(t, &c)
	return c
}

func (f *fixture) credentialVersion(t *testing.T, id string) string {
	t.Helper()
	r := f.do(t, req{method: "GET", path: "/v1/credentials/" + id, role: "admin"})
	if r.Status != http.StatusOK {
		t.Fatalf("get credential: %d %s", r.Status, r.Body)
	}
	return r.Header.Get("ETag")
}

// Every credential endpoint, as every default group, on the credential's own
// customer and through another customer: the expected status, and a refused
// reveal records nothing.
func TestCredentialPermissionsMatrix(t *testing.T) {
	f := newFixture(t)
	a := f.register(t, person("Ada", "Owner", "owner-a@example.org")).ID
	b := f.register(t, person("Bea", "Other", "owner-b@example.org")).ID
	roles := []string{"admin", "coordinator", "technician", "auditor"}
	type want map[string]int
	cases := []struct {
		name  string
		do    func(role string, cred credentialAnswer) req
		want  want
		fresh bool // each role gets its own credential (the request changes or removes it)
	}{
		{"create", func(role string, _ credentialAnswer) req {
			return req{method: "POST", path: "/v1/customers/" + a + "/credentials", body: routerLogin}
		}, want{"admin": 201, "coordinator": 201, "technician": 201, "auditor": 403}, false},
		{"list", func(string, credentialAnswer) req {
			return req{method: "GET", path: "/v1/customers/" + a + "/credentials"}
		},
			want{"admin": 200, "coordinator": 200, "technician": 200, "auditor": 200}, false},
		{"read", func(_ string, c credentialAnswer) req { return req{method: "GET", path: "/v1/credentials/" + c.ID} },
			want{"admin": 200, "coordinator": 200, "technician": 200, "auditor": 200}, false},
		{"read scoped", func(_ string, c credentialAnswer) req {
			return req{method: "GET", path: "/v1/customers/" + a + "/credentials/" + c.ID}
		},
			want{"admin": 200, "coordinator": 200, "technician": 200, "auditor": 200}, false},
		{"read through another customer", func(_ string, c credentialAnswer) req {
			return req{method: "GET", path: "/v1/customers/" + b + "/credentials/" + c.ID}
		}, want{"admin": 404, "coordinator": 404, "technician": 404, "auditor": 404}, false},
		{"edit", func(_ string, c credentialAnswer) req {
			return req{method: "PATCH", path: "/v1/credentials/" + c.ID, body: map[string]any{"name": "Renamed"},
				header: map[string]string{"If-Match": `"1"`}}
		}, want{"admin": 200, "coordinator": 200, "technician": 200, "auditor": 403}, true},
		{"edit through another customer", func(_ string, c credentialAnswer) req {
			return req{method: "PATCH", path: "/v1/customers/" + b + "/credentials/" + c.ID, body: map[string]any{"name": "Renamed"},
				header: map[string]string{"If-Match": `"1"`}}
		}, want{"admin": 404, "coordinator": 404, "technician": 404, "auditor": 403}, true},
		{"reveal", func(_ string, c credentialAnswer) req {
			return req{method: "POST", path: "/v1/credentials/" + c.ID + "/reveal"}
		},
			want{"admin": 200, "coordinator": 200, "technician": 200, "auditor": 403}, false},
		{"reveal scoped", func(_ string, c credentialAnswer) req {
			return req{method: "POST", path: "/v1/customers/" + a + "/credentials/" + c.ID + "/reveal", body: map[string]any{"reason": "ticket 7"}}
		}, want{"admin": 200, "coordinator": 200, "technician": 200, "auditor": 403}, false},
		{"reveal through another customer", func(_ string, c credentialAnswer) req {
			return req{method: "POST", path: "/v1/customers/" + b + "/credentials/" + c.ID + "/reveal"}
		}, want{"admin": 404, "coordinator": 404, "technician": 404, "auditor": 403}, false},
		{"remove through another customer", func(_ string, c credentialAnswer) req {
			return req{method: "DELETE", path: "/v1/customers/" + b + "/credentials/" + c.ID}
		}, want{"admin": 404, "coordinator": 403, "technician": 403, "auditor": 403}, true},
		{"remove", func(_ string, c credentialAnswer) req { return req{method: "DELETE", path: "/v1/credentials/" + c.ID} },
			want{"admin": 200, "coordinator": 403, "technician": 403, "auditor": 403}, true},
		{"remove scoped", func(_ string, c credentialAnswer) req {
			return req{method: "DELETE", path: "/v1/customers/" + a + "/credentials/" + c.ID, body: map[string]any{"reason": "replaced"}}
		}, want{"admin": 200, "coordinator": 403, "technician": 403, "auditor": 403}, true},
		{"access report", func(string, credentialAnswer) req { return req{method: "GET", path: "/v1/reports/credential-access"} },
			want{"admin": 200, "coordinator": 403, "technician": 403, "auditor": 200}, false},
	}
	shared := f.storeCredential(t, a, "technician")
	for _, tc := range cases {
		for _, role := range roles {
			cred := shared
			if tc.fresh {
				cred = f.storeCredential(t, a, "coordinator")
			}
			r := tc.do(role, cred)
			r.role = role
			before := f.credentialVersion(t, cred.ID)
			got := f.do(t, r)
			if got.Status != tc.want[role] {
				t.Errorf("%s as %s: %d, want %d: %s", tc.name, role, got.Status, tc.want[role], got.Body)
				continue
			}
			if got.Status >= 400 {
				if p := got.problem(t); p.Status != got.Status {
					t.Errorf("%s as %s: problem status %d", tc.name, role, p.Status)
				}
				if after := f.credentialVersion(t, cred.ID); after != before {
					t.Errorf("%s as %s was refused but changed the credential: %s → %s", tc.name, role, before, after)
				}
			}
			if strings.Contains(string(got.Body), routerLogin["password"].(string)) != (got.Status == 200 && strings.HasPrefix(tc.name, "reveal")) {
				t.Errorf("%s as %s: the password is in the answer: %v", tc.name, role, !strings.HasPrefix(tc.name, "reveal"))
			}
		}
	}
}

// The README's tour, end to end: store a router login, reveal it as a
// technician, see the report as an admin, remove it, and the reveal fails.
// Then the event file, the key file, every Redis key and the logs of the
// whole run are scanned for the secrets.
func TestCredentialTourLeavesNoSecretBehind(t *testing.T) {
	var logs bytes.Buffer
	var logMu sync.Mutex
	f := newFixture(t, func(c *api.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(lockedWriter{&logs, &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	id := f.register(t, person("Rae", "Router", "rae@example.org")).ID
	created := f.storeCredential(t, id, "coordinator")
	if created.Password != "********" || created.Notes != "********" || created.Username != routerLogin["username"] {
		t.Fatalf("the created credential is not masked: %+v", created)
	}
	list := f.do(t, req{method: "GET", path: "/v1/customers/" + id + "/credentials", role: "technician"})
	if list.Status != 200 || strings.Contains(string(list.Body), routerLogin["password"].(string)) || !strings.Contains(string(list.Body), created.ID) {
		t.Fatalf("list: %d %s", list.Status, list.Body)
	}

	newPassword := "Pw-Clementine-4420?"
	edit := f.do(t, req{method: "PATCH", path: "/v1/credentials/" + created.ID, role: "technician", body: map[string]any{"password": newPassword},
		header: map[string]string{"If-Match": `"1"`}})
	if edit.Status != 200 {
		t.Fatalf("edit: %d %s", edit.Status, edit.Body)
	}
	stale := f.do(t, req{method: "PATCH", path: "/v1/credentials/" + created.ID, role: "technician", body: map[string]any{"name": "x"},
		header: map[string]string{"If-Match": `"1"`}})
	if stale.Status != http.StatusPreconditionFailed {
		t.Fatalf("stale edit: %d %s", stale.Status, stale.Body)
	}
	if r := f.do(t, req{method: "PATCH", path: "/v1/credentials/" + created.ID, role: "technician", body: map[string]any{"name": "x"}}); r.Status != http.StatusPreconditionRequired {
		t.Fatalf("edit without If-Match: %d", r.Status)
	}
	bad := f.do(t, req{method: "POST", path: "/v1/customers/" + id + "/credentials", role: "coordinator", body: map[string]any{"name": "", "password": ""}})
	if p := bad.problem(t); bad.Status != 422 || len(p.Errors) != 2 || p.Errors[0].Field != "name" || p.Errors[1].Field != "password" {
		t.Fatalf("invalid credential: %d %+v", bad.Status, p)
	}

	reveal := f.do(t, req{method: "POST", path: "/v1/credentials/" + created.ID + "/reveal", role: "technician",
		body: map[string]any{"reason": "on site, ticket 4411"}, header: map[string]string{"User-Agent": "field-app/2.1", "X-Forwarded-For": "198.51.100.66"}})
	var shown struct {
		Password, Notes, Position string
		Version                   uint64
	}
	reveal.json(t, &shown)
	if reveal.Status != 200 || shown.Password != newPassword || shown.Notes != routerLogin["notes"] || reveal.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("reveal: %d %s", reveal.Status, reveal.Body)
	}

	report := f.do(t, req{method: "GET", path: "/v1/reports/credential-access?credential_id=" + created.ID, role: "admin",
		header: map[string]string{"X-Min-Position": shown.Position}})
	var page struct {
		Items []struct {
			Action, Reason, Changed string
			ClientAddress           string `json:"client_address"`
			UserAgent               string `json:"user_agent"`
			Actor                   struct{ ID string }
		}
		Next string
	}
	report.json(t, &page)
	if report.Status != 200 || len(page.Items) != 3 || page.Items[0].Action != "revealed" || page.Items[0].Actor.ID != "u-technician" ||
		page.Items[0].UserAgent != "field-app/2.1" || page.Items[0].Reason != "on site, ticket 4411" || page.Items[0].ClientAddress != "127.0.0.1" ||
		page.Items[1].Changed != "password" || page.Items[2].Action != "created" {
		t.Fatalf("report: %d %s", report.Status, report.Body)
	}
	csvAnswer := f.do(t, req{method: "GET", path: "/v1/reports/credential-access?customer_id=" + id, role: "auditor",
		header: map[string]string{"Accept": "text/csv", "X-Min-Position": shown.Position}})
	rows, err := csv.NewReader(bytes.NewReader(csvAnswer.Body)).ReadAll()
	if err != nil || csvAnswer.Status != 200 || len(rows) != 4 || rows[0][1] != "action" || rows[1][1] != "revealed" {
		t.Fatalf("CSV: %d %v %q", csvAnswer.Status, err, csvAnswer.Body)
	}

	remove := f.do(t, req{method: "DELETE", path: "/v1/credentials/" + created.ID, role: "admin", body: map[string]any{"reason": "router replaced"}})
	var removed credentialAnswer
	remove.json(t, &removed)
	if remove.Status != 200 || !removed.Removed || removed.Username != "" {
		t.Fatalf("remove: %d %s", remove.Status, remove.Body)
	}
	again := f.do(t, req{method: "POST", path: "/v1/credentials/" + created.ID + "/reveal", role: "technician"})
	if p := again.problem(t); again.Status != http.StatusGone || p.Code != "credential-removed" {
		t.Fatalf("reveal after removal: %d %+v", again.Status, p)
	}

	// Let the read models take in the removal, then look everywhere.
	pos, err := f.world.Store.LastPosition(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	projectionstest.Sync(t, f.access, pos)
	projectionstest.Sync(t, f.views, pos)
	secrets := []string{routerLogin["password"].(string), newPassword, routerLogin["notes"].(string), routerLogin["username"].(string)}
	places := map[string][]byte{"event file": rawFile(t, f.world.Store.Path()), "key file": rawFile(t, f.world.KeyStore.Path())}
	logMu.Lock()
	places["logs"] = bytes.Clone(logs.Bytes())
	logMu.Unlock()
	if !bytes.Contains(places["logs"], []byte("/v1/credentials/:cid/reveal")) {
		t.Fatal("the logs do not show the run: the scan would prove nothing")
	}
	places["redis"] = redisDump(t, f)
	if !bytes.Contains(places["redis"], []byte("Office router")) {
		t.Fatal("the Redis dump lacks the credential's name: the scan would prove nothing")
	}
	for where, raw := range places {
		for _, s := range secrets {
			if bytes.Contains(raw, []byte(s)) {
				t.Errorf("the %s holds %q in clear", where, s)
			}
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// redisDump is every key of the server and every value in it, as text.
func redisDump(t *testing.T, f *fixture) []byte {
	t.Helper()
	ctx := context.Background()
	var out bytes.Buffer
	keys, err := f.rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		fmt.Fprintf(&out, "%s\n", k)
		switch f.rdb.Type(ctx, k).Val() {
		case "string":
			out.WriteString(f.rdb.Get(ctx, k).Val())
		case "hash":
			for field, v := range f.rdb.HGetAll(ctx, k).Val() {
				out.WriteString(field + "=" + v + "\n")
			}
		case "zset":
			for _, m := range f.rdb.ZRange(ctx, k, 0, -1).Val() {
				out.WriteString(m + "\n")
			}
		case "set":
			for _, m := range f.rdb.SMembers(ctx, k).Val() {
				out.WriteString(m + "\n")
			}
		case "list":
			for _, m := range f.rdb.LRange(ctx, k, 0, -1).Val() {
				out.WriteString(m + "\n")
			}
		default:
			t.Fatalf("key %s of a type the scan does not read", k)
		}
	}
	return out.Bytes()
}

// Groups: an admin defines one, a token issued for it can do exactly what it
// grants, and removing the group shuts its tokens out.
func TestPermissionGroups(t *testing.T) {
	f := newFixture(t)
	id := f.register(t, person("Gus", "Group", "gus@example.org")).ID
	cred := f.storeCredential(t, id, "technician")

	list := f.do(t, req{method: "GET", path: "/v1/permission-groups", role: "admin"})
	if list.Status != 200 || !strings.Contains(string(list.Body), `"auditor"`) {
		t.Fatalf("groups: %d %s", list.Status, list.Body)
	}
	if r := f.do(t, req{method: "GET", path: "/v1/permission-groups", role: "coordinator"}); r.Status != 403 {
		t.Fatalf("groups as coordinator: %d", r.Status)
	}
	bad := f.do(t, req{method: "PUT", path: "/v1/permission-groups/auditor", role: "admin",
		body: map[string]any{"permissions": []string{"customers.view", "credentials.reveal"}}})
	if p := bad.problem(t); bad.Status != 422 || p.Code != "group-rule-violated" {
		t.Fatalf("auditor granted reveal: %d %+v", bad.Status, p)
	}
	unknown := f.do(t, req{method: "PUT", path: "/v1/permission-groups/field-leads", role: "admin",
		body: map[string]any{"permissions": []string{"credentials.peek"}}})
	if p := unknown.problem(t); unknown.Status != 400 || p.Errors[0].Field != "permissions" {
		t.Fatalf("unknown permission: %d %+v", unknown.Status, p)
	}
	saved := f.do(t, req{method: "PUT", path: "/v1/permission-groups/field-leads", role: "admin",
		body: map[string]any{"description": "Leads on site", "permissions": []string{"customers.view", "credentials.view", "credentials.reveal"}}})
	if saved.Status != 200 {
		t.Fatalf("save group: %d %s", saved.Status, saved.Body)
	}
	secret, _, err := auth.Issue(f.path, actor.Actor{ID: "u-lead", Name: "Lee", Role: mustRole(t, "field-leads")}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.tokens["field-leads"] = secret
	if r := f.do(t, req{method: "POST", path: "/v1/credentials/" + cred.ID + "/reveal", role: "field-leads"}); r.Status != 200 {
		t.Fatalf("reveal as field-leads: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, req{method: "POST", path: "/v1/customers/" + id + "/credentials", role: "field-leads", body: routerLogin}); r.Status != 403 {
		t.Fatalf("create as field-leads: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, req{method: "POST", path: "/v1/customers", role: "field-leads", body: person("No", "Body", "nobody@example.org")}); r.Status != 403 {
		t.Fatalf("register as field-leads: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, req{method: "DELETE", path: "/v1/permission-groups/technician", role: "admin"}); r.Status != 422 {
		t.Fatalf("remove a default group: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, req{method: "DELETE", path: "/v1/permission-groups/field-leads", role: "admin", header: map[string]string{"If-Match": `"1"`}}); r.Status != 204 {
		t.Fatalf("remove group: %d %s", r.Status, r.Body)
	}
	gone := f.do(t, req{method: "GET", path: "/v1/credentials/" + cred.ID, role: "field-leads"})
	if p := gone.problem(t); gone.Status != 403 || p.Code != "group-not-found" {
		t.Fatalf("a removed group's token: %d %+v", gone.Status, p)
	}
	if r := f.do(t, req{method: "DELETE", path: "/v1/permission-groups/field-leads", role: "admin"}); r.Status != 404 {
		t.Fatalf("remove twice: %d", r.Status)
	}
}

func mustRole(t *testing.T, name string) actor.Role {
	t.Helper()
	r, err := actor.ParseRole(name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func rawFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
