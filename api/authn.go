package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/permission"
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
	perms, found, err := s.cfg.App.Groups.Permissions(c, a.Role.String())
	if err == nil && !found {
		err = &apiError{status: http.StatusForbidden, code: "group-not-found", title: "The token's group no longer exists",
			detail: "an admin removed group " + a.Role.String() + "; ask for a token of another group"}
	}
	if err != nil {
		_ = c.Error(err)
		c.Abort()
		return
	}
	a.Permissions = &perms
	c.Set(actorKey, a)
	c.Next()
}

// allow admits only actors whose group grants p. Writes are checked again by
// the commands, which own the rules; checking here too answers 403 before
// anything is read or decoded.
func (s *server) allow(p permission.Permission) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !actorOf(c).Can(p) {
			_ = c.Error(fmt.Errorf("%w: %s needs %s", commands.ErrForbidden, actorOf(c).Role, p))
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
