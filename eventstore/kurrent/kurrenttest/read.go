package kurrenttest

import (
	"regexp"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Read implements the Streams service: stream reads, $all reads and $all
// subscriptions.
func (s *Server) Read(req *api.ReadReq, out api.Streams_ReadServer) error {
	o := req.GetOptions()
	if o.GetSubscription() != nil {
		if o.GetAll() == nil {
			return status.Error(codes.Unimplemented, "the test server only subscribes to $all")
		}
		return s.subscribe(o, out)
	}
	if st := o.GetStream(); st != nil {
		return s.readStream(st, o, out)
	}
	return s.readAll(o, out)
}

func (s *Server) readStream(st *api.ReadReq_Options_StreamOptions, o *api.ReadReq_Options, out api.Streams_ReadServer) error {
	name := string(st.GetStreamIdentifier().GetStreamName())
	s.mu.Lock()
	events := append([]*event(nil), s.streams[name]...)
	s.mu.Unlock()
	if len(events) == 0 {
		return out.Send(&api.ReadResp{Content: &api.ReadResp_StreamNotFound_{StreamNotFound: &api.ReadResp_StreamNotFound{
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)}}}})
	}
	back := o.ReadDirection == api.ReadReq_Options_Backwards
	var from int64
	switch r := st.RevisionOption.(type) {
	case *api.ReadReq_Options_StreamOptions_Revision:
		from = int64(r.Revision)
	case *api.ReadReq_Options_StreamOptions_End:
		from = int64(len(events)) // forwards: nothing; backwards: from the last
		if back {
			from = int64(len(events)) - 1
		}
	}
	if back && from >= int64(len(events)) {
		from = int64(len(events)) - 1
	}
	count := o.GetCount()
	for i := from; i >= 0 && i < int64(len(events)) && count > 0; count-- {
		if err := out.Send(readEvent(events[i])); err != nil {
			return err
		}
		if back {
			i--
		} else {
			i++
		}
	}
	return nil
}

func (s *Server) readAll(o *api.ReadReq_Options, out api.Streams_ReadServer) error {
	s.mu.Lock()
	log := append([]*event(nil), s.log...)
	s.mu.Unlock()
	back := o.ReadDirection == api.ReadReq_Options_Backwards
	var events []*event
	switch p := o.GetAll().AllOption.(type) {
	case *api.ReadReq_Options_AllOptions_Position:
		at := p.Position.CommitPosition
		for _, e := range log {
			if !back && e.position >= at || back && e.position < at { // forwards inclusive, backwards exclusive
				events = append(events, e)
			}
		}
	case *api.ReadReq_Options_AllOptions_End:
		if back {
			events = log
		}
	default: // start
		if !back {
			events = log
		}
	}
	count := o.GetCount()
	for i := range events {
		if count == 0 {
			break
		}
		e := events[i]
		if back {
			e = events[len(events)-1-i]
		}
		if hiddenByDefault(e.stream) {
			continue
		}
		if err := out.Send(readEvent(e)); err != nil {
			return err
		}
		count--
	}
	return nil
}

// hiddenByDefault is the server's default $all filter.
func hiddenByDefault(stream string) bool {
	return stream == "$epoch-information" || strings.HasPrefix(stream, "$persistentsubscription-$all::")
}

func readEvent(e *event) *api.ReadResp {
	most, least := esdb.UUIDAsInt64(e.id)
	return &api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
		Event: &api.ReadResp_ReadEvent_RecordedEvent{
			Id:               &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{MostSignificantBits: most, LeastSignificantBits: least}}},
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(e.stream)},
			StreamRevision:   e.revision,
			PreparePosition:  e.position,
			CommitPosition:   e.position,
			Metadata:         e.metadata,
			CustomMetadata:   e.custom,
			Data:             e.data,
		},
		Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: e.position},
	}}}
}

// filter is a subscription's server-side filter.
type filter struct {
	match  func(*event) bool
	window uint64 // checkpoint every window considered events
}

func newFilter(f *api.ReadReq_Options_FilterOptions) (*filter, error) {
	if f == nil {
		return nil, nil
	}
	expr, onStream := f.GetStreamIdentifier(), true
	if expr == nil {
		expr, onStream = f.GetEventType(), false
	}
	key := func(e *event) string {
		if onStream {
			return e.stream
		}
		return e.metadata["type"]
	}
	var match func(*event) bool
	if re := expr.GetRegex(); re != "" {
		r, err := regexp.Compile(re)
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		match = func(e *event) bool { return r.MatchString(key(e)) }
	} else {
		prefixes := expr.GetPrefix()
		match = func(e *event) bool {
			for _, p := range prefixes {
				if strings.HasPrefix(key(e), p) {
					return true
				}
			}
			return false
		}
	}
	window := uint64(f.GetMax())
	if window == 0 {
		window = 32
	}
	if m := f.GetCheckpointIntervalMultiplier(); m > 0 {
		window *= uint64(m)
	}
	return &filter{match: match, window: window}, nil
}

func (s *Server) subscribe(o *api.ReadReq_Options, out api.Streams_ReadServer) error {
	f, err := newFilter(o.GetFilter())
	if err != nil {
		return err
	}
	if err := out.Send(&api.ReadResp{Content: &api.ReadResp_Confirmation{Confirmation: &api.ReadResp_SubscriptionConfirmation{
		SubscriptionId: uuid.NewString()}}}); err != nil {
		return err
	}
	s.mu.Lock()
	next := 0 // index in the log of the next event to consider
	switch p := o.GetAll().AllOption.(type) {
	case *api.ReadReq_Options_AllOptions_Position:
		for next < len(s.log) && s.log[next].position <= p.Position.CommitPosition { // exclusive
			next++
		}
	case *api.ReadReq_Options_AllOptions_End:
		next = len(s.log)
	}
	drop := s.drop
	s.mu.Unlock()

	var considered uint64
	checkpoint := func(e *event) error {
		return out.Send(&api.ReadResp{Content: &api.ReadResp_Checkpoint_{Checkpoint: &api.ReadResp_Checkpoint{
			CommitPosition: e.position, PreparePosition: e.position}}})
	}
	send := func(events []*event) error {
		for _, e := range events {
			if hiddenByDefault(e.stream) {
				continue
			}
			if f == nil || f.match(e) {
				if err := out.Send(readEvent(e)); err != nil {
					return err
				}
			}
			if f != nil {
				if considered++; considered%f.window == 0 {
					if err := checkpoint(e); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	caughtUp := false
	for {
		s.mu.Lock()
		batch := append([]*event(nil), s.log[next:]...)
		next = len(s.log)
		wake := s.appended
		s.mu.Unlock()
		if err := send(batch); err != nil {
			return err
		}
		if !caughtUp {
			caughtUp = true
			if f != nil && next > 0 {
				s.mu.Lock()
				last := s.log[next-1]
				s.mu.Unlock()
				if err := checkpoint(last); err != nil {
					return err
				}
			}
			if err := out.Send(&api.ReadResp{Content: &api.ReadResp_CaughtUp_{CaughtUp: &api.ReadResp_CaughtUp{}}}); err != nil {
				return err
			}
		}
		select {
		case <-wake:
		case <-drop:
			return status.Error(codes.Unavailable, "subscription dropped by the test server")
		case <-out.Context().Done():
			return out.Context().Err()
		}
	}
}
