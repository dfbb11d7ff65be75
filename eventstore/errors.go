package eventstore

import (
	"errors"
	"fmt"
)

var (
	// ErrWrongVersion means the stream was not at the version the append expected:
	// another writer got there first. Callers reload and decide again, or report a
	// conflict; they never retry blindly.
	ErrWrongVersion = errors.New("wrong expected version")
	// ErrStreamNotFound means the stream has no events.
	ErrStreamNotFound = errors.New("stream not found")
	// ErrInvalidEvent means an append was refused for its content (missing id,
	// type or data, a bad stream name, an unset expected version).
	ErrInvalidEvent = errors.New("invalid event")
	// ErrDuplicateEventID means an event id is already used by a different event.
	ErrDuplicateEventID = errors.New("event id already used")
	// ErrUnavailable means the store cannot serve the request now (closed, unreachable).
	ErrUnavailable = errors.New("event store unavailable")
)

// Error describes a failed store operation on a stream. It wraps one of the
// sentinel errors above (or a lower-level cause) so callers test it with errors.Is
// and read its fields with errors.As.
type Error struct {
	Op       string // "append", "read stream", …
	Stream   string
	Expected ExpectedVersion // set for appends
	Actual   uint64          // the stream's version when the operation failed
	Err      error
}

func (e *Error) Error() string {
	if errors.Is(e.Err, ErrWrongVersion) {
		return fmt.Sprintf("%s %s: %v: expected %s, stream is at version %d", e.Op, e.Stream, e.Err, e.Expected, e.Actual)
	}
	return fmt.Sprintf("%s %s: %v", e.Op, e.Stream, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }
