// Package kurrenttest is a test server: an in-process gRPC server that speaks the
// part of KurrentDB's protocol the eventstore/kurrent adapter uses, built on the
// client module's own generated service definitions. CI cannot run a KurrentDB
// server; this one lets the adapter's tests exercise the real client over real
// gRPC on a loopback port. It is not a database: everything is in memory.
//
// What it reproduces, as read in KurrentDB's server source and the client's
// recorded test data:
//
//   - Append: expected revisions (any, no_stream, stream_exists, exact) with the
//     server's idempotency rules (exact expectations below the head compare ids;
//     at the head, a plain write; any/stream_exists consult the committed ids),
//     wrong_expected_version in the response body, missing type or content-type
//     metadata refused with InvalidArgument, the position of the last event.
//   - Positions: byte-offset-like, strictly increasing, not dense, commit =
//     prepare; system events in $all (created at start).
//   - Read: streams forwards and backwards from start, end or a revision; a
//     missing stream answers one stream_not_found; $all forwards (inclusive) and
//     backwards (exclusive), with the default filter ($epoch-information hidden).
//   - SubscribeToAll: confirmation first; catch-up after the start position
//     (exclusive); with a filter (stream or event type, prefixes or regex),
//     checkpoints every checkpointIntervalMultiplier × window considered events and
//     one at the end of catch-up; caught_up; live events. DropSubscriptions ends
//     every open subscription with Unavailable, as a lost connection would.
//   - Event metadata: type, content-type, created (.NET ticks since the Unix
//     epoch); structured UUIDs.
//   - Keepalive: pings every 10 s from the client are allowed.
//
// What it does not (the README lists these too): clustering, gossip and leader
// redirects; TLS and authentication; delete, tombstone and stream metadata
// ($maxAge, $maxCount); persistent subscriptions, projections and link events;
// stream subscriptions; size limits; BatchAppend; the eviction of the committed-id
// cache (ids are remembered for ever); fell_behind and live-buffer overflow;
// durability.
package kurrenttest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

// firstPosition is where a fresh real database puts its first event.
const firstPosition = 167

type event struct {
	id       uuid.UUID
	stream   string
	revision uint64
	position uint64
	metadata map[string]string
	custom   []byte
	data     []byte
}

// Server is a running test server.
type Server struct {
	api.UnimplementedStreamsServer
	addr string

	grpc *grpc.Server // under mu: Stop and Resume replace it
	lis  net.Listener

	mu        sync.Mutex
	log       []*event
	streams   map[string][]*event
	committed map[uuid.UUID]*event // every id ever written, for any/stream_exists retries
	next      uint64               // the next event's position
	appended  chan struct{}        // closed and replaced on every append
	drop      chan struct{}        // closed and replaced by DropSubscriptions
}

// Start listens on a free loopback port and serves until Close.
func Start() (*Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		addr: lis.Addr().String(), streams: map[string][]*event{}, committed: map[uuid.UUID]*event{}, next: firstPosition,
		appended: make(chan struct{}), drop: make(chan struct{}),
	}
	// A fresh database already holds system events.
	s.mu.Lock()
	s.write("$epoch-information", "$epoch", nil)
	s.write("$users", "$UserCreated", []byte(`{"LoginName":"admin"}`))
	s.write("$$$users", "$metadata", []byte(`{"$acl":{}}`))
	s.mu.Unlock()
	s.serve(lis)
	return s, nil
}

func (s *Server) serve(lis net.Listener) {
	// The client pings every 10 s; grpc-go's default policy would answer with
	// GOAWAY "too_many_pings" and drop every open subscription.
	g := grpc.NewServer(grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}))
	api.RegisterStreamsServer(g, s)
	s.mu.Lock()
	s.grpc, s.lis = g, lis
	s.mu.Unlock()
	go g.Serve(lis)
}

// Stop takes the server down, ending every call, as a crash or a network cut
// would; its events are kept for Resume.
func (s *Server) Stop() {
	s.mu.Lock()
	g := s.grpc
	s.mu.Unlock()
	g.Stop()
}

// Resume serves again on the same address, with the same events.
func (s *Server) Resume() error {
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.serve(lis)
	return nil
}

// URL is the connection string of the server.
func (s *Server) URL() string { return "esdb://" + s.addr + "?tls=false" }

// Close stops the server for good.
func (s *Server) Close() { s.Stop() }

// DropSubscriptions ends every open subscription with Unavailable.
func (s *Server) DropSubscriptions() {
	s.mu.Lock()
	close(s.drop)
	s.drop = make(chan struct{})
	s.mu.Unlock()
}

// AppendSystemEvent writes an event to a system stream, as the server does.
func (s *Server) AppendSystemEvent(stream, typ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.write(stream, typ, []byte("{}"))
}

// write appends one event; s.mu is held.
func (s *Server) write(stream, typ string, data []byte) *event {
	return s.writeEvent(&event{id: uuid.New(), stream: stream, data: data,
		metadata: map[string]string{"type": typ, "content-type": "application/json"}})
}

func (s *Server) writeEvent(e *event) *event {
	e.revision = uint64(len(s.streams[e.stream]))
	e.position = s.next
	e.metadata["created"] = strconv.FormatInt(time.Now().UnixNano()/100, 10)
	// A record's size decides where the next begins: positions are byte offsets.
	s.next += uint64(64 + len(e.stream) + len(e.data) + len(e.custom))
	s.log = append(s.log, e)
	s.streams[e.stream] = append(s.streams[e.stream], e)
	s.committed[e.id] = e
	close(s.appended)
	s.appended = make(chan struct{})
	return e
}

// Append implements the Streams service.
func (s *Server) Append(stream api.Streams_AppendServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "the first message must hold options")
	}
	var proposed []*api.AppendReq_ProposedMessage
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		p := m.GetProposedMessage()
		if p == nil {
			return status.Error(codes.InvalidArgument, "expected a proposed message")
		}
		if p.Metadata["type"] == "" || p.Metadata["content-type"] == "" {
			return status.Error(codes.InvalidArgument, "required metadata properties are missing: type, content-type")
		}
		proposed = append(proposed, p)
	}
	resp, err := s.append(string(opts.GetStreamIdentifier().GetStreamName()), opts, proposed)
	if err != nil {
		return err
	}
	return stream.SendAndClose(resp)
}

func (s *Server) append(name string, opts *api.AppendReq_Options, proposed []*api.AppendReq_ProposedMessage) (*api.AppendResp, error) {
	ids := make([]uuid.UUID, len(proposed))
	for i, p := range proposed {
		st := p.GetId().GetStructured()
		if st == nil {
			return nil, status.Error(codes.InvalidArgument, "event ids must be structured")
		}
		id, err := esdb.ParseUUIDFromInt64(st.MostSignificantBits, st.LeastSignificantBits)
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		ids[i] = id
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	existing := s.streams[name]
	cur := int64(len(existing)) - 1 // -1: no stream
	wev := func() *api.AppendResp {
		w := &api.AppendResp_WrongExpectedVersion{}
		if cur < 0 {
			w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		} else {
			w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(cur)}
		}
		switch e := opts.ExpectedStreamRevision.(type) {
		case *api.AppendReq_Options_Revision:
			w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: e.Revision}
		case *api.AppendReq_Options_NoStream:
			w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
		case *api.AppendReq_Options_StreamExists:
			w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
		default:
			w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
		}
		return &api.AppendResp{Result: &api.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: w}}
	}
	done := func(last *event) *api.AppendResp { // success at last's place, new or original
		sc := &api.AppendResp_Success{}
		if last == nil {
			if cur < 0 {
				sc.CurrentRevisionOption = &api.AppendResp_Success_NoStream{NoStream: &shared.Empty{}}
			} else {
				sc.CurrentRevisionOption = &api.AppendResp_Success_CurrentRevision{CurrentRevision: uint64(cur)}
			}
			sc.PositionOption = &api.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}}
		} else {
			sc.CurrentRevisionOption = &api.AppendResp_Success_CurrentRevision{CurrentRevision: last.revision}
			sc.PositionOption = &api.AppendResp_Success_Position{Position: &api.AppendResp_Position{CommitPosition: last.position, PreparePosition: last.position}}
		}
		return &api.AppendResp{Result: &api.AppendResp_Success_{Success: sc}}
	}
	var expected int64
	checkIDs := false
	switch e := opts.ExpectedStreamRevision.(type) {
	case *api.AppendReq_Options_Revision:
		expected = int64(e.Revision)
	case *api.AppendReq_Options_NoStream:
		expected = -1
	case *api.AppendReq_Options_StreamExists:
		if cur < 0 {
			return wev(), nil
		}
		expected, checkIDs = cur, true
	default: // any
		expected, checkIDs = cur, true
	}
	if len(ids) == 0 {
		if expected > cur || (expected < cur && !checkIDs) {
			return wev(), nil
		}
		return done(nil), nil
	}
	if checkIDs { // any / stream_exists: the committed-id cache decides
		first, ok := s.committed[ids[0]]
		if ok && first.stream == name {
			var last *event
			for i, id := range ids {
				e, ok := s.committed[id]
				if !ok || e.stream != name || e.revision != first.revision+uint64(i) {
					return wev(), nil // corrupted idempotency
				}
				last = e
			}
			return done(last), nil
		}
	} else if expected < cur { // exact below the head: a retry only if the ids match
		var last *event
		for i, id := range ids {
			at := expected + 1 + int64(i)
			if at > cur || existing[at].id != id {
				return wev(), nil
			}
			last = existing[at]
		}
		return done(last), nil
	} else if expected > cur {
		return wev(), nil
	}
	var last *event
	for i, p := range proposed {
		last = s.writeEvent(&event{id: ids[i], stream: name, metadata: copyMap(p.Metadata), custom: p.CustomMetadata, data: p.Data})
	}
	return done(last), nil
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// String describes the server, for test logs.
func (s *Server) String() string { return fmt.Sprintf("kurrenttest server at %s", s.addr) }
