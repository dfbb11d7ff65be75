// Package kurrent is the eventstore.Store adapter for a KurrentDB (EventStoreDB)
// server or cluster, on the official client (EventStore-Client-Go v4).
//
// Mapping to the port:
//
//   - Versions: the port counts a stream's events from 1, KurrentDB's revisions
//     from 0; version v is revision v-1, and Exact(0) is NoStream.
//   - Positions: KurrentDB's (commit, prepare) pair, unchanged. They grow strictly
//     along $all and compare lexicographically, like the embedded store's.
//   - The global log is $all without system streams ("$…") and, when StreamPrefixes
//     is set, only this service's streams. Subscriptions filter on the server and
//     report its checkpoints (see Subscribe), so a consumer of a busy shared
//     cluster can save its place even when none of the events it scans are its own.
//   - Event ids are sent as they are, so the server's idempotency applies: retrying
//     an append with an exact expected version returns the original result.
package kurrent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fieldservice/customer-service/eventstore"
)

// Config configures the adapter.
type Config struct {
	// URL is a KurrentDB connection string: esdb://host:2113?tls=true or
	// esdb+discover://a,b,c (TLS and certificate options go in it:
	// tlsVerifyCert, tlsCAFile, userCertFile, userKeyFile). Required.
	URL string
	// StreamPrefixes limit the global log and subscriptions to this service's
	// streams. Empty: every stream that is not a system stream.
	StreamPrefixes []string
	// Timeout bounds every call that is not a subscription: an append, one chunk
	// of a read. Default 10 s.
	Timeout time.Duration
	// ResubscribeFor is how long a dropped subscription keeps trying to resubscribe
	// (with backoff, from its last position) before it reports ErrUnavailable.
	// Default one minute.
	ResubscribeFor time.Duration
}

func (c *Config) setDefaults() {
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.ResubscribeFor == 0 {
		c.ResubscribeFor = time.Minute
	}
}

// Store is a KurrentDB-backed event store.
type Store struct {
	cfg  Config
	conf *esdb.Configuration

	// done is cancelled by Close, which ends the subscriptions; ops counts the
	// calls in flight, which Close waits for before closing clients. (The v4
	// client panics when a client is closed under a concurrent call.)
	done   context.Context
	cancel context.CancelFunc
	ops    sync.WaitGroup

	mu      sync.Mutex
	client  *esdb.Client
	retired []*esdb.Client // replaced by renew, closed by Close
	closed  bool
}

var errClosed = fmt.Errorf("%w: the store is closed", eventstore.ErrUnavailable)

// begin returns the current client for one call, which must end with s.ops.Done.
func (s *Store) begin() (*esdb.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	s.ops.Add(1)
	return s.client, nil
}

// renew replaces old when err says it closed for good: the v4 client gives up
// after its discovery attempts (a server down for a second or two) and never
// recovers, so without a new client the store would stay down after the server
// came back. The old client is closed only by Close, when no call uses it.
func (s *Store) renew(old *esdb.Client, err error) {
	if code(err) != esdb.ErrorCodeConnectionClosed {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.client != old {
		return // closed, or already renewed by another caller
	}
	if c, err := esdb.NewClient(s.conf); err == nil {
		s.retired = append(s.retired, old)
		s.client = c
	}
}

// readChunk is how many events one read request asks for.
const readChunk = 512

// Open connects to the server and checks that it answers, so that a wrong
// address fails at start with a clear error rather than at the first request.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg.setDefaults()
	if cfg.URL == "" {
		return nil, errors.New("kurrent: the connection string is required (esdb://host:2113)")
	}
	conf, err := esdb.ParseConnectionString(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("kurrent: connection string: %w", err)
	}
	conf.Logger = func(esdb.LogLevel, string, ...any) {} // errors reach callers; the client's log would repeat them
	client, err := esdb.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("kurrent: %w", err)
	}
	s := &Store{cfg: cfg, conf: conf, client: client}
	s.done, s.cancel = context.WithCancel(context.Background())
	if _, err := s.LastPosition(ctx); err != nil {
		client.Close()
		return nil, fmt.Errorf("kurrent: cannot reach %s: %w", redact(cfg.URL), err)
	}
	return s, nil
}

// redact hides a password in a connection string.
func redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if at := strings.LastIndex(rest, "@"); ok && at >= 0 {
		if user, _, hasPass := strings.Cut(rest[:at], ":"); hasPass {
			return scheme + "://" + user + ":***@" + rest[at+1:]
		}
	}
	return url
}

// Close implements eventstore.Store: calls in flight finish (subscriptions end),
// then the connections close.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.ops.Wait()
	var errs []error
	for _, c := range append(s.retired, s.client) {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

func (s *Store) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.cfg.Timeout)
}

// Append implements eventstore.Store. When it fails with a deadline or
// ErrUnavailable the outcome is unknown: the server may have committed. Retrying
// with the same events and the same exact expected version is safe: the server
// recognises their ids. (With Any it only remembers recent ids.)
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	fail := func(err error) (eventstore.AppendResult, error) {
		return eventstore.AppendResult{}, &eventstore.Error{Op: "append", Stream: stream, Expected: expected, Err: err}
	}
	if err := validate(expected, events); err != nil {
		return fail(err)
	}
	data := make([]esdb.EventData, len(events))
	for i, e := range events {
		ct := esdb.ContentTypeBinary
		if json.Valid(e.Data) {
			ct = esdb.ContentTypeJson
		}
		data[i] = esdb.EventData{EventID: e.ID, EventType: e.Type, ContentType: ct, Data: e.Data, Metadata: e.Metadata}
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	client, err := s.begin()
	if err != nil {
		return fail(err)
	}
	defer s.ops.Done()
	res, err := client.AppendToStream(cctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: revision(expected)}, data...)
	if err != nil {
		s.renew(client, err)
		if code(err) == esdb.ErrorCodeWrongExpectedVersion {
			e := &eventstore.Error{Op: "append", Stream: stream, Expected: expected, Err: eventstore.ErrWrongVersion}
			e.Actual, _ = s.version(ctx, stream) // best effort: read right after the refusal
			return eventstore.AppendResult{}, e
		}
		return fail(mapError(err))
	}
	out := eventstore.AppendResult{Version: res.NextExpectedVersion + 1, Position: eventstore.Position{Commit: res.CommitPosition, Prepare: res.PreparePosition}}
	if out.Position.IsZero() {
		// Servers before IdempotentLogPosition answer an idempotent retry without
		// a position: read it from the event.
		for rec, err := range s.ReadStream(ctx, stream, eventstore.ReadOptions{From: out.Version, Limit: 1}) {
			if err != nil {
				return fail(err)
			}
			out.Position = rec.Position
		}
	}
	return out, nil
}

func validate(expected eventstore.ExpectedVersion, events []eventstore.EventData) error {
	var problems []string
	if !expected.IsValid() {
		problems = append(problems, "no expected version")
	}
	if len(events) == 0 {
		problems = append(problems, "no events")
	}
	seen := map[uuid.UUID]bool{}
	for i, e := range events {
		if e.ID == uuid.Nil {
			problems = append(problems, fmt.Sprintf("event %d: missing id", i))
		} else if seen[e.ID] {
			problems = append(problems, fmt.Sprintf("event %d: repeated id", i))
		}
		seen[e.ID] = true
		if e.Type == "" {
			problems = append(problems, fmt.Sprintf("event %d: missing type", i))
		}
	}
	if problems != nil {
		return fmt.Errorf("%w: %s", eventstore.ErrInvalidEvent, strings.Join(problems, "; "))
	}
	return nil
}

func revision(e eventstore.ExpectedVersion) esdb.ExpectedRevision {
	switch {
	case e.IsAny():
		return esdb.Any{}
	case e.IsStreamExists():
		return esdb.StreamExists{}
	}
	if v, _ := e.Version(); v > 0 {
		return esdb.Revision(v - 1)
	}
	return esdb.NoStream{}
}

// version reads a stream's current version (0: no stream).
func (s *Store) version(ctx context.Context, stream string) (uint64, error) {
	for rec, err := range s.ReadStream(ctx, stream, eventstore.ReadOptions{Direction: eventstore.Backwards, Limit: 1}) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		return rec.Version, nil
	}
	return 0, nil
}

func code(err error) esdb.ErrorCode {
	var e *esdb.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return esdb.ErrorCodeUnknown
}

// mapError turns client errors into the port's.
func mapError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	switch code(err) {
	case esdb.ErrorCodeResourceNotFound:
		return fmt.Errorf("%w: %w", eventstore.ErrStreamNotFound, err)
	case esdb.ErrorCodeDeadlineExceeded:
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	case esdb.ErrorCodeConnectionClosed, esdb.ErrorCodeNotLeader, esdb.ErrorUnavailable:
		return fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
	}
	// A dropped subscription reports the bare gRPC error.
	if st, ok := status.FromError(err); ok && st.Code() == codes.Unavailable {
		return fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
	}
	// A stream cut while sending (the server went away between dial and send)
	// comes back as an unknown code wrapping io.EOF; reads take their own io.EOF
	// before calling here.
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
	}
	return err
}

func recorded(e *esdb.RecordedEvent) eventstore.RecordedEvent {
	return eventstore.RecordedEvent{
		ID: e.EventID, Stream: e.StreamID, Version: e.EventNumber + 1,
		Position: eventstore.Position{Commit: e.Position.Commit, Prepare: e.Position.Prepare},
		Type:     e.EventType, Data: e.Data, Metadata: e.UserMetadata, RecordedAt: e.CreatedDate.UTC(),
	}
}

// ours reports whether a stream belongs in the service's global log.
func (s *Store) ours(stream string) bool {
	if strings.HasPrefix(stream, "$") {
		return false
	}
	if len(s.cfg.StreamPrefixes) == 0 {
		return true
	}
	for _, p := range s.cfg.StreamPrefixes {
		if strings.HasPrefix(stream, p) {
			return true
		}
	}
	return false
}
