// Command leadreport is the first subscriber of the integration events, and
// the example of how another team subscribes: it consumes the public topic
// with a consumer group (Redis Streams) or a durable consumer (NATS
// JetStream), from the beginning the first time, idempotently, and keeps the
// origin (lead source) and salesperson reports: customers won per month,
// served as JSON and CSV.
//
//	go run ./cmd/leadreport --bus redis --redis redis://127.0.0.1:6379/0
//	curl http://127.0.0.1:8090/reports/origins
//	curl -H 'Accept: text/csv' http://127.0.0.1:8090/reports/salespersons
//
// Its state (the counts, and per customer the last event applied) is saved
// to --state after every batch, so a restart neither loses nor counts twice.
package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/cloudevents/sdk-go/v2/event"
	nc "github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/integration"
	"github.com/fieldservice/customer-service/internal/durable"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], log, nil); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("leadreport stopped", "error", err)
		os.Exit(1)
	}
}

type options struct {
	bus, redisURL, natsURL, group, addr, state string
}

// run subscribes and serves until ctx ends. listening, when set, receives
// the HTTP address once it listens.
func run(ctx context.Context, args []string, log *slog.Logger, listening chan<- string) error {
	var o options
	fs := flag.NewFlagSet("leadreport", flag.ContinueOnError)
	fs.StringVar(&o.bus, "bus", "redis", "redis or nats: where customerd publishes (its --bus)")
	fs.StringVar(&o.redisURL, "redis", "redis://127.0.0.1:6379/0", "Redis URL, for --bus redis")
	fs.StringVar(&o.natsURL, "nats-url", "nats://127.0.0.1:4222", "NATS URL, for --bus nats")
	fs.StringVar(&o.group, "group", "leadreport", "consumer group (Redis) or durable consumer (NATS): where the bus keeps this subscriber's place")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8090", "address to serve the reports on")
	fs.StringVar(&o.state, "state", "leadreport.json", "file the report is saved to and read back from")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rep, err := load(o.state)
	if err != nil {
		return err
	}
	sub, err := subscriber(o)
	if err != nil {
		return err
	}
	defer sub.Close()
	msgs, err := sub.Subscribe(ctx, integration.Public)
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", integration.Public, err)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler(rep), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	log.Info("leadreport serving", "addr", ln.Addr().String(), "bus", o.bus, "group", o.group)
	if listening != nil {
		listening <- ln.Addr().String()
	}
	for m := range msgs {
		var e event.Event
		if err := json.Unmarshal(m.Payload, &e); err != nil {
			log.Error("not a CloudEvent: dropped", "message", m.UUID, "error", err)
			m.Ack()
			continue
		}
		fresh, err := rep.apply(e)
		if err != nil {
			log.Error("event not applied: dropped", "id", e.ID(), "error", err)
		}
		if fresh {
			if err := save(o.state, rep); err != nil {
				// Not saved, so not acknowledged: stop, and the bus hands it
				// again after a restart, to a state that never had it.
				m.Nack()
				return fmt.Errorf("save the report: %w", err)
			}
		}
		m.Ack()
	}
	return ctx.Err()
}

func subscriber(o options) (message.Subscriber, error) {
	logger := watermill.NopLogger{}
	switch o.bus {
	case "redis":
		opt, err := redis.ParseURL(o.redisURL)
		if err != nil {
			return nil, fmt.Errorf("--redis: %w", err)
		}
		return redisstream.NewSubscriber(redisstream.SubscriberConfig{Client: redis.NewClient(opt), ConsumerGroup: o.group,
			Consumer: o.group + "-1", OldestId: "0"}, logger)
	case "nats":
		return wmnats.NewSubscriber(wmnats.SubscriberConfig{URL: o.natsURL, QueueGroupPrefix: o.group,
			NatsOptions: []nc.Option{nc.MaxReconnects(-1), nc.RetryOnFailedConnect(true)},
			Unmarshaler: &wmnats.NATSMarshaler{},
			JetStream: wmnats.JetStreamConfig{AutoProvision: true, DurablePrefix: o.group,
				SubscribeOptions: []nc.SubOpt{nc.DeliverAll(), nc.AckExplicit()}}}, logger)
	}
	return nil, fmt.Errorf("--bus: %q is not redis or nats", o.bus)
}

func load(path string) (*report, error) {
	rep := newReport()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return rep, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, rep); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rep, nil
}

func save(path string, rep *report) error {
	b, err := rep.marshal()
	if err != nil {
		return err
	}
	return durable.WriteFile(path, b)
}

// handler serves /reports/origins and /reports/salespersons, JSON or CSV.
func handler(rep *report) http.Handler {
	mux := http.NewServeMux()
	serve := func(by func(*won) string, name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			rows := rep.rows(by)
			if strings.Contains(r.Header.Get("Accept"), "text/csv") || r.URL.Query().Get("format") == "csv" {
				w.Header().Set("Content-Type", "text/csv; charset=utf-8")
				cw := csv.NewWriter(w)
				_ = cw.Write([]string{"month", name, "customers"})
				for _, x := range rows {
					_ = cw.Write([]string{x.Month, x.Key, strconv.Itoa(x.Customers)})
				}
				cw.Flush()
				return
			}
			out := make([]map[string]any, len(rows))
			for i, x := range rows {
				out[i] = map[string]any{"month": x.Month, name: x.Key, "customers": x.Customers}
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"items": out})
		}
	}
	mux.HandleFunc("GET /reports/origins", serve(func(w *won) string { return w.Origin }, "origin"))
	mux.HandleFunc("GET /reports/salespersons", serve(func(w *won) string { return w.Salesperson }, "salesperson"))
	return mux
}
