package integration

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/credential"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/projections"
)

// CustomerOfStream is the customer a customer or account stream belongs to
// ("" for other streams).
func CustomerOfStream(stream string) string {
	if id, ok := customer.Stream.ID(stream); ok {
		return id
	}
	id, _ := account.Stream.ID(stream)
	return id
}

// Owners finds the customer of each event read from the store: a
// credential's later events do not name it, so it is learnt from the
// creation or looked up once.
type Owners struct {
	App   *commands.App
	known map[string]string
}

// CustomerOf is the customer e is about.
func (o *Owners) CustomerOf(ctx context.Context, rec eventstore.RecordedEvent, e codec.Event) (string, error) {
	id, ok := credential.Stream.ID(rec.Stream)
	if !ok {
		return CustomerOfStream(rec.Stream), nil
	}
	if o.known == nil {
		o.known = map[string]string{}
	}
	if c, ok := e.(credential.Created); ok {
		o.known[id] = c.CustomerID
	}
	if cust, ok := o.known[id]; ok {
		return cust, nil
	}
	v, err := o.App.Credentials.Credential(ctx, commands.CredentialQuery{CredentialID: id})
	if err != nil {
		return "", err
	}
	o.known[id] = v.CustomerID()
	return o.known[id], nil
}

// Bound is one end of a range of the log: a position or a time.
type Bound struct {
	Position eventstore.Position
	Time     time.Time
}

// ParseBound reads a position ("1042/1042") or an RFC 3339 time.
func ParseBound(s string) (Bound, error) {
	if s == "" {
		return Bound{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return Bound{Time: t}, nil
	}
	p, err := eventstore.ParsePosition(s)
	if err != nil {
		return Bound{}, fmt.Errorf("%q is neither a position nor an RFC 3339 time", s)
	}
	return Bound{Position: p}, nil
}

// Republisher re-emits a range of the log through the bus, as the relay
// published it (same ids, so subscribers deduplicate what they had).
type Republisher struct {
	App       *commands.App
	Publisher message.Publisher
	Personal  bool
}

var errPastEnd = errors.New("past the end of the range")

// Republish publishes the events after from (a position: the last one a
// subscriber has; a time: those that occurred at or after it) up to to
// (inclusive; open: the end of the log now). It returns how many stored
// events it republished and the position of the last.
func (r Republisher) Republish(ctx context.Context, from, to Bound) (int, eventstore.Position, error) {
	until := to.Position
	if until.IsZero() { // open, or a time: no further than the log's end now
		last, err := r.App.LastPosition(ctx)
		if err != nil || last.IsZero() {
			return 0, last, err
		}
		until = last
	}
	owners := Owners{App: r.App}
	n := 0
	var last eventstore.Position
	err := r.App.Follow(ctx, from.Position, until, StoredTypes(), func(rec eventstore.RecordedEvent, e codec.Event, meta codec.Metadata) error {
		if !to.Time.IsZero() && meta.OccurredAt.After(to.Time) {
			return errPastEnd
		}
		if !from.Time.IsZero() && meta.OccurredAt.Before(from.Time) {
			return nil
		}
		cust, err := owners.CustomerOf(ctx, rec, e)
		if err != nil {
			return err
		}
		msgs, err := Translate(projections.Event{RecordedEvent: rec, Event: e, Meta: meta}, cust, r.Personal)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			wm, err := WatermillMessage(m)
			if err != nil {
				return err
			}
			if err := r.Publisher.Publish(m.Topic, wm); err != nil {
				return fmt.Errorf("republish to %s: %w", m.Topic, err)
			}
		}
		n, last = n+1, rec.Position
		return nil
	})
	if errors.Is(err, errPastEnd) {
		err = nil
	}
	return n, last, err
}
