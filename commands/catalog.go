package commands

import (
	"slices"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/credential"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/domain/event"
	"github.com/fieldservice/customer-service/domain/permission"
	"github.com/fieldservice/customer-service/domain/reservation"
)

// The catalogue of what the service stores: every event type and every kind of
// stream, each declared by the aggregate package that owns it. A new aggregate
// adds one line to each list.

// Events is the registry of every event type the service stores.
var Events = codec.NewRegistry(slices.Concat(
	customer.Events(),
	reservation.Events(),
	account.Events(),
	credential.Events(),
	permission.Events(),
)...)

// Streams lists every kind of stream the service writes.
var Streams = []event.Stream{
	customer.Stream,
	account.Stream,
	credential.Stream,
	credential.Index,
	permission.Stream,
	reservation.NumberStream,
	reservation.EmailStream,
	reservation.IdempotencyStream,
}

// StreamPrefixes are the prefixes of every kind of stream: what a store that
// holds other services' streams too filters its log by.
func StreamPrefixes() []string {
	out := make([]string, 0, len(Streams))
	for _, s := range Streams {
		out = append(out, s.Prefix())
	}
	return out
}
