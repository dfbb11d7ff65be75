package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/commands/commandstest"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/integration"
	"github.com/fieldservice/customer-service/projections/projectionstest"
	"github.com/fieldservice/customer-service/projections/redistest"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// start runs leadreport until the returned stop is called.
func start(t *testing.T, redisAddr, state string) (url string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--bus", "redis", "--redis", "redis://" + redisAddr, "--addr", "127.0.0.1:0", "--state", state},
			slog.New(slog.DiscardHandler), listening)
	}()
	select {
	case addr := <-listening:
		return "http://" + addr, func() { cancel(); <-done }
	case err := <-done:
		t.Fatalf("leadreport: %v", err)
	}
	return "", nil
}

func origins(t *testing.T, url string) map[string]int {
	t.Helper()
	resp, err := http.Get(url + "/reports/origins")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Items []struct {
			Origin    string `json:"origin"`
			Customers int    `json:"customers"`
		} `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, it := range body.Items {
		out[it.Origin] += it.Customers
	}
	return out
}

// caughtUp: the consumer group has read and acknowledged the whole stream.
func caughtUp(t *testing.T, rdb *redis.Client) bool {
	groups, err := rdb.XInfoGroups(context.Background(), integration.Public).Result()
	return err == nil && len(groups) == 1 && groups[0].Lag == 0 && groups[0].Pending == 0
}

func TestLeadReportFromTheStream(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	w := commandstest.New(t)
	bus, err := integration.NewBus(integration.BusConfig{Kind: integration.Redis, Redis: rdb})
	if err != nil {
		t.Fatal(err)
	}
	relay := projectionstest.Runner(t, w, rdb, integration.Relay{Publisher: bus}, 0)
	projectionstest.Start(t, relay)
	ctx := context.Background()
	register := func(i int, source string) commands.Result {
		r, err := w.App.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: commandstest.Coordinator, Details: customer.Details{
			Kind: customer.Company, BusinessName: fmt.Sprintf("Lead %d", i), Email: fmt.Sprintf("lead%d@example.org", i),
			Source: source, Salesperson: "sam"}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	register(1, "referral")
	register(2, "referral")
	moved := register(3, "web")
	register(4, "")
	web2referral := "referral"
	last, err := w.App.UpdateCustomer.Handle(ctx, commands.UpdateCustomer{Meta: commandstest.Coordinator, CustomerID: moved.CustomerID,
		Patch: customer.Patch{Source: &web2referral}})
	if err != nil {
		t.Fatal(err)
	}
	projectionstest.Sync(t, relay, last.Position)

	state := filepath.Join(t.TempDir(), "leadreport.json")
	url, stop := start(t, srv.Addr, state)
	want := map[string]int{"referral": 3, "(none)": 1}
	waitFor(t, "the report", func() bool { return fmt.Sprint(origins(t, url)) == fmt.Sprint(want) })

	// Everything again (a republish): nothing counts twice.
	n, _, err := integration.Republisher{App: w.App, Publisher: bus}.Republish(ctx, integration.Bound{}, integration.Bound{})
	if err != nil || n != 5 {
		t.Fatalf("republish: %d %v", n, err)
	}
	waitFor(t, "the duplicates consumed", func() bool { return caughtUp(t, rdb) })
	if got := origins(t, url); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after duplicates: %v, want %v", got, want)
	}

	// A restart resumes from the group's place and the saved state.
	stop()
	register(5, "web")
	url, stop = start(t, srv.Addr, state)
	defer stop()
	want["web"] = 1
	waitFor(t, "the new customer after a restart", func() bool { return fmt.Sprint(origins(t, url)) == fmt.Sprint(want) })

	resp, err := http.Get(url + "/reports/salespersons?format=csv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	csv, _ := io.ReadAll(resp.Body)
	month := time.Now().UTC().Format("2006-01")
	if !strings.Contains(string(csv), "month,salesperson,customers\n"+month+",sam,5\n") {
		t.Fatalf("salespersons CSV: %q", csv)
	}
}
