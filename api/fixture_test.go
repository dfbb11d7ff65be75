package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/api"
	"github.com/fieldservice/customer-service/api/auth"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/commands/commandstest"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/accessreport"
	"github.com/fieldservice/customer-service/projections/balances"
	"github.com/fieldservice/customer-service/projections/customerview"
	"github.com/fieldservice/customer-service/projections/projectionstest"
	"github.com/fieldservice/customer-service/projections/redistest"
	"github.com/fieldservice/customer-service/projections/search"
)

// fixture is the API over a test's own store, key file and redis-server, behind
// a real HTTP server. Every exchange is checked against the OpenAPI document.
type fixture struct {
	t        *testing.T
	url      string
	tokens   map[string]string // role → token
	path     string            // token file
	views    *projections.Runner
	accounts *projections.Runner
	access   *projections.Runner
	redis    *redistest.Server
	rdb      *redis.Client
	world    commandstest.World
	app      *commands.App
}

var (
	docOnce  sync.Once
	docCheck validator.Validator
	docErr   error
)

func openAPIValidator(t *testing.T) validator.Validator {
	t.Helper()
	docOnce.Do(func() {
		doc, err := libopenapi.NewDocument(api.OpenAPI)
		if err != nil {
			docErr = err
			return
		}
		v, errs := validator.NewValidator(doc)
		if len(errs) > 0 {
			docErr = errs[0]
			return
		}
		docCheck = v
	})
	if docErr != nil {
		t.Fatalf("openapi document: %v", docErr)
	}
	return docCheck
}

type option func(*api.Config)

func newFixture(t *testing.T, opts ...option) *fixture {
	t.Helper()
	w := commandstest.New(t)
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	views := projectionstest.Runner(t, w, rdb, customerview.Projector{}, 0)
	index := projectionstest.Runner(t, w, rdb, search.Projector{}, 0)
	accounts := projectionstest.Runner(t, w, rdb, balances.Projector{}, 0)
	projectionstest.Start(t, views)
	projectionstest.Start(t, index)
	projectionstest.Start(t, accounts)
	access := projectionstest.Runner(t, w, rdb, accessreport.Projector{}, 0)
	projectionstest.Start(t, access)

	f := &fixture{t: t, tokens: map[string]string{}, path: filepath.Join(t.TempDir(), "tokens.json"), views: views, accounts: accounts, access: access, redis: srv, rdb: rdb, world: w, app: w.App}
	for _, r := range []actor.Role{actor.Admin, actor.Coordinator, actor.Technician, actor.Auditor} {
		secret, _, err := auth.Issue(f.path, actor.Actor{ID: "u-" + r.String(), Name: r.String(), Role: r}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[r.String()] = secret
	}
	tokens, err := auth.Open(f.path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{App: w.App, Redis: rdb, Views: views, Search: index, Balances: accounts, Access: access, Tokens: tokens,
		MinPositionWait: 10 * time.Second, Logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&cfg)
	}
	h, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	f.url = hs.URL
	return f
}

// response is an answer, read whole.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("answer %d is not JSON: %v\n%s", r.Status, err, r.Body)
	}
}

func (r response) problem(t *testing.T) api.Problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json (status %d: %s)", ct, r.Status, r.Body)
	}
	var p api.Problem
	r.json(t, &p)
	return p
}

// req describes one request.
type req struct {
	method, path string
	role         string // "" sends no token
	body         any    // string: sent as is; else JSON-encoded
	header       map[string]string
}

// do sends r and checks the exchange against the OpenAPI document: every answer
// must match it, and every request the server accepted (2xx) must too.
func (f *fixture) do(t *testing.T, r req) response {
	t.Helper()
	var body []byte
	switch b := r.body.(type) {
	case nil:
	case string:
		body = []byte(b)
	default:
		body, _ = json.Marshal(b)
	}
	hr, err := http.NewRequest(r.method, f.url+r.path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.role != "" {
		hr.Header.Set("Authorization", "Bearer "+f.tokens[r.role])
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := response{Status: resp.StatusCode, Header: resp.Header, Body: got}
	f.checkContract(t, hr, body, out)
	return out
}

func (f *fixture) checkContract(t *testing.T, hr *http.Request, body []byte, out response) {
	t.Helper()
	v := openAPIValidator(t)
	// The validator matches paths against the document's server URL.
	hr.URL.Scheme, hr.URL.Host, hr.Host = "http", "127.0.0.1:8080", "127.0.0.1:8080"
	resp := &http.Response{StatusCode: out.Status, Header: out.Header, Body: io.NopCloser(bytes.NewReader(out.Body)), Request: hr}
	hr.Body = io.NopCloser(bytes.NewReader(body))
	if ok, errs := v.ValidateHttpResponse(hr, resp); !ok {
		t.Errorf("%s %s → %d does not match the OpenAPI document: %s\n%s", hr.Method, hr.URL.Path, out.Status, describe(errs), out.Body)
	}
	if out.Status < 300 {
		hr.Body = io.NopCloser(bytes.NewReader(body))
		if ok, errs := v.ValidateHttpRequest(hr); !ok {
			t.Errorf("%s %s was accepted (%d) but the OpenAPI document refuses it: %s", hr.Method, hr.URL.Path, out.Status, describe(errs))
		}
	}
}

func describe[E interface{ Error() string }](errs []E) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("\n  - " + e.Error())
	}
	return b.String()
}

// register registers a customer as a coordinator and returns the write's answer.
func (f *fixture) register(t *testing.T, details map[string]any) written {
	t.Helper()
	r := f.do(t, req{method: "POST", path: "/v1/customers", role: "coordinator", body: details})
	if r.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	var w written
	r.json(t, &w)
	return w
}

type written struct {
	ID       string `json:"id"`
	Number   int64  `json:"number"`
	Version  uint64 `json:"version"`
	Position string `json:"position"`
}

func person(first, last, email string) map[string]any {
	return map[string]any{"kind": "person", "first_name": first, "last_name": last, "email": email,
		"phones":    []map[string]any{{"number": "(555) 013-4567", "type": "mobile"}},
		"addresses": []map[string]any{{"type": "service", "street": "12 Baker Street", "city": "Springfield"}}}
}
