// Package event holds what every aggregate's events share: the Event interface,
// the declaration of a stored event type with its schema version, and the
// declaration of a kind of stream. Each aggregate package declares its own event
// types and stream kinds with these; the application assembles the lists into the
// codec's registry and the store's stream prefixes, so a new aggregate is a few
// lines in its own package and one line in the application's catalogue.
//
// Like the rest of domain/, it is pure: no I/O, and besides the standard library
// only golang.org/x/text's code tables (ISO 4217 currencies, ISO 3166 regions).
package event

// Event is something that happened. It names its stored type, which is stable:
// renaming it breaks every stored event of that type.
type Event interface {
	EventType() string
}

// Type declares one stored event type: an example value (its Go type is what
// stored events of that name decode into) and the schema version written with
// new events of it.
type Type struct {
	Event         Event
	SchemaVersion int
}
