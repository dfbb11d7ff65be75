package commands

import (
	"errors"
	"fmt"
)

// Errors of the application layer. Domain errors (customer.ErrInvalid, …) pass
// through unchanged; callers match both with errors.Is / errors.As.
var (
	ErrCustomerNotFound = errors.New("customer not found")
	// ErrStaleVersion: the caller edited an older version than the current one (HTTP 412).
	ErrStaleVersion = errors.New("customer changed since it was read")
	// ErrConflict: another write to the same record won a race (HTTP 409); reload and retry.
	ErrConflict = errors.New("concurrent write conflict")
	// ErrEmailTaken: the primary email belongs to another customer (HTTP 409).
	ErrEmailTaken = errors.New("email already used by another customer")
	// ErrIdempotencyKeyReused: the key was used for a different request (HTTP 422).
	ErrIdempotencyKeyReused = errors.New("idempotency key reused with a different request")
	// ErrIdempotencyInProgress: a request with this key is still running elsewhere (HTTP 409).
	ErrIdempotencyInProgress = errors.New("a request with this idempotency key is in progress")
	// ErrBalanceNotZero: the customer's account still has money open or in
	// store credit, so it cannot be erased yet (HTTP 409).
	ErrBalanceNotZero = errors.New("the account's balance is not zero")
	// ErrForbidden: the actor's role may not run this command (HTTP 403).
	ErrForbidden = errors.New("not allowed for this role")
)

// StaleVersionError says which version the caller had and which is current.
type StaleVersionError struct {
	// Record is what changed: "customer" when empty, or "account of customer".
	Record           string
	CustomerID       string
	Expected, Actual uint64
}

func (e *StaleVersionError) Error() string {
	record := e.Record
	if record == "" {
		record = "customer"
	}
	return fmt.Sprintf("%s %s is at version %d, the edit was made on version %d", record, e.CustomerID, e.Actual, e.Expected)
}

func (e *StaleVersionError) Unwrap() error { return ErrStaleVersion }

// EmailTakenError names the customer that owns the email. The email itself is not
// repeated: error texts end up in logs, which must hold no personal data.
type EmailTakenError struct {
	OwnerID string
}

func (e *EmailTakenError) Error() string {
	return fmt.Sprintf("%v: owned by customer %s", ErrEmailTaken, e.OwnerID)
}

func (e *EmailTakenError) Unwrap() error { return ErrEmailTaken }

// BalanceNotZeroError says what is left on the account of a customer that
// cannot be erased yet.
type BalanceNotZeroError struct {
	CustomerID        string
	Currency          string
	Open, StoreCredit int64
}

func (e *BalanceNotZeroError) Error() string {
	return fmt.Sprintf("customer %s: %v: %d %s open, %d in store credit", e.CustomerID, ErrBalanceNotZero, e.Open, e.Currency, e.StoreCredit)
}

func (e *BalanceNotZeroError) Unwrap() error { return ErrBalanceNotZero }
