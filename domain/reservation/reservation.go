// Package reservation holds the events of the service's claims on unique things:
// a primary email (one customer each), the next customer number, an idempotency
// key. Each claim is a stream of its own, so the event store's optimistic
// concurrency decides races between claimants, and claims survive restarts.
package reservation

import "github.com/fieldservice/customer-service/domain/event"

// The kinds of reservation stream. Email and idempotency streams are named by a
// keyed hash (32 hex digits) of what they reserve, never by the value itself.
var (
	EmailStream       = event.ByID("email-", "email reservation", event.HexDigest(32))
	NumberStream      = event.Single("customer-numbers", "customer numbers")
	IdempotencyStream = event.ByID("idempotency-", "idempotency key", event.HexDigest(32))
)

// Events declares every event type of the reservation streams with its schema
// version.
func Events() []event.Type {
	return []event.Type{
		{Event: EmailReserved{}, SchemaVersion: 1},
		{Event: EmailReleased{}, SchemaVersion: 1},
		{Event: NumberAssigned{}, SchemaVersion: 1},
		{Event: CommandClaimed{}, SchemaVersion: 1},
		{Event: CommandCompleted{}, SchemaVersion: 1},
		{Event: CommandFailed{}, SchemaVersion: 1},
	}
}

// The stored type names.
const (
	TypeEmailReserved  = "EmailReserved"
	TypeEmailReleased  = "EmailReleased"
	TypeNumberAssigned = "CustomerNumberAssigned"
	TypeCommandClaimed = "IdempotencyKeyClaimed"
	TypeCommandDone    = "IdempotentCommandCompleted"
	TypeCommandFailed  = "IdempotentCommandFailed"
)

// EmailReserved gives an email (named only by its keyed hash, the stream's name) to
// a customer.
type EmailReserved struct {
	CustomerID string `json:"customer_id"`
}

// EmailReleased frees an email the customer no longer uses.
type EmailReleased struct {
	CustomerID string `json:"customer_id"`
}

// NumberAssigned hands the next customer number to a customer. The stream's version
// is the number, so two claimants of one number cannot both succeed.
type NumberAssigned struct {
	CustomerID string `json:"customer_id"`
	Number     int64  `json:"number"`
}

// CommandClaimed marks an idempotency key as taken by a request (by its hash).
type CommandClaimed struct {
	RequestHash string `json:"request_hash"`
	Command     string `json:"command"`
	// CustomerID is the customer the command acts on (for a registration, the id it
	// chose), so a retry after a crash acts on the same one.
	CustomerID string `json:"customer_id"`
}

// CommandCompleted stores the result a retry with the same key gets.
type CommandCompleted struct {
	CustomerID string `json:"customer_id"`
	Number     int64  `json:"number"`
	Version    uint64 `json:"version"`
	Position   string `json:"position"`
}

// CommandFailed frees the key after the command failed, so it can be retried.
type CommandFailed struct {
	Reason string `json:"reason"`
}

func (EmailReserved) EventType() string    { return TypeEmailReserved }
func (EmailReleased) EventType() string    { return TypeEmailReleased }
func (NumberAssigned) EventType() string   { return TypeNumberAssigned }
func (CommandClaimed) EventType() string   { return TypeCommandClaimed }
func (CommandCompleted) EventType() string { return TypeCommandDone }
func (CommandFailed) EventType() string    { return TypeCommandFailed }
