package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fieldservice/customer-service/auditlog"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/credential"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/domain/permission"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/projections/accessreport"
	"github.com/fieldservice/customer-service/projections/balances"
	"github.com/fieldservice/customer-service/projections/customerview"
	"github.com/fieldservice/customer-service/projections/search"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Code is a stable machine-readable slug, the last segment of Type.
	Code string `json:"code"`
	// Errors lists every invalid field at once.
	Errors []FieldProblem `json:"errors,omitempty"`
	// OwnerID names the customer that holds a taken email.
	OwnerID string `json:"owner_id,omitempty"`
	// CurrentVersion is the customer's version when an edit was stale.
	CurrentVersion uint64 `json:"current_version,omitempty"`
	// RequestID ties the answer to the server's log line.
	RequestID string `json:"request_id,omitempty"`
}

// FieldProblem is one invalid field: its path in the request body ("phones[1].number")
// or parameter ("query.limit", "header.If-Match") and what is wrong with it.
type FieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	// Kind names the rule an account command broke ("over-allocated").
	Kind string `json:"kind,omitempty"`
}

// problemTypeBase prefixes every problem type; the pages it names are in the
// OpenAPI document's description of each code.
const problemTypeBase = "https://customer-service.dev/problems/"

// apiError is an error the API raises itself, with its status and slug.
type apiError struct {
	status int
	code   string
	title  string
	detail string
	fields []FieldProblem
	// retryAfter, when set, becomes a Retry-After header.
	retryAfter time.Duration
	// allow, when set, becomes an Allow header (405).
	allow string
}

func (e *apiError) Error() string {
	if e.detail != "" {
		return e.code + ": " + e.detail
	}
	return e.code
}

func invalid(fields ...FieldProblem) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "validation-failed", title: "The request is not valid", fields: fields}
}

// errNotReady: a read model cannot answer yet (rebuilding, Redis down).
var errNotReady = &apiError{status: http.StatusServiceUnavailable, code: "read-model-unavailable",
	title: "The read models are not available", detail: "they are being rebuilt or Redis is unreachable; retry shortly",
	retryAfter: time.Second}

// problemOf is the one place that maps errors, domain and application ones
// included, to HTTP. It matches with errors.Is / errors.As only.
func problemOf(err error) Problem {
	var (
		ae    *apiError
		ve    *customer.ValidationError
		acct  *account.Error
		cred  *credential.Error
		stale *commands.StaleVersionError
		taken *commands.EmailTakenError
		owes  *commands.BalanceNotZeroError
	)
	switch {
	case errors.As(err, &ae):
		p := Problem{Status: ae.status, Code: ae.code, Title: ae.title, Detail: ae.detail, Errors: ae.fields}
		return p
	case errors.As(err, &ve):
		p := Problem{Status: http.StatusUnprocessableEntity, Code: "validation-failed", Title: "The customer data is not valid"}
		for _, f := range ve.Problems {
			p.Errors = append(p.Errors, FieldProblem{Field: f.Path, Message: f.Message})
		}
		return p
	case errors.As(err, &acct):
		return accountProblem(acct)
	case errors.As(err, &stale):
		record := "customer"
		switch {
		case strings.HasPrefix(stale.Record, "account"):
			record = "account"
		case stale.Record != "":
			record = stale.Record
		}
		return Problem{Status: http.StatusPreconditionFailed, Code: "stale-version", Title: "The " + record + " changed since it was read",
			Detail:         fmt.Sprintf("If-Match named version %d; the %s is at version %d. Reload it and apply the change again.", stale.Expected, record, stale.Actual),
			CurrentVersion: stale.Actual}
	case errors.As(err, &owes):
		return Problem{Status: http.StatusConflict, Code: "balance-not-zero", Title: "The customer's account is not settled",
			Detail: fmt.Sprintf("%d %s is open and %d is in store credit (minor units): settle the account before erasing the customer",
				owes.Open, owes.Currency, owes.StoreCredit)}
	case errors.As(err, &taken):
		return Problem{Status: http.StatusConflict, Code: "email-taken", Title: "The email belongs to another customer",
			Detail: "customer " + taken.OwnerID + " has this primary email", OwnerID: taken.OwnerID}
	case errors.Is(err, commands.ErrCustomerNotFound), errors.Is(err, customer.ErrNotRegistered):
		return Problem{Status: http.StatusNotFound, Code: "customer-not-found", Title: "No such customer"}
	case errors.Is(err, auditlog.ErrNoSuchEvent):
		return Problem{Status: http.StatusNotFound, Code: "not-in-the-log", Title: "No such event or tree size in the log", Detail: err.Error()}
	case errors.Is(err, commands.ErrNotYet):
		return Problem{Status: http.StatusNotFound, Code: "no-such-version", Title: "The customer had no such version then",
			Detail: "it was registered later, or has fewer versions"}
	case errors.Is(err, commands.ErrConflict):
		return Problem{Status: http.StatusConflict, Code: "conflict", Title: "A concurrent write won", Detail: "reload the customer and retry"}
	case errors.Is(err, commands.ErrIdempotencyKeyReused):
		return Problem{Status: http.StatusUnprocessableEntity, Code: "idempotency-key-reused", Title: "The Idempotency-Key was used for a different request",
			Detail: "send a new key for a new request; a retry must repeat the first request exactly"}
	case errors.Is(err, commands.ErrIdempotencyInProgress):
		return Problem{Status: http.StatusConflict, Code: "idempotency-in-progress", Title: "A request with this Idempotency-Key is still running",
			Detail: "retry shortly"}
	case errors.Is(err, commands.ErrForbidden):
		return Problem{Status: http.StatusForbidden, Code: "forbidden", Title: "Your group may not do this",
			Detail: strings.TrimPrefix(err.Error(), commands.ErrForbidden.Error()+": ")}
	case errors.As(err, &cred):
		p := Problem{Status: http.StatusUnprocessableEntity, Code: "validation-failed", Title: "The credential is not valid"}
		for _, f := range cred.Problems {
			p.Errors = append(p.Errors, FieldProblem{Field: f.Path, Message: f.Message})
		}
		return p
	case errors.Is(err, credential.ErrNotFound):
		return Problem{Status: http.StatusNotFound, Code: "credential-not-found", Title: "No such credential",
			Detail: "there is no credential with this id (for this customer, on a customer's path)"}
	case errors.Is(err, credential.ErrRemoved):
		return Problem{Status: http.StatusGone, Code: "credential-removed", Title: "The credential was removed",
			Detail: "its key was destroyed: it can be read, but never revealed or changed again"}
	case errors.Is(err, commands.ErrSecretDoesNotOpen):
		return Problem{Status: http.StatusInternalServerError, Code: "credential-does-not-open", Title: "The credential's sealed secret does not open",
			Detail: "it was altered in the store, or copied there from another credential; nothing was revealed"}
	case errors.Is(err, permission.ErrGroupNotFound):
		return Problem{Status: http.StatusNotFound, Code: "group-not-found", Title: "No such permission group"}
	case errors.Is(err, permission.ErrGroupName):
		return invalidProblem("path.name", err.Error())
	case errors.Is(err, permission.ErrDescription):
		return invalidProblem("description", err.Error())
	case errors.Is(err, permission.ErrFixedGroup), errors.Is(err, permission.ErrAuditorReadOnly), errors.Is(err, permission.ErrBuiltIn):
		return Problem{Status: http.StatusUnprocessableEntity, Code: "group-rule-violated", Title: "The default groups keep their rules",
			Detail: err.Error()}
	case errors.Is(err, customer.ErrAlreadyArchived):
		return Problem{Status: http.StatusConflict, Code: "already-archived", Title: "The customer is already archived"}
	case errors.Is(err, customer.ErrNotArchived):
		return Problem{Status: http.StatusConflict, Code: "not-archived", Title: "The customer is not archived", Detail: err.Error()}
	case errors.Is(err, customer.ErrErased):
		return Problem{Status: http.StatusGone, Code: "customer-erased", Title: "The customer's personal data was erased",
			Detail: "an erased customer can be read, and its account still takes payments and refunds, but nothing else about it changes"}
	case errors.Is(err, search.ErrQueryTooShort), errors.Is(err, search.ErrQueryTooLong):
		return invalidProblem("query.q", err.Error())
	case errors.Is(err, balances.ErrCurrencyRequired):
		return invalidProblem("query.currency", err.Error())
	case errors.Is(err, balances.ErrOneFilter):
		return invalidProblem("query.salesperson", err.Error())
	case errors.Is(err, accessreport.ErrBadFilter):
		return invalidProblem("query.to", "is before from")
	case errors.Is(err, search.ErrBadCursor), errors.Is(err, customerview.ErrBadCursor), errors.Is(err, balances.ErrBadCursor),
		errors.Is(err, accessreport.ErrBadCursor):
		return invalidProblem("query.after", "is not a cursor this list returned")
	case errors.Is(err, search.ErrNotReady), errors.Is(err, customerview.ErrNotReady), errors.Is(err, balances.ErrNotReady),
		errors.Is(err, accessreport.ErrNotReady):
		return problemOf(errNotReady)
	case storageFull(err) && errors.As(err, new(*eventstore.Error)):
		return Problem{Status: http.StatusInsufficientStorage, Code: "event-store-full", Title: "The event store is out of disk space",
			Detail: "nothing was written; writes succeed again, without a restart, once space is freed in the data directory"}
	case storageFull(err):
		return Problem{Status: http.StatusInsufficientStorage, Code: "key-store-full", Title: "The key file is out of disk space",
			Detail: "nothing was written; writes succeed again, without a restart, once space is freed in the data directory"}
	case errors.As(err, new(*eventstore.Error)) && errors.As(err, new(syscall.Errno)):
		return Problem{Status: http.StatusServiceUnavailable, Code: "event-store-failed", Title: "The event store could not write or read",
			Detail: "an I/O error; nothing was acknowledged that is not stored"}
	case errors.As(err, new(*net.OpError)), errors.Is(err, syscall.ECONNREFUSED):
		// Redis (or a remote store) is unreachable. Not any net.Error: a
		// syscall.Errno is one too, and a full disk is not an unreachable Redis.
		return problemOf(errNotReady)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return Problem{Status: http.StatusServiceUnavailable, Code: "unavailable", Title: "The request could not finish in time"}
	}
	return Problem{Status: http.StatusInternalServerError, Code: "internal", Title: "Internal error",
		Detail: "the failure is logged with this request's id"}
}

// accountProblem answers a refused account command: 422 with every problem,
// each with its field and kind; a void of an invoice the account does not
// have is 404, the invoice being the resource.
func accountProblem(e *account.Error) Problem {
	if len(e.Problems) == 1 && e.Problems[0].Err == account.ErrInvoiceNotFound && e.Problems[0].Path == "number" {
		return Problem{Status: http.StatusNotFound, Code: "invoice-not-found", Title: "No such invoice in this account", Detail: e.Problems[0].Message}
	}
	p := Problem{Status: http.StatusUnprocessableEntity, Code: "account-rule-violated", Title: "The account refused the command"}
	for _, f := range e.Problems {
		p.Errors = append(p.Errors, FieldProblem{Field: f.Path, Message: f.Message, Kind: kindOf(f.Err)})
	}
	return p
}

// kindOf is a stable slug for each kind of account problem.
func kindOf(err error) string { return accountKinds[err] }

var accountKinds = map[error]string{
	account.ErrInvalid: "invalid", account.ErrAmount: "amount-out-of-range", account.ErrOverflow: "overflow",
	account.ErrCurrencyMismatch: "currency-mismatch", account.ErrUnknownCurrency: "unknown-currency",
	account.ErrDuplicateInvoice: "duplicate-invoice", account.ErrInvoiceNotFound: "invoice-not-found",
	account.ErrInvoiceVoided: "invoice-voided", account.ErrInvoicePaid: "invoice-paid", account.ErrOverAllocated: "over-allocated",
	account.ErrInsufficientCredit: "insufficient-credit", account.ErrPaymentNotFound: "payment-not-found",
	account.ErrOverRefunded: "over-refunded", account.ErrDuplicatePayment: "duplicate-payment",
	account.ErrUnknownPaymentTerm: "unknown-payment-term", account.ErrTaxExempt: "tax-exempt", account.ErrDates: "dates-out-of-order",
	account.ErrRequired: "required", account.ErrUnknownMethod: "unknown-method",
}

// storageFull reports a disk (or quota) that is full.
func storageFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func invalidProblem(field, message string) Problem {
	return problemOf(invalid(FieldProblem{Field: field, Message: message}))
}

// problems is the middleware that answers for a handler that called c.Error.
func problems(c *gin.Context) {
	c.Next()
	if len(c.Errors) == 0 || c.Writer.Written() {
		return
	}
	err := c.Errors.Last().Err
	p := problemOf(err)
	var ae *apiError
	if errors.As(err, &ae) {
		if ae.retryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(int(ae.retryAfter.Seconds()+0.5)))
		}
		if ae.allow != "" {
			c.Header("Allow", ae.allow)
		}
	}
	if p.Status == http.StatusServiceUnavailable && c.Writer.Header().Get("Retry-After") == "" {
		c.Header("Retry-After", "1")
	}
	writeProblem(c, p)
}

func writeProblem(c *gin.Context, p Problem) {
	p.Type = problemTypeBase + p.Code
	p.Instance = c.Request.URL.Path
	p.RequestID = c.GetString(requestIDKey)
	c.Header("Content-Type", "application/problem+json")
	c.Header("Cache-Control", "no-store")
	c.Status(p.Status)
	_ = jsonEncoder(c.Writer).Encode(p)
}
