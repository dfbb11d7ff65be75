// Package storetest is the contract suite every eventstore.Store adapter must pass.
// An adapter's test calls Run with a Harness that builds stores; each case runs in
// parallel on streams of its own, so the suite also works against one shared server.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/eventstore"
)

// Harness tells the suite how to get stores from the adapter under test.
type Harness struct {
	// New returns an open store. Required. The adapter's test closes it (t.Cleanup).
	// Stores may be shared between cases: every case uses streams of its own.
	New func(t *testing.T) eventstore.Store
	// Reopen closes s and opens the same storage again. Nil skips the durability case.
	Reopen func(t *testing.T, s eventstore.Store) eventstore.Store
}

// Run runs every contract case against the harness's stores.
func Run(t *testing.T, h Harness) {
	if h.New == nil {
		t.Fatal("storetest: Harness.New is required")
	}
	cases := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"AppendThenReadStream", testAppendThenReadStream},
		{"ExpectedVersions", testExpectedVersions},
		{"UnsetExpectationIsRefused", testUnsetExpectation},
		{"InvalidEventsAreRefused", testInvalidEvents},
		{"RetriedAppendIsIdempotent", testIdempotentRetry},
		{"PartlyRetriedAppendConflicts", testPartialRetry},
		{"ReadStreamDirectionsAndLimits", testReadStreamOptions},
		{"MissingStreamIsNotFound", testMissingStream},
		{"GlobalLogIsOrdered", testGlobalLogOrder},
		{"AppendPositionIsLastEvent", testAppendPosition},
		{"SubscribeCatchesUpThenFollows", testSubscribeHandover},
		{"SubscribeIsExclusiveOfItsStart", testSubscribeExclusive},
		{"SubscribeStopsOnCancel", testSubscribeCancel},
		{"ConcurrentWritersOneWinnerPerVersion", testConcurrentWriters},
		{"ReopenKeepsEverything", testReopen},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, h)
		})
	}
}

func newStream(prefix string) string { return prefix + "-" + uuid.NewString() }

func newEvents(n int, typ string) []eventstore.EventData {
	es := make([]eventstore.EventData, n)
	for i := range es {
		es[i] = eventstore.EventData{
			ID:       uuid.Must(uuid.NewV7()),
			Type:     typ,
			Data:     fmt.Appendf(nil, `{"n":%d}`, i),
			Metadata: []byte(`{"actor":"storetest"}`),
		}
	}
	return es
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustAppend(t *testing.T, s eventstore.Store, stream string, exp eventstore.ExpectedVersion, es ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(ctxFor(t), stream, exp, es...)
	if err != nil {
		t.Fatalf("append to %s (expecting %s): %v", stream, exp, err)
	}
	return res
}

func readStream(t *testing.T, s eventstore.Store, stream string, opts eventstore.ReadOptions) []eventstore.RecordedEvent {
	t.Helper()
	var out []eventstore.RecordedEvent
	for e, err := range s.ReadStream(ctxFor(t), stream, opts) {
		if err != nil {
			t.Fatalf("read %s: %v", stream, err)
		}
		out = append(out, e)
	}
	return out
}

// wantWrongVersion checks that err is a version conflict reporting actual.
func wantWrongVersion(t *testing.T, err error, stream string, actual uint64) {
	t.Helper()
	if !errors.Is(err, eventstore.ErrWrongVersion) {
		t.Fatalf("got %v, want ErrWrongVersion", err)
	}
	var se *eventstore.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not an *eventstore.Error", err)
	}
	if se.Stream != stream || se.Actual != actual {
		t.Fatalf("conflict reports stream %q at %d, want %q at %d", se.Stream, se.Actual, stream, actual)
	}
}

func sameEvent(t *testing.T, got eventstore.RecordedEvent, want eventstore.EventData, stream string, version uint64) {
	t.Helper()
	if got.ID != want.ID || got.Type != want.Type || string(got.Data) != string(want.Data) || string(got.Metadata) != string(want.Metadata) {
		t.Fatalf("event %s@%d = {%s %s %s %s}, want {%s %s %s %s}", stream, version,
			got.ID, got.Type, got.Data, got.Metadata, want.ID, want.Type, want.Data, want.Metadata)
	}
	if got.Stream != stream || got.Version != version {
		t.Fatalf("event %s is at %s@%d, want %s@%d", got.ID, got.Stream, got.Version, stream, version)
	}
	if got.RecordedAt.IsZero() || got.Position.IsZero() {
		t.Fatalf("event %s has no recorded time (%v) or position (%v)", got.ID, got.RecordedAt, got.Position)
	}
}
