package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/actor"
)

// authenticate admits a request with a live bearer token and records its actor.
func (s *server) authenticate(c *gin.Context) {
	scheme, token, _ := strings.Cut(c.GetHeader("Authorization"), " ")
	a, ok := actor.Actor{}, false
	if strings.EqualFold(scheme, "Bearer") {
		a, ok = s.cfg.Tokens.Authenticate(strings.TrimSpace(token))
	}
	if !ok {
		c.Header("WWW-Authenticate", `Bearer realm="customers"`)
		_ = c.Error(&apiError{status: http.StatusUnauthorized, code: "unauthenticated", title: "A valid bearer token is required",
			detail: "send Authorization: Bearer <token>; customerctl token create issues one"})
		c.Abort()
		return
	}
	c.Set(actorKey, a)
	c.Next()
}

// allow admits only the given roles. Writes are checked again by the commands,
// which own the rules; this guards the reads, which have no command.
func (s *server) allow(roles ...actor.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !slices.Contains(roles, actorOf(c).Role) {
			_ = c.Error(commands.ErrForbidden)
			c.Abort()
			return
		}
		c.Next()
	}
}

func actorOf(c *gin.Context) actor.Actor {
	a, _ := c.Get(actorKey)
	return a.(actor.Actor)
}

// meta is the commands' metadata for this request: its actor, the request id as
// correlation and causation, and the caller's Idempotency-Key scoped to the actor,
// so two callers cannot collide on one key.
func meta(c *gin.Context) (commands.Meta, error) {
	a := actorOf(c)
	m := commands.Meta{Actor: a, CorrelationID: c.GetString(requestIDKey), CausationID: c.GetString(requestIDKey)}
	if key := c.GetHeader("Idempotency-Key"); key != "" {
		if len(key) > 255 || strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
			return m, invalid(FieldProblem{Field: "header.Idempotency-Key", Message: "must be 1 to 255 printable ASCII characters"})
		}
		m.IdempotencyKey = a.ID + "\x00" + key
	}
	return m, nil
}
