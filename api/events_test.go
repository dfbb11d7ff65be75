package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/fieldservice/customer-service/api"
	"github.com/fieldservice/customer-service/integration"
)

type sseEvent struct {
	id, typ string
	data    map[string]any
}

// stream opens the event stream as role and returns its events as they come.
func (f *fixture) stream(t *testing.T, role, query, lastID string) (<-chan sseEvent, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // before the server's Close, which waits for open streams
	req, _ := http.NewRequestWithContext(ctx, "GET", f.url+"/v1/events/stream"+query, nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens[role])
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan sseEvent, 100)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var e sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				e.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				e.typ = line[7:]
			case strings.HasPrefix(line, "data: "):
				var ce map[string]any
				if err := json.Unmarshal([]byte(line[6:]), &ce); err == nil {
					e.data, _ = ce["data"].(map[string]any)
				}
			case line == "" && e.id != "":
				out <- e
				e = sseEvent{}
			}
		}
	}()
	return out, cancel
}

func next(t *testing.T, events <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case e, ok := <-events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return e
	case <-time.After(20 * time.Second):
		t.Fatal("no event within 20 s")
	}
	return sseEvent{}
}

func TestEventStreamFollowsAndResumes(t *testing.T) {
	f := newFixture(t)
	var ids []string
	for _, name := range []string{"Abel", "Beth", "Cato"} {
		ids = append(ids, f.register(t, person(name, "Streamer", strings.ToLower(name)+"@stream.example")).ID)
	}
	if r := f.do(t, req{method: "GET", path: "/v1/events/stream", role: "technician"}); r.Status != 403 {
		t.Fatalf("stream as technician: %d", r.Status)
	}
	if r := f.do(t, req{method: "GET", path: "/v1/events/stream", role: "admin", header: map[string]string{"Last-Event-ID": "nope"}}); r.Status != 400 {
		t.Fatalf("a bad Last-Event-ID: %d", r.Status)
	}
	events, stop := f.stream(t, "admin", "", "")
	var seen []sseEvent
	for len(seen) < 3 {
		seen = append(seen, next(t, events))
	}
	for i, e := range seen {
		if e.typ != "customer.registered.v1" || e.data["customer_id"] != ids[i] || e.data["last_name"] != nil {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
	// Live: a new registration arrives on the open stream.
	later := f.register(t, person("Dora", "Streamer", "dora@stream.example")).ID
	if e := next(t, events); e.data["customer_id"] != later {
		t.Fatalf("live event: %+v", e)
	}
	stop()
	// Resume after the first: the second comes next.
	events, stop = f.stream(t, "admin", "", seen[0].id)
	defer stop()
	if e := next(t, events); e.id != seen[1].id || e.data["customer_id"] != ids[1] {
		t.Fatalf("resumed at %+v, want %s", e, seen[1].id)
	}
	// The personal topic carries the names; admins hold events.personal.
	personal, stopP := f.stream(t, "admin", "?topic=personal", "")
	defer stopP()
	if e := next(t, personal); e.data["last_name"] != "Streamer" || e.data["customer_id"] != ids[0] {
		t.Fatalf("personal: %+v", e)
	}
}

func TestRepublishReemitsARange(t *testing.T) {
	bus, err := integration.NewBus(integration.BusConfig{Kind: integration.Channel})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close() })
	f := newFixture(t, func(c *api.Config) {
		c.Republisher = &integration.Republisher{App: c.App, Publisher: bus}
	})
	msgs, err := bus.Subscriber.Subscribe(context.Background(), integration.Public)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []*message.Message
	go func() {
		for m := range msgs {
			mu.Lock()
			got = append(got, m)
			mu.Unlock()
			m.Ack()
		}
	}()
	first := f.register(t, person("Ezra", "Again", "ezra@again.example"))
	f.register(t, person("Fay", "Again", "fay@again.example"))
	f.register(t, person("Gil", "Again", "gil@again.example"))
	r := f.do(t, req{method: "POST", path: "/v1/events/republish", role: "admin", body: map[string]any{"from": first.Position}})
	var body struct {
		Published    int    `json:"published"`
		LastPosition string `json:"last_position"`
	}
	r.json(t, &body)
	if r.Status != 200 || body.Published != 2 {
		t.Fatalf("republish: %d %s", r.Status, r.Body)
	}
	// The in-process bus hands messages over asynchronously.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 2 {
			break
		}
		if n > 2 || time.Now().After(deadline) {
			t.Fatalf("%d messages on the bus, want 2", n)
		}
	}
	if r := f.do(t, req{method: "POST", path: "/v1/events/republish", role: "coordinator", body: map[string]any{"from": first.Position}}); r.Status != 403 {
		t.Fatalf("republish as coordinator: %d", r.Status)
	}
	if r := f.do(t, req{method: "POST", path: "/v1/events/republish", role: "admin", body: map[string]any{"from": "yesterday"}}); r.Status != 400 {
		t.Fatalf("a bad from: %d", r.Status)
	}
	all := f.do(t, req{method: "POST", path: "/v1/events/republish", role: "admin", body: map[string]any{"from": "2000-01-01T00:00:00Z"}})
	all.json(t, &body)
	if all.Status != 200 || body.Published != 3 {
		t.Fatalf("republish since a time: %d %s", all.Status, all.Body)
	}
	if r := f.do(t, req{method: "GET", path: "/asyncapi.json"}); r.Status != 200 || !strings.Contains(string(r.Body), `"asyncapi": "3.0.0"`) {
		t.Fatalf("asyncapi.json: %d", r.Status)
	}
}
