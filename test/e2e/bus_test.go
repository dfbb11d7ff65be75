package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/integration"
)

// customerd --bus redis publishes every customer's integration events to a
// Redis stream as they happen; customerctl republish re-emits a range of them,
// with their ids.
func TestBusAndRepublish(t *testing.T) {
	s := startServer(t, false, "--bus", "redis")
	rdb := redis.NewClient(&redis.Options{Addr: s.redis.Addr})
	defer rdb.Close()
	var writes []write
	for _, name := range []string{"Ines", "Jude", "Kofi"} {
		writes = append(writes, s.register(t, person(name, "Bus", strings.ToLower(name)+"@bus.example")))
	}
	stream := func() []redis.XMessage {
		msgs, err := rdb.XRange(context.Background(), integration.Public, "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		return msgs
	}
	eventually(t, 20*time.Second, "three events on the stream", func() bool { return len(stream()) == 3 })
	var first map[string]any
	if err := json.Unmarshal([]byte(stream()[0].Values["payload"].(string)), &first); err != nil {
		t.Fatal(err)
	}
	if first["type"] != "customer.registered.v1" || first["subject"] != writes[0].ID {
		t.Fatalf("first message: %v", first)
	}

	out := s.ctl(t, "republish", "--url="+s.url, "--from="+writes[0].Position)
	if !strings.Contains(out, "republished 2 events") {
		t.Fatalf("customerctl republish: %q", out)
	}
	msgs := stream()
	if len(msgs) != 5 {
		t.Fatalf("%d messages after the republish, want 5", len(msgs))
	}
	for i, m := range msgs[3:] {
		var e map[string]any
		_ = json.Unmarshal([]byte(m.Values["payload"].(string)), &e)
		var orig map[string]any
		_ = json.Unmarshal([]byte(msgs[1+i].Values["payload"].(string)), &orig)
		if e["id"] != orig["id"] {
			t.Fatalf("republished %v, first published %v", e["id"], orig["id"])
		}
	}
}
