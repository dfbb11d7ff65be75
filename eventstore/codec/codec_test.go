package codec_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/eventstore/codec"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	zone := "North"
	events := []codec.Event{
		customer.Registered{CustomerID: "c-1", Number: 3, Details: customer.Details{Kind: customer.Company, BusinessName: "Acme",
			Phones: []customer.Phone{{Number: "+15550100", Type: customer.Fax, Primary: true}}, TaxRate: 88_750}},
		customer.DetailsChanged{Changes: customer.Patch{ServiceZone: &zone}},
		customer.Archived{Reason: "closed"},
	}
	meta := codec.Metadata{OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)),
		Actor: actor.Actor{ID: "u", Name: "N", Role: actor.Admin}, CorrelationID: "c", CausationID: "k"}
	for _, e := range events {
		data, err := codec.Events.Encode(e, meta)
		if err != nil {
			t.Fatal(err)
		}
		if data.Type != e.EventType() || data.ID.Version() != 7 {
			t.Fatalf("encoded %s as type %s with a v%d id", e.EventType(), data.Type, data.ID.Version())
		}
		if strings.Contains(string(data.Data), "BusinessName") {
			t.Fatalf("payload field names must be snake_case: %s", data.Data)
		}
		got, gotMeta, err := codec.Events.Decode(eventstore.RecordedEvent{Type: data.Type, Data: data.Data, Metadata: data.Metadata})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip of %s: %#v, want %#v", e.EventType(), got, e)
		}
		want := meta
		want.OccurredAt, want.SchemaVersion = meta.OccurredAt.UTC(), 1
		if !reflect.DeepEqual(gotMeta, want) {
			t.Fatalf("metadata %+v, want %+v", gotMeta, want)
		}
	}
}

func TestUnknownTypesAreErrors(t *testing.T) {
	t.Parallel()
	if _, _, err := codec.Events.Decode(eventstore.RecordedEvent{Type: "CustomerTeleported", Data: []byte("{}")}); err == nil {
		t.Fatal("decoding an unregistered type succeeded")
	}
	small := codec.NewRegistry(codec.Registration{Event: customer.Archived{}, SchemaVersion: 1})
	if _, err := small.Encode(customer.Reenabled{}, codec.Metadata{}); err == nil {
		t.Fatal("encoding an unregistered type succeeded")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("registering a type twice did not panic")
		}
	}()
	codec.NewRegistry(codec.Registration{Event: customer.Archived{}, SchemaVersion: 1}, codec.Registration{Event: customer.Archived{}, SchemaVersion: 2})
}
