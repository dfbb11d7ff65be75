package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/credential"
	"github.com/fieldservice/customer-service/projections/accessreport"
)

// The credential endpoints. A credential is read from the store (it is small,
// and a masked read must never lag a removal); its secrets are "********"
// everywhere but in the answer to a reveal, which is recorded first. Every
// item route exists twice: /v1/credentials/{cid} and, scoped to a customer,
// /v1/customers/{id}/credentials/{cid}, where another customer's credential
// is not found.

type credentialInput struct {
	Name      string `json:"name"`
	Username  string `json:"username"`
	URL       string `json:"url"`
	Password  string `json:"password"`
	Notes     string `json:"notes"`
	Public    bool   `json:"public"`
	ContactID string `json:"contact_id"`
}

type credentialPatch struct {
	Name      *string `json:"name"`
	Username  *string `json:"username"`
	URL       *string `json:"url"`
	Password  *string `json:"password"`
	Notes     *string `json:"notes"`
	Public    *bool   `json:"public"`
	ContactID *string `json:"contact_id"`
}

type reasonBody struct {
	Reason string `json:"reason"`
}

type credentialBody struct {
	ID         string    `json:"id"`
	CustomerID string    `json:"customer_id"`
	ContactID  string    `json:"contact_id,omitempty"`
	Name       string    `json:"name"`
	Username   string    `json:"username,omitempty"`
	URL        string    `json:"url,omitempty"`
	Password   string    `json:"password"`
	Notes      string    `json:"notes,omitempty"`
	Public     bool      `json:"public"`
	Removed    bool      `json:"removed"`
	Erased     bool      `json:"erased,omitempty"`
	Reveals    int       `json:"reveals"`
	Version    uint64    `json:"version"`
	CreatedAt  time.Time `json:"created_at"`
	CreatedBy  actorBody `json:"created_by"`
	ChangedAt  time.Time `json:"changed_at"`
}

func credentialOf(v commands.CredentialView) credentialBody {
	b := credentialBody{ID: v.ID(), CustomerID: v.CustomerID(), ContactID: v.ContactID(), Name: v.Name(), Username: v.Username(),
		URL: v.URL(), Password: credential.Mask, Public: v.Public(), Removed: v.Removed(), Erased: v.Erased, Reveals: v.Reveals(),
		Version: v.Version(), CreatedAt: v.CreatedAt(), ChangedAt: v.ChangedAt(),
		CreatedBy: actorBody{ID: v.CreatedBy().ID, Name: v.CreatedBy().Name, Role: v.CreatedBy().Role.String()}}
	if v.HasNotes() {
		b.Notes = credential.Mask
	}
	return b
}

type revealedBody struct {
	CredentialID string `json:"credential_id"`
	Password     string `json:"password"`
	Notes        string `json:"notes,omitempty"`
	// Version is the credential's version with the reveal recorded.
	Version  uint64 `json:"version"`
	Position string `json:"position"`
}

// scopeOf reads the path: the customer the route is scoped to ("" for
// /v1/credentials/…) and the credential.
func scopeOf(c *gin.Context) (customer, cred string, err error) {
	if c.Param("id") != "" {
		if customer, err = customerID(c); err != nil {
			return "", "", err
		}
	}
	return customer, c.Param("cid"), nil
}

func (s *server) createCredential(c *gin.Context) {
	var in credentialInput
	id, err := customerID(c)
	var m commands.Meta
	if err == nil {
		m, err = meta(c)
	}
	if err == nil {
		err = decodeBody(c.Request, c.Writer, s.cfg.MaxBody, &in, false)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	res, err := s.cfg.App.Credentials.Create(c, commands.CreateCredential{Meta: m, CustomerID: id, Credential: credential.Input{
		ContactID: in.ContactID, Name: in.Name, Username: in.Username, URL: in.URL, Password: in.Password, Notes: in.Notes, Public: in.Public}})
	s.answerCredential(c, http.StatusCreated, res, err)
}

// answerCredential answers a credential write with the credential as it now
// stands, masked.
func (s *server) answerCredential(c *gin.Context, status int, res commands.CredentialResult, err error) {
	var v commands.CredentialView
	if err == nil {
		v, err = s.cfg.App.Credentials.Credential(c, commands.CredentialQuery{CredentialID: res.CredentialID})
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("ETag", etag(v.Version()))
	if !res.Position.IsZero() {
		c.Header("X-Position", res.Position.String())
	}
	if status == http.StatusCreated {
		c.Header("Location", "/v1/credentials/"+v.ID())
	}
	respond(c, status, credentialOf(v))
}

func (s *server) listCredentials(c *gin.Context) {
	id, err := customerID(c)
	if err == nil {
		err = unknownParams(c, "include_removed")
	}
	var removed *bool
	if err == nil {
		removed, err = queryBool(c, "include_removed")
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	list, err := s.cfg.App.Credentials.CustomerCredentials(c, id, removed != nil && *removed)
	if err != nil {
		_ = c.Error(err)
		return
	}
	items := make([]credentialBody, len(list))
	for i, v := range list {
		items[i] = credentialOf(v)
	}
	respond(c, http.StatusOK, gin.H{"items": items})
}

func (s *server) getCredential(c *gin.Context) {
	cust, cid, err := scopeOf(c)
	var v commands.CredentialView
	if err == nil {
		v, err = s.cfg.App.Credentials.Credential(c, commands.CredentialQuery{CustomerID: cust, CredentialID: cid})
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	tag := etag(v.Version())
	c.Header("ETag", tag)
	if c.GetHeader("If-None-Match") == tag {
		c.Status(http.StatusNotModified)
		return
	}
	respond(c, http.StatusOK, credentialOf(v))
}

func (s *server) changeCredential(c *gin.Context) {
	var p credentialPatch
	cust, cid, err := scopeOf(c)
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
	res, err := s.cfg.App.Credentials.Change(c, commands.ChangeCredential{Meta: m, CustomerID: cust, CredentialID: cid, SeenVersion: seen,
		Patch: credential.Patch{ContactID: p.ContactID, Name: p.Name, Username: p.Username, URL: p.URL, Password: p.Password, Notes: p.Notes, Public: p.Public}})
	res.CredentialID = cid
	s.answerCredential(c, http.StatusOK, res, err)
}

// optionalReason reads a body that may be absent: {"reason": "…"}.
func (s *server) optionalReason(c *gin.Context) (string, error) {
	if !hasBody(c.Request) {
		return "", nil
	}
	var b reasonBody
	err := decodeBody(c.Request, c.Writer, s.cfg.MaxBody, &b, false)
	return b.Reason, err
}

func (s *server) removeCredential(c *gin.Context) {
	cust, cid, err := scopeOf(c)
	var seen uint64
	if err == nil {
		seen, err = ifMatch(c, false)
	}
	var m commands.Meta
	if err == nil {
		m, err = meta(c)
	}
	var reason string
	if err == nil {
		reason, err = s.optionalReason(c)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	res, err := s.cfg.App.Credentials.Remove(c, commands.RemoveCredential{Meta: m, CustomerID: cust, CredentialID: cid, SeenVersion: seen, Reason: reason})
	s.answerCredential(c, http.StatusOK, res, err)
}

// revealCredential answers the password only after the reveal is stored.
// The client address is the connection's: the API trusts no proxy header
// (api.New), so a caller cannot write another address into the report.
func (s *server) revealCredential(c *gin.Context) {
	cust, cid, err := scopeOf(c)
	var m commands.Meta
	if err == nil {
		m, err = meta(c)
	}
	var reason string
	if err == nil {
		reason, err = s.optionalReason(c)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	got, err := s.cfg.App.Credentials.Reveal(c, commands.RevealCredential{Meta: m, CustomerID: cust, CredentialID: cid,
		ClientAddress: c.ClientIP(), UserAgent: c.GetHeader("User-Agent"), Reason: reason})
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("X-Position", got.Position.String())
	respond(c, http.StatusOK, revealedBody{CredentialID: got.CredentialID, Password: got.Password, Notes: got.Notes,
		Version: got.Version, Position: got.Position.String()})
}

type accessEntryBody struct {
	At             time.Time `json:"at"`
	Action         string    `json:"action"`
	CredentialID   string    `json:"credential_id"`
	CredentialName string    `json:"credential_name"`
	CustomerID     string    `json:"customer_id"`
	Actor          actorBody `json:"actor"`
	ClientAddress  string    `json:"client_address,omitempty"`
	UserAgent      string    `json:"user_agent,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	Changed        string    `json:"changed,omitempty"`
	Version        uint64    `json:"version"`
}

func accessEntryOf(e accessreport.Entry) accessEntryBody {
	return accessEntryBody{At: e.At, Action: e.Action.String(), CredentialID: e.CredentialID, CredentialName: e.CredentialName,
		CustomerID: e.CustomerID, Actor: actorBody{ID: e.ActorID, Name: e.ActorName, Role: e.ActorRole},
		ClientAddress: e.ClientAddress, UserAgent: e.UserAgent, Reason: e.Reason, Changed: e.Changed, Version: e.Version}
}

// credentialAccess is the credential-access report: JSON pages, or every
// entry the filters select as CSV (Accept: text/csv), streamed.
func (s *server) credentialAccess(c *gin.Context) {
	f := accessreport.Filter{CustomerID: c.Query("customer_id"), CredentialID: c.Query("credential_id"), ActorID: c.Query("user"),
		After: c.Query("after")}
	err := unknownParams(c, "customer_id", "credential_id", "user", "from", "to", "after", "limit", "min_position")
	for _, id := range []string{"customer_id", "credential_id"} {
		if v := c.Query(id); err == nil && v != "" && uuid.Validate(v) != nil {
			err = invalid(FieldProblem{Field: "query." + id, Message: "must be an id (a UUID)"})
		}
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := c.Query(t.name); err == nil && v != "" {
			if *t.dst, err = time.Parse(time.RFC3339, v); err != nil {
				err = invalid(FieldProblem{Field: "query." + t.name, Message: "must be an RFC 3339 time, like 2026-03-03T09:00:00Z"})
			}
		}
	}
	if err == nil {
		f.Limit, err = queryLimit(c)
	}
	if err == nil {
		err = s.minPosition(c, s.cfg.Access)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	if strings.Contains(c.GetHeader("Accept"), "text/csv") {
		s.credentialAccessCSV(c, f)
		return
	}
	page, err := accessreport.Query(c, s.cfg.Redis, f)
	if err != nil {
		_ = c.Error(err)
		return
	}
	items := make([]accessEntryBody, len(page.Entries))
	for i, e := range page.Entries {
		items[i] = accessEntryOf(e)
	}
	respond(c, http.StatusOK, gin.H{"items": items, "next": page.Next})
}

var accessColumns = []string{"at", "action", "credential_id", "credential_name", "customer_id", "user_id", "user_name", "user_role",
	"client_address", "user_agent", "reason", "changed", "version"}

func (s *server) credentialAccessCSV(c *gin.Context, f accessreport.Filter) {
	f.Limit = accessreport.MaxLimit
	s.streamCSV(c, "credential-access.csv", accessColumns, func() ([][]string, bool, error) {
		page, err := accessreport.Query(c, s.cfg.Redis, f)
		if err != nil {
			return nil, false, err
		}
		rows := make([][]string, len(page.Entries))
		for i, e := range page.Entries {
			rows[i] = []string{e.At.Format(time.RFC3339Nano), e.Action.String(), e.CredentialID, e.CredentialName, e.CustomerID,
				e.ActorID, e.ActorName, e.ActorRole, e.ClientAddress, e.UserAgent, e.Reason, e.Changed, strconv.FormatUint(e.Version, 10)}
		}
		f.After = page.Next
		return rows, page.Next != "", nil
	})
}
