package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/projections"
	"github.com/fieldservice/customer-service/projections/customerview"
)

// written is the body of every write's answer: enough to read the write back
// (id, ETag, position for X-Min-Position). An Idempotency-Key replay answers the
// same body.
type written struct {
	ID       string `json:"id"`
	Number   int64  `json:"number"`
	Version  uint64 `json:"version"`
	Position string `json:"position,omitempty"`
}

func (s *server) answerWrite(c *gin.Context, status int, res commands.Result) {
	c.Header("ETag", etag(res.Version))
	w := written{ID: res.CustomerID, Number: res.Number, Version: res.Version}
	if !res.Position.IsZero() {
		w.Position = res.Position.String()
		c.Header("X-Position", w.Position)
	}
	respond(c, status, w)
}

func etag(v uint64) string { return `"` + strconv.FormatUint(v, 10) + `"` }

// customerID reads the :id path parameter, a UUID.
func customerID(c *gin.Context) (string, error) {
	id := c.Param("id")
	if u, err := uuid.Parse(id); err != nil || u.String() != id {
		return "", invalid(FieldProblem{Field: "path.id", Message: "must be a customer id (a lowercase UUID)"})
	}
	return id, nil
}

// ifMatch reads If-Match: the version the caller edited. required makes a missing
// header a 428; "*" (any version) skips the check, as RFC 9110 has it.
func ifMatch(c *gin.Context, required bool) (uint64, error) {
	h := strings.TrimSpace(c.GetHeader("If-Match"))
	switch {
	case h == "" && required:
		return 0, &apiError{status: http.StatusPreconditionRequired, code: "if-match-required",
			title:  "If-Match is required",
			detail: "send the ETag of the version you edited (GET the customer first), so that no concurrent edit is lost"}
	case h == "" || h == "*":
		return 0, nil
	}
	v, err := strconv.ParseUint(strings.Trim(h, `"`), 10, 64)
	if err != nil || v == 0 || strings.HasPrefix(h, "W/") {
		return 0, invalid(FieldProblem{Field: "header.If-Match", Message: `must be the customer's ETag, like "3"`})
	}
	return v, nil
}

func (s *server) register(c *gin.Context) {
	var d details
	m, err := meta(c)
	if err == nil {
		err = decodeBody(c.Request, c.Writer, s.cfg.MaxBody, &d, false)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	res, err := s.cfg.App.RegisterCustomer.Handle(c, commands.RegisterCustomer{Meta: m, Details: d.domain()})
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("Location", "/v1/customers/"+res.CustomerID)
	s.answerWrite(c, http.StatusCreated, res)
}

func (s *server) update(c *gin.Context) {
	var p patch
	id, err := customerID(c)
	var seen uint64
	if err == nil {
		seen, err = ifMatch(c, true)
	}
	var m commands.Meta
	if err == nil {
		m, err = meta(c)
	}
	if err == nil {
		err = decodeBody(c.Request, c.Writer, s.cfg.MaxBody, &p, true)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	res, err := s.cfg.App.UpdateCustomer.Handle(c, commands.UpdateCustomer{Meta: m, CustomerID: id, SeenVersion: seen, Patch: p.domain()})
	if err != nil {
		_ = c.Error(err)
		return
	}
	s.answerWrite(c, http.StatusOK, res)
}

type archiveBody struct {
	Reason string `json:"reason"`
}

func (s *server) archive(c *gin.Context) {
	var b archiveBody
	s.lifecycle(c, &b, func(m commands.Meta, id string, seen uint64) (commands.Result, error) {
		return s.cfg.App.ArchiveCustomer.Handle(c, commands.ArchiveCustomer{Meta: m, CustomerID: id, SeenVersion: seen, Reason: b.Reason})
	})
}

func (s *server) reenable(c *gin.Context) {
	s.lifecycle(c, nil, func(m commands.Meta, id string, seen uint64) (commands.Result, error) {
		return s.cfg.App.ReenableCustomer.Handle(c, commands.ReenableCustomer{Meta: m, CustomerID: id, SeenVersion: seen})
	})
}

// lifecycle runs archive and re-enable: optional If-Match; archive needs a
// body with its reason, re-enable takes none.
func (s *server) lifecycle(c *gin.Context, body any, run func(commands.Meta, string, uint64) (commands.Result, error)) {
	id, err := customerID(c)
	var seen uint64
	if err == nil {
		seen, err = ifMatch(c, false)
	}
	var m commands.Meta
	if err == nil {
		m, err = meta(c)
	}
	switch {
	case err != nil:
	case body != nil && !hasBody(c.Request):
		err = invalid(FieldProblem{Field: "body", Message: "a JSON object is required"})
	case body != nil:
		err = decodeBody(c.Request, c.Writer, s.cfg.MaxBody, body, false)
	case hasBody(c.Request):
		err = invalid(FieldProblem{Field: "body", Message: "this endpoint takes no body"})
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	res, err := run(m, id, seen)
	if err != nil {
		_ = c.Error(err)
		return
	}
	s.answerWrite(c, http.StatusOK, res)
}

type noteBody struct {
	Text string `json:"text"`
}

func (s *server) addNote(c *gin.Context) {
	var b noteBody
	id, err := customerID(c)
	var m commands.Meta
	if err == nil {
		m, err = meta(c)
	}
	if err == nil {
		err = decodeBody(c.Request, c.Writer, s.cfg.MaxBody, &b, false)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	res, err := s.cfg.App.AddNote.Handle(c, commands.AddNote{Meta: m, CustomerID: id, Text: b.Text})
	if err != nil {
		_ = c.Error(err)
		return
	}
	s.answerWrite(c, http.StatusCreated, res)
}

// minPosition makes a read wait, bounded, until r reflects the position the
// caller names in X-Min-Position (or ?min_position=), e.g. its own last write.
func (s *server) minPosition(c *gin.Context, r *projections.Runner) error {
	h, field := c.GetHeader("X-Min-Position"), "header.X-Min-Position"
	if h == "" {
		h, field = c.Query("min_position"), "query.min_position"
	}
	if h == "" {
		return nil
	}
	p, err := eventstore.ParsePosition(h)
	if err != nil {
		return invalid(FieldProblem{Field: field, Message: `must be a position a write returned, like "1042/1042"`})
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.MinPositionWait)
	defer cancel()
	if err := r.WaitFor(ctx, p); err != nil {
		if c.Request.Context().Err() != nil {
			return err
		}
		return &apiError{status: http.StatusServiceUnavailable, code: "read-model-behind", retryAfter: time.Second,
			title:  "The read model has not reached that position yet",
			detail: "it reflects " + r.Status().Checkpoint.String() + "; retry shortly"}
	}
	return nil
}

func (s *server) get(c *gin.Context) {
	id, err := customerID(c)
	if err == nil {
		err = unknownParams(c, "as_of", "version", "min_position")
	}
	if err == nil && (c.Query("as_of") != "" || c.Query("version") != "") {
		s.getAt(c, id)
		return
	}
	if err == nil {
		err = s.minPosition(c, s.cfg.Views)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	v, ok, err := customerview.Get(c, s.cfg.Redis, id)
	if err == nil && !ok {
		err = commands.ErrCustomerNotFound
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	tag := etag(v.Version)
	c.Header("ETag", tag)
	if c.GetHeader("If-None-Match") == tag {
		c.Status(http.StatusNotModified)
		return
	}
	holds, err := s.holds(c, []string{id})
	if err != nil {
		_ = c.Error(err)
		return
	}
	body := customerOf(v)
	body.CreditHold = holds[id]
	respond(c, http.StatusOK, body)
}

// unknownParams names query parameters the endpoint does not have: a typo must
// not silently widen a list.
func unknownParams(c *gin.Context, known ...string) error {
	var fields []FieldProblem
	for k := range c.Request.URL.Query() {
		if !slices.Contains(known, k) {
			fields = append(fields, FieldProblem{Field: "query." + k, Message: "is not a parameter of this endpoint"})
		}
	}
	if len(fields) > 0 {
		return invalid(fields...)
	}
	return nil
}

func queryLimit(c *gin.Context) (int, error) {
	s := c.Query("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > customerview.MaxLimit {
		return 0, invalid(FieldProblem{Field: "query.limit", Message: "must be a whole number from 1 to 100"})
	}
	return n, nil
}

func queryBool(c *gin.Context, name string) (*bool, error) {
	s, ok := c.GetQuery(name)
	if !ok {
		return nil, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil || (s != "true" && s != "false") {
		return nil, invalid(FieldProblem{Field: "query." + name, Message: "must be true or false"})
	}
	return &b, nil
}

type listPage struct {
	Items []customerBody `json:"items"`
	Next  string         `json:"next,omitempty"`
}

func (s *server) listOrSearch(c *gin.Context) {
	if _, ok := c.GetQuery("q"); ok {
		s.search(c)
		return
	}
	var q customerview.ListQuery
	err := unknownParams(c, "archived", "type", "zone", "salesperson", "industry", "after", "limit", "min_position")
	if err == nil {
		q.Limit, err = queryLimit(c)
	}
	if err == nil {
		q.Archived, err = queryBool(c, "archived")
	}
	if q.Archived == nil {
		active := false
		q.Archived = &active // archived customers are out of the daily list unless asked for
	}
	if err == nil {
		err = s.minPosition(c, s.cfg.Views)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	q.Type, q.Zone, q.Salesperson, q.Industry, q.After = c.Query("type"), c.Query("zone"), c.Query("salesperson"), c.Query("industry"), c.Query("after")
	page, err := customerview.List(c, s.cfg.Redis, q)
	if err != nil {
		_ = c.Error(err)
		return
	}
	items := make([]customerBody, 0, len(page.Items))
	ids := make([]string, 0, len(page.Items))
	for _, v := range page.Items {
		items = append(items, customerOf(v))
		ids = append(ids, v.ID)
	}
	holds, err := s.holds(c, ids)
	if err != nil {
		_ = c.Error(err)
		return
	}
	for i := range items {
		items[i].CreditHold = holds[items[i].ID]
	}
	respond(c, http.StatusOK, listPage{Items: items, Next: page.Next})
}

// hasBody reports whether a request carries a body, announced or chunked.
func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody
}

type eraseBody struct {
	Reason    string `json:"reason"`
	Reference string `json:"reference"`
}

// erase forgets an archived customer's personal data for good (the right to
// be forgotten): the reason is a picklist and the reference a case id, never
// free text, since the event itself is kept.
func (s *server) erase(c *gin.Context) {
	var b eraseBody
	s.lifecycle(c, &b, func(m commands.Meta, id string, seen uint64) (commands.Result, error) {
		reason, err := customer.ParseErasureReason(b.Reason)
		if err != nil {
			return commands.Result{}, invalid(FieldProblem{Field: "reason", Message: "must be subject_request, retention_expired or legal_order"})
		}
		return s.cfg.App.EraseCustomer.Handle(c, commands.EraseCustomer{Meta: m, CustomerID: id, SeenVersion: seen, Reason: reason, Reference: b.Reference})
	})
}

// getAt answers the customer as it stood at a version or an instant, folded
// from the store: the record, not the read model.
func (s *server) getAt(c *gin.Context, id string) {
	q := commands.CustomerAt{CustomerID: id}
	var err error
	if v := c.Query("version"); v != "" {
		n, perr := strconv.ParseUint(v, 10, 64)
		if perr != nil || n == 0 {
			err = invalid(FieldProblem{Field: "query.version", Message: "must be a version, 1 or more"})
		}
		q.Version = n
	}
	if v := c.Query("as_of"); err == nil && v != "" {
		if q.AsOf, err = time.Parse(time.RFC3339, v); err != nil {
			err = invalid(FieldProblem{Field: "query.as_of", Message: "must be an RFC 3339 time, like 2026-03-03T09:00:00Z"})
		}
	}
	var snap customer.Snapshot
	if err == nil {
		snap, err = s.cfg.App.CustomerHistory.CustomerAt(c, q)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("ETag", etag(snap.Version))
	respond(c, http.StatusOK, customerOf(customerview.ViewOf(snap)))
}
