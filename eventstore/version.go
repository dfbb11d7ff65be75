package eventstore

import "fmt"

// ExpectedVersion is what an append expects of its stream. It is a closed set of
// values built by Any, NoStream, StreamExists and Exact; the zero value is invalid,
// so every append states its expectation explicitly (there is no default).
type ExpectedVersion struct {
	kind    expectKind
	version uint64
}

type expectKind uint8

const (
	expectUnset expectKind = iota
	expectAny
	expectNoStream
	expectStreamExists
	expectExact
)

// Any appends whatever the stream's state.
func Any() ExpectedVersion { return ExpectedVersion{kind: expectAny} }

// NoStream appends only if the stream has no events yet.
func NoStream() ExpectedVersion { return ExpectedVersion{kind: expectNoStream} }

// StreamExists appends only if the stream has at least one event.
func StreamExists() ExpectedVersion { return ExpectedVersion{kind: expectStreamExists} }

// Exact appends only if the stream's last event has version v. Exact(0) is NoStream.
func Exact(v uint64) ExpectedVersion {
	if v == 0 {
		return NoStream()
	}
	return ExpectedVersion{kind: expectExact, version: v}
}

// IsValid reports whether e was built by one of the constructors.
func (e ExpectedVersion) IsValid() bool { return e.kind != expectUnset }

// Version returns the exact version expected (0 for NoStream) and whether the
// expectation names one.
func (e ExpectedVersion) Version() (uint64, bool) {
	switch e.kind {
	case expectExact:
		return e.version, true
	case expectNoStream:
		return 0, true
	}
	return 0, false
}

// IsAny reports whether e is Any.
func (e ExpectedVersion) IsAny() bool { return e.kind == expectAny }

// IsStreamExists reports whether e is StreamExists.
func (e ExpectedVersion) IsStreamExists() bool { return e.kind == expectStreamExists }

// Allows reports whether a stream at version current satisfies e.
func (e ExpectedVersion) Allows(current uint64) bool {
	switch e.kind {
	case expectAny:
		return true
	case expectNoStream:
		return current == 0
	case expectStreamExists:
		return current > 0
	case expectExact:
		return current == e.version
	}
	return false
}

func (e ExpectedVersion) String() string {
	switch e.kind {
	case expectAny:
		return "any"
	case expectNoStream:
		return "no stream"
	case expectStreamExists:
		return "stream exists"
	case expectExact:
		return fmt.Sprintf("version %d", e.version)
	}
	return "unset"
}
