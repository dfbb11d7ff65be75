package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fieldservice/customer-service/projections"
)

// healthz says the process serves HTTP; it checks nothing else, so that an
// orchestrator does not restart a server that is only waiting for Redis.
func (s *server) healthz(c *gin.Context) {
	respond(c, http.StatusOK, gin.H{"status": "ok"})
}

type check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// readyz says whether this instance can answer correctly now: the store and
// Redis answer, and each read model exists and is within ReadyLag of the log.
func (s *server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	var checks []check
	err := s.cfg.App.Ping(ctx)
	checks = append(checks, s.store(err))
	checks = append(checks, result("redis", s.cfg.Redis.Ping(ctx).Err()))
	for _, r := range []*projections.Runner{s.cfg.Views, s.cfg.Search, s.cfg.Balances, s.cfg.Access} {
		checks = append(checks, s.projection(ctx, r, err == nil))
	}
	status, state := http.StatusOK, "ready"
	for _, ch := range checks {
		if !ch.OK {
			status, state = http.StatusServiceUnavailable, "unready"
		}
	}
	if status != http.StatusOK {
		c.Header("Retry-After", "1")
	}
	respond(c, status, gin.H{"status": state, "checks": checks})
}

// store is ready when it answers, its last failed write (I/O, a full disk) is
// older than WriteFailureWindow, and it has MinFreeSpace left: a store that
// reads but cannot write must not take traffic. It recovers by itself.
func (s *server) store(pingErr error) check {
	ch := result("eventstore", pingErr)
	if !ch.OK {
		return ch
	}
	if at := s.cfg.Metrics.lastWriteFailure(); !at.IsZero() && time.Since(at) < s.cfg.WriteFailureWindow {
		return check{Name: ch.Name, Detail: fmt.Sprintf("an append failed to be written %s ago", time.Since(at).Round(time.Millisecond))}
	}
	if s.cfg.FreeSpace != nil {
		free, err := s.cfg.FreeSpace()
		switch {
		case err != nil:
			return check{Name: ch.Name, Detail: "cannot tell the free space of the data directory"}
		case free < s.cfg.MinFreeSpace:
			return check{Name: ch.Name, Detail: fmt.Sprintf("%d MiB free in the data directory, under %d MiB", free>>20, s.cfg.MinFreeSpace>>20)}
		}
	}
	return ch
}

func result(name string, err error) check {
	if err != nil {
		return check{Name: name, Detail: "unreachable"}
	}
	return check{Name: name, OK: true}
}

// projection is ready when its generation exists in Redis (it is gone after a
// FLUSHALL until the runner rebuilds it) and it is caught up with the log, or
// behind it by less than ReadyLag: the age of the oldest event it has not
// projected yet.
func (s *server) projection(ctx context.Context, r *projections.Runner, storeOK bool) check {
	st := r.Status()
	ch := check{Name: "projection " + st.Name}
	_, exists, err := projections.CurrentKeys(ctx, s.cfg.Redis, st.Name)
	switch {
	case err != nil || !exists || !st.Running:
		ch.Detail = "rebuilding or waiting for Redis"
		return ch
	case !storeOK:
		return ch
	}
	lag, err := r.Behind(ctx)
	switch {
	case err != nil:
		ch.Detail = "cannot read the log"
	case lag > 0:
		ch.OK = lag <= s.cfg.ReadyLag
		ch.Detail = fmt.Sprintf("behind the log by %s", lag.Round(time.Millisecond))
	default:
		ch.OK = true
	}
	return ch
}
