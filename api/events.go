package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/permission"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/integration"
	"github.com/fieldservice/customer-service/projections"
)

// The integration events without a broker: a Server-Sent Events stream of the
// same CloudEvents the relay publishes, read from the store, resumable from
// any position; and a republish of a range through the bus.

func serveAsyncAPI(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/json", integration.AsyncAPI)
}

// keepAlive is how often an idle stream gets a comment line, so proxies and
// clients do not take a quiet stream for a dead one.
const keepAlive = 15 * time.Second

// eventStream follows the log as SSE: "id" is the event's position (what
// Last-Event-ID resumes after), "event" its type, "data" the CloudEvent.
func (s *server) eventStream(c *gin.Context) {
	err := unknownParams(c, "after", "topic")
	topic := integration.Public
	if err == nil {
		switch c.DefaultQuery("topic", "public") {
		case "public":
		case "personal":
			topic = integration.Personal
			if !actorOf(c).Can(permission.EventsPersonal) {
				err = fmt.Errorf("%w: %s needs %s", commands.ErrForbidden, actorOf(c).Role, permission.EventsPersonal)
			}
		default:
			err = invalid(FieldProblem{Field: "query.topic", Message: "must be public or personal"})
		}
	}
	var after eventstore.Position
	if err == nil {
		after, err = resumeFrom(c)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("Content-Type", "text/event-stream")
	c.Header("Cache-Control", "no-store")
	c.Header("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	rc := http.NewResponseController(c.Writer)
	var mu sync.Mutex // the keep-alive and the events write to one stream
	write := func(b []byte) error {
		mu.Lock()
		defer mu.Unlock()
		// The server's write timeout is for answers, not for a stream.
		_ = rc.SetWriteDeadline(time.Now().Add(keepAlive + 30*time.Second))
		if _, err := c.Writer.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if write([]byte(": following the log after "+after.String()+"\n\n")) != nil {
		return
	}
	ctx, cancel := context.WithCancel(c.Request.Context())
	defer cancel()
	go func() {
		t := time.NewTicker(keepAlive)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if write([]byte(": keep-alive\n\n")) != nil {
					cancel()
				}
			}
		}
	}()
	owners := integration.Owners{App: s.cfg.App}
	err = s.cfg.App.Follow(ctx, after, eventstore.Position{}, integration.StoredTypes(), func(rec eventstore.RecordedEvent, e codec.Event, meta codec.Metadata) error {
		cust, err := owners.CustomerOf(ctx, rec, e)
		if err != nil {
			return err
		}
		msgs, err := integration.Translate(projections.Event{RecordedEvent: rec, Event: e, Meta: meta}, cust, topic == integration.Personal)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Topic != topic {
				continue
			}
			b, err := json.Marshal(m.Event)
			if err != nil {
				return err
			}
			if err := write(fmt.Appendf(nil, "id: %s\nevent: %s\ndata: %s\n\n", rec.Position, m.Event.Type(), b)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		// The status is sent: say why in the stream, and end it.
		s.cfg.Logger.Error("event stream ended", "error", err, "request_id", c.GetString(requestIDKey))
		_ = write([]byte("event: error\ndata: {\"detail\":\"the stream failed; reconnect with Last-Event-ID\"}\n\n"))
	}
}

// resumeFrom reads Last-Event-ID (or ?after=): a position the stream gave.
func resumeFrom(c *gin.Context) (eventstore.Position, error) {
	v, field := c.GetHeader("Last-Event-ID"), "header.Last-Event-ID"
	if v == "" {
		v, field = c.Query("after"), "query.after"
	}
	if v == "" {
		return eventstore.Position{}, nil
	}
	p, err := eventstore.ParsePosition(v)
	if err != nil {
		return p, invalid(FieldProblem{Field: field, Message: `must be an id the stream gave, like "1042/1042"`})
	}
	return p, nil
}

type republishBody struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// republish re-emits a range of the log through the bus, for a subscriber
// that lost data: from and to are positions or RFC 3339 times, both
// inclusive; to defaults to the end of the log as it is now.
func (s *server) republish(c *gin.Context) {
	var b republishBody
	err := decodeBody(c.Request, c.Writer, s.cfg.MaxBody, &b, false)
	var from, to integration.Bound
	if err == nil {
		if from, err = integration.ParseBound(b.From); err != nil || b.From == "" {
			err = invalid(FieldProblem{Field: "from", Message: "must be a position (\"1042/1042\") or an RFC 3339 time"})
		}
	}
	if err == nil && b.To != "" {
		if to, err = integration.ParseBound(b.To); err != nil {
			err = invalid(FieldProblem{Field: "to", Message: "must be a position (\"1042/1042\") or an RFC 3339 time"})
		}
	}
	if err == nil && s.cfg.Republisher == nil {
		err = &apiError{status: http.StatusServiceUnavailable, code: "no-bus", title: "No bus to republish to"}
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	n, last, err := s.cfg.Republisher.Republish(c, from, to)
	if err != nil {
		_ = c.Error(err)
		return
	}
	respond(c, http.StatusOK, gin.H{"published": n, "last_position": last.String()})
}
