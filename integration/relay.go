package integration

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/credential"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/projections"
)

// RelayName prefixes the relay's checkpoint identity, which names its bus.
const RelayName = "integration-relay-v1"

// Relay publishes the integration events of the log, in log order, through a
// watermill publisher. It runs as a projector on the shared reader: the
// runner commits its checkpoint only after Project returned, and Project
// returns only once the broker acknowledged every message of the batch (the
// Redis Streams and NATS JetStream publishers return after XADD and the
// JetStream ack), so a broker outage makes the batch fail and be retried, and
// nothing is skipped. Delivery is at least once: a retried batch publishes
// again what was acknowledged before the failure; subscribers deduplicate by
// the CloudEvents id (JetStream does it itself, by Nats-Msg-Id, within its
// duplicate window).
//
// A relay whose checkpoint is lost (a Redis emptied without persistence)
// publishes the log again from the start, as any read model rebuilds.
type Relay struct {
	Publisher message.Publisher
	// Bus names the publisher's kind (Channel, Redis, NATS). The checkpoint
	// is the bus's: a relay moved to another bus publishes the log to it from
	// the start, as a new subscriber of it expects.
	Bus string
	// Personal also publishes the Personal topic.
	Personal bool
}

// Name implements projections.Projector.
func (r Relay) Name() string {
	if r.Bus == "" {
		return RelayName + "-" + Channel
	}
	return RelayName + "-" + r.Bus
}

// EventTypes implements projections.Subscriber.
func (Relay) EventTypes() []string { return StoredTypes() }

// RebuildBatchSize implements projections.RebuildBatcher: a publish waits on
// the broker for each message, so a long batch gains nothing.
func (Relay) RebuildBatchSize() int { return 1024 }

// Project implements projections.Projector: it publishes and writes nothing
// but the credentials' customers, which later credential events need.
func (r Relay) Project(ctx context.Context, keys projections.Keys, rd redis.Cmdable, w redis.Pipeliner, batch []projections.Event) error {
	owners, err := credentialOwners(ctx, rd, keys, batch)
	if err != nil {
		return err
	}
	// Translating costs about a third of publishing: it runs a chunk ahead,
	// so the broker's round trips set the pace. Chunks keep the log's order.
	const chunk = 64
	type part struct {
		topic string
		msgs  []*message.Message
	}
	parts := make(chan []part, 4)
	errc := make(chan error, 1)
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(parts)
		for i := 0; i < len(batch); i += chunk {
			var out []part
			for _, e := range batch[i:min(i+chunk, len(batch))] {
				cust, ok := customerOf(e, owners)
				if !ok {
					continue
				}
				msgs, err := Translate(e, cust, r.Personal)
				if err != nil {
					errc <- err
					return
				}
				for _, m := range msgs {
					wm, err := WatermillMessage(m)
					if err != nil {
						errc <- err
						return
					}
					if n := len(out); n > 0 && out[n-1].topic == m.Topic {
						out[n-1].msgs = append(out[n-1].msgs, wm)
					} else {
						out = append(out, part{m.Topic, []*message.Message{wm}})
					}
				}
			}
			select {
			case parts <- out:
			case <-tctx.Done():
				return
			}
		}
	}()
	for ps := range parts {
		for _, p := range ps {
			if err := r.Publisher.Publish(p.topic, p.msgs...); err != nil {
				return fmt.Errorf("integration relay: publish to %s: %w", p.topic, err)
			}
		}
	}
	select {
	case err := <-errc:
		return err
	default:
	}
	if len(owners.added) > 0 {
		w.HSet(ctx, keys.Key("credentials"), owners.added)
	}
	return nil
}

// WatermillMessage carries a CloudEvent in structured mode: the payload is
// the whole event in JSON; the metadata repeats its id, type and partition
// key for routers that do not parse payloads.
func WatermillMessage(m Message) (*message.Message, error) {
	b, err := json.Marshal(m.Event)
	if err != nil {
		return nil, fmt.Errorf("integration: %s: %w", m.Event.Type(), err)
	}
	wm := message.NewMessage(m.Event.ID(), b)
	wm.Metadata.Set("ce_id", m.Event.ID())
	wm.Metadata.Set("ce_type", m.Event.Type())
	wm.Metadata.Set("partition_key", m.Event.Subject())
	wm.Metadata.Set("content_type", "application/cloudevents+json")
	return wm, nil
}

type owners struct {
	known map[string]string // credential id → customer id
	added map[string]any
}

// credentialOwners reads which customer each of the batch's credentials
// belongs to, and learns it from the batch's creations.
func credentialOwners(ctx context.Context, rd redis.Cmdable, keys projections.Keys, batch []projections.Event) (owners, error) {
	o := owners{known: map[string]string{}, added: map[string]any{}}
	var ask []string
	for _, e := range batch {
		id, ok := credential.Stream.ID(e.Stream)
		if !ok {
			continue
		}
		if c, ok := e.Event.(credential.Created); ok {
			o.known[id], o.added[id] = c.CustomerID, c.CustomerID
		} else if _, ok := o.known[id]; !ok {
			ask = append(ask, id)
		}
	}
	if len(ask) == 0 {
		return o, nil
	}
	vals, err := rd.HMGet(ctx, keys.Key("credentials"), ask...).Result()
	if err != nil {
		return o, fmt.Errorf("integration relay: %w", err)
	}
	for i, v := range vals {
		if s, ok := v.(string); ok {
			o.known[ask[i]] = s
		}
	}
	return o, nil
}

func customerOf(e projections.Event, o owners) (string, bool) {
	if id, ok := customer.Stream.ID(e.Stream); ok {
		return id, true
	}
	if id, ok := account.Stream.ID(e.Stream); ok {
		return id, true
	}
	if id, ok := credential.Stream.ID(e.Stream); ok {
		c, ok := o.known[id]
		return c, ok
	}
	return "", false
}
