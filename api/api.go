// Package api is the Customer service's HTTP API (gin): the /v1/customers
// resource and its accounts, the unpaid-balances report, bearer-token authentication, RFC 9457 problem answers, read-your-writes
// through X-Min-Position, health, readiness, metrics and the OpenAPI document.
//
// Handlers stay thin: they decode, build a command or a read-model query, run it
// and answer. Errors go to c.Error and one middleware (errors.go) maps them.
package api

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/api/auth"
	"github.com/fieldservice/customer-service/auditlog"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/permission"
	"github.com/fieldservice/customer-service/integration"
	"github.com/fieldservice/customer-service/projections"
)

// Config configures the API.
type Config struct {
	// App runs the commands. Required.
	App *commands.App
	// Redis holds the read models. Required.
	Redis *redis.Client
	// Views, Search, Balances and Access run the customer view, the search
	// index, the balances and the credential-access report; reads wait on
	// them for X-Min-Position, readiness checks them. Required.
	Views, Search, Balances, Access *projections.Runner
	// Relay publishes the integration events; its lag is a metric. Optional.
	Relay *projections.Runner
	// Republisher re-emits a range of the log through the bus. Optional:
	// without it, republishing answers 503.
	Republisher *integration.Republisher
	// Audit publishes the log's tree, checkpoints and proofs. Optional:
	// without it, the audit endpoints answer 503.
	Audit *auditlog.Log
	// Tokens authenticates bearer tokens. Required.
	Tokens *auth.Tokens
	// Metrics receives request figures. Default: a fresh NewMetrics.
	Metrics *Metrics
	// Logger gets one line per request (no bodies, no query strings). Default slog.Default().
	Logger *slog.Logger
	// MaxBody caps a request body. Default 64 KiB.
	MaxBody int64
	// MinPositionWait bounds how long a read waits for X-Min-Position before it
	// answers 503. Default 5 s.
	MinPositionWait time.Duration
	// ReadyLag is how far behind the log a read model may be while /readyz still
	// reports ready. Default 10 s.
	ReadyLag time.Duration
	// FreeSpace, when set, says how much space is left where the store writes
	// (the embedded mode's data directory): /readyz reports the store as
	// failing under MinFreeSpace, and /metrics shows it.
	FreeSpace func() (uint64, error)
	// MinFreeSpace is the free space under which the store is not ready.
	// Default 64 MiB.
	MinFreeSpace uint64
	// WriteFailureWindow is how long after an append failed to be written
	// /readyz reports the store as failing. Default 10 s.
	WriteFailureWindow time.Duration
}

func (c *Config) setDefaults() {
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxBody == 0 {
		c.MaxBody = 64 << 10
	}
	if c.MinPositionWait == 0 {
		c.MinPositionWait = 5 * time.Second
	}
	if c.ReadyLag == 0 {
		c.ReadyLag = 10 * time.Second
	}
	if c.MinFreeSpace == 0 {
		c.MinFreeSpace = 64 << 20
	}
	if c.WriteFailureWindow == 0 {
		c.WriteFailureWindow = 10 * time.Second
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	for _, r := range []struct {
		name    string
		missing bool
	}{{"app", c.App == nil}, {"redis", c.Redis == nil},
		{"views runner", c.Views == nil}, {"search runner", c.Search == nil}, {"balances runner", c.Balances == nil}, {"access report runner", c.Access == nil},
		{"tokens", c.Tokens == nil}} {
		if r.missing {
			errs = append(errs, fmt.Errorf("%s is required", r.name))
		}
	}
	if c.MaxBody < 0 || c.MinPositionWait < 0 || c.ReadyLag < 0 {
		errs = append(errs, errors.New("limits must not be negative"))
	}
	return errors.Join(errs...)
}

// server holds what the handlers share.
type server struct {
	cfg Config
}

func init() { gin.SetMode(gin.ReleaseMode) } // no debug banner or route dump in logs

// New returns the API's handler.
func New(cfg Config) (http.Handler, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("api: invalid config: %w", err)
	}
	s := &server{cfg: cfg}
	runners := []*projections.Runner{cfg.Views, cfg.Search, cfg.Balances, cfg.Access}
	if cfg.Relay != nil {
		runners = append(runners, cfg.Relay)
	}
	cfg.Metrics.Runners(runners...)
	if cfg.FreeSpace != nil {
		cfg.Metrics.FreeSpace(cfg.FreeSpace)
	}
	r := gin.New()
	// The client address (the access report's "from where") is the
	// connection's: gin would otherwise believe any caller's X-Forwarded-For.
	if err := r.SetTrustedProxies(nil); err != nil {
		return nil, err
	}
	r.HandleMethodNotAllowed = true
	// Handlers pass c to the store and Redis: it carries the request's deadline.
	// A context with a timer of its own derives from c.Request.Context(), not c:
	// gin reuses c for the next request, and the timer's cancel can still touch
	// its parent after the handler returned (a data race the e2e tests found).
	r.ContextWithFallback = true
	r.Use(s.requestID, s.logRequests, s.cfg.Metrics.observe, s.recover, problems, queryUTF8)
	r.NoRoute(func(c *gin.Context) {
		_ = c.Error(&apiError{status: http.StatusNotFound, code: "not-found", title: "No such resource"})
	})
	r.NoMethod(func(c *gin.Context) {
		_ = c.Error(&apiError{status: http.StatusMethodNotAllowed, code: "method-not-allowed", title: "Method not allowed"})
	})

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", gin.WrapH(cfg.Metrics.Handler()))
	r.GET("/openapi.json", serveOpenAPI)
	r.GET("/asyncapi.json", serveAsyncAPI)

	v1 := r.Group("/v1", s.authenticate)
	// The commands own the rules of who may do what; the routes check the
	// permission first too, so that a group that may never do it hears 403,
	// not what is wrong with its body.
	can := s.allow
	v1.POST("/customers", can(permission.CustomersNew), s.register)
	v1.GET("/customers", can(permission.CustomersView), s.listOrSearch)
	v1.DELETE("/customers", noDelete)
	v1.GET("/customers/:id", can(permission.CustomersView), s.get)
	v1.PATCH("/customers/:id", can(permission.CustomersEdit), s.update)
	v1.DELETE("/customers/:id", noDelete)
	v1.POST("/customers/:id/archive", can(permission.CustomersArchive), s.archive)
	v1.POST("/customers/:id/reenable", can(permission.CustomersArchive), s.reenable)
	v1.POST("/customers/:id/erase", can(permission.CustomersErase), s.erase)
	v1.POST("/customers/:id/notes", can(permission.NotesAdd), s.addNote)
	v1.GET("/customers/:id/history", can(permission.CustomersHistory), s.history)

	// Accounts: the office moves money; a technician reads one customer's
	// balance on site, not the company's report.
	money := can(permission.AccountsEdit)
	v1.POST("/customers/:id/invoices", money, s.issueInvoice)
	v1.POST("/customers/:id/invoices/:number/void", money, s.voidInvoice)
	v1.POST("/customers/:id/payments", money, s.receivePayment)
	v1.POST("/customers/:id/refunds", money, s.refundPayment)
	v1.POST("/customers/:id/store-credits", money, s.addStoreCredit)
	v1.POST("/customers/:id/store-credits/apply", money, s.applyStoreCredit)
	v1.PUT("/customers/:id/credit-limit", money, s.setCreditLimit)
	v1.GET("/customers/:id/balance", can(permission.AccountsView), s.balance)
	v1.GET("/customers/:id/billing-history", can(permission.AccountsHistory), s.billingHistory)
	v1.GET("/reports/unpaid-balances", can(permission.BalancesReport), s.unpaidBalances)

	// Credentials, each item route also scoped to its customer.
	v1.POST("/customers/:id/credentials", can(permission.CredentialsNew), s.createCredential)
	v1.GET("/customers/:id/credentials", can(permission.CredentialsView), s.listCredentials)
	for _, base := range []string{"/credentials/:cid", "/customers/:id/credentials/:cid"} {
		v1.GET(base, can(permission.CredentialsView), s.getCredential)
		v1.PATCH(base, can(permission.CredentialsEdit), s.changeCredential)
		v1.DELETE(base, can(permission.CredentialsDelete), s.removeCredential)
		v1.POST(base+"/reveal", can(permission.CredentialsReveal), s.revealCredential)
	}
	v1.GET("/reports/credential-access", can(permission.CredentialsReport), s.credentialAccess)

	// Integration events without a broker, and a republish through it.
	v1.GET("/events/stream", can(permission.EventsStream), s.eventStream)
	v1.POST("/events/republish", can(permission.EventsRepublish), s.republish)

	proofs := can(permission.AuditProofs)
	v1.GET("/audit/checkpoint", proofs, s.checkpoint)
	v1.GET("/audit/proof/inclusion", proofs, s.inclusionProof)
	v1.GET("/audit/proof/consistency", proofs, s.consistencyProof)

	groups := can(permission.GroupsManage)
	v1.GET("/permission-groups", groups, s.listGroups)
	v1.PUT("/permission-groups/:name", groups, s.saveGroup)
	v1.DELETE("/permission-groups/:name", groups, s.removeGroup)
	return r, nil
}

func noDelete(c *gin.Context) {
	_ = c.Error(&apiError{status: http.StatusMethodNotAllowed, code: "customers-are-never-deleted", allow: "GET, PATCH",
		title:  "Customers are never deleted",
		detail: "every change is kept as an event; take a customer out of daily use with POST /v1/customers/{id}/archive, and bring it back with /reenable"})
}

const (
	requestIDKey = "request_id"
	actorKey     = "actor"
)

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID takes the caller's X-Request-Id when it is a plain token, else makes one.
func (s *server) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if !requestIDPattern.MatchString(id) {
		b := make([]byte, 8)
		rand.Read(b)
		id = hex.EncodeToString(b)
	}
	c.Set(requestIDKey, id)
	c.Header("X-Request-Id", id)
	c.Next()
}

// logRequests writes one line per request: never the query string (searches hold
// personal data), a body or a token.
func (s *server) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	status := c.Writer.Status()
	attrs := []slog.Attr{
		slog.String("request_id", c.GetString(requestIDKey)),
		slog.String("method", c.Request.Method),
		slog.String("route", c.FullPath()),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	}
	if a, ok := c.Get(actorKey); ok {
		attrs = append(attrs, slog.String("actor", a.(actor.Actor).ID))
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
		if len(c.Errors) > 0 {
			// Only server failures are logged with their text: the store's and Redis'
			// errors name streams and keys, never personal values.
			attrs = append(attrs, slog.String("error", c.Errors.Last().Error()))
		}
	}
	s.cfg.Logger.LogAttrs(c.Request.Context(), level, "request", attrs...)
}

// recover turns a panic into a 500 problem, logging the panic without the request.
func (s *server) recover(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			_ = c.Error(fmt.Errorf("panic: %v", v))
			c.Abort()
			if !c.Writer.Written() {
				writeProblem(c, problemOf(errors.New("panic")))
			}
		}
	}()
	c.Next()
}

func jsonEncoder(w io.Writer) *json.Encoder {
	e := json.NewEncoder(w)
	e.SetEscapeHTML(false)
	return e
}

// respond writes v as JSON with status.
func respond(c *gin.Context, status int, v any) {
	c.Header("Content-Type", "application/json")
	c.Header("Cache-Control", "no-store")
	c.Status(status)
	_ = jsonEncoder(c.Writer).Encode(v)
}
