package api

import (
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/projections/balances"
)

// The account endpoints: money-moving POSTs (Idempotency-Key and If-Match on
// the account's version, which is its ETag) and the reads of the balances
// read model. Amounts are integers in minor units; dates are "2006-01-02".

type allocationBody struct {
	Invoice string `json:"invoice"`
	Amount  int64  `json:"amount"`
}

func allocations(bs []allocationBody) []account.Allocation {
	if bs == nil {
		return nil
	}
	out := make([]account.Allocation, len(bs))
	for i, b := range bs {
		out[i] = account.Allocation{Invoice: b.Invoice, Amount: b.Amount}
	}
	return out
}

type invoiceBody struct {
	Number    string        `json:"number"`
	IssuedOn  *account.Date `json:"issued_on"`
	DueOn     *account.Date `json:"due_on"`
	Currency  string        `json:"currency"`
	Subtotal  int64         `json:"subtotal"`
	Tax       *int64        `json:"tax"`
	Reference string        `json:"reference"`
}

type paymentBody struct {
	PaymentID   string           `json:"payment_id"`
	Amount      int64            `json:"amount"`
	Currency    string           `json:"currency"`
	Method      account.Method   `json:"method"`
	Reference   string           `json:"reference"`
	ReceivedOn  *account.Date    `json:"received_on"`
	Allocations []allocationBody `json:"allocations"`
}

type refundBody struct {
	PaymentID  string           `json:"payment_id"`
	Amount     int64            `json:"amount"`
	RefundedOn *account.Date    `json:"refunded_on"`
	Reason     string           `json:"reason"`
	Invoices   []allocationBody `json:"invoices"`
}

type creditBody struct {
	Amount    int64         `json:"amount"`
	Currency  string        `json:"currency"`
	AddedOn   *account.Date `json:"added_on"`
	Reference string        `json:"reference"`
	Message   string        `json:"message"`
}

type applyCreditBody struct {
	Invoice   string        `json:"invoice"`
	Amount    int64         `json:"amount"`
	AppliedOn *account.Date `json:"applied_on"`
}

type voidBody struct {
	Reason   string        `json:"reason"`
	VoidedOn *account.Date `json:"voided_on"`
}

type creditLimitBody struct {
	Limit    *int64 `json:"limit"`
	Currency string `json:"currency"`
}

func day(d *account.Date) account.Date {
	if d == nil {
		return 0 // today, for the command
	}
	return *d
}

// accountWritten answers a money-moving POST.
type accountWritten struct {
	CustomerID string `json:"customer_id"`
	Version    uint64 `json:"version"`
	Position   string `json:"position,omitempty"`
}

// moveMoney runs an account command: path id, optional If-Match (the
// account's ETag), a JSON body (body may be nil for none), and the answer.
func (s *server) moveMoney(c *gin.Context, status int, body any, run func(m commands.Meta, id string, seen uint64) (commands.Result, error)) {
	id, err := customerID(c)
	var seen uint64
	if err == nil {
		seen, err = ifMatch(c, false)
	}
	var m commands.Meta
	if err == nil {
		m, err = meta(c)
	}
	if err == nil && body != nil {
		err = decodeBody(c.Request, c.Writer, s.cfg.MaxBody, body, false)
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
	c.Header("ETag", etag(res.Version))
	w := accountWritten{CustomerID: res.CustomerID, Version: res.Version}
	if !res.Position.IsZero() {
		w.Position = res.Position.String()
		c.Header("X-Position", w.Position)
	}
	respond(c, status, w)
}

func (s *server) issueInvoice(c *gin.Context) {
	var b invoiceBody
	s.moveMoney(c, http.StatusCreated, &b, func(m commands.Meta, id string, seen uint64) (commands.Result, error) {
		return s.cfg.App.Account.IssueInvoice(c, commands.IssueInvoice{Meta: m, CustomerID: id, SeenVersion: seen,
			Invoice: account.InvoiceInput{Number: b.Number, IssuedOn: day(b.IssuedOn), DueOn: b.DueOn, Currency: b.Currency,
				Subtotal: b.Subtotal, Tax: b.Tax, Reference: b.Reference}})
	})
}

func (s *server) voidInvoice(c *gin.Context) {
	var b voidBody
	body := any(&b)
	if c.Request.ContentLength == 0 {
		body = nil // a void needs no body
	}
	s.moveMoney(c, http.StatusOK, body, func(m commands.Meta, id string, seen uint64) (commands.Result, error) {
		return s.cfg.App.Account.VoidInvoice(c, commands.VoidInvoice{Meta: m, CustomerID: id, SeenVersion: seen,
			Number: c.Param("number"), Reason: b.Reason, On: day(b.VoidedOn)})
	})
}

func (s *server) receivePayment(c *gin.Context) {
	var b paymentBody
	s.moveMoney(c, http.StatusCreated, &b, func(m commands.Meta, id string, seen uint64) (commands.Result, error) {
		return s.cfg.App.Account.ReceivePayment(c, commands.ReceivePayment{Meta: m, CustomerID: id, SeenVersion: seen,
			Payment: account.PaymentInput{PaymentID: b.PaymentID, Amount: b.Amount, Currency: b.Currency, Method: b.Method,
				Reference: b.Reference, ReceivedOn: day(b.ReceivedOn), Allocations: allocations(b.Allocations)}})
	})
}

func (s *server) refundPayment(c *gin.Context) {
	var b refundBody
	s.moveMoney(c, http.StatusCreated, &b, func(m commands.Meta, id string, seen uint64) (commands.Result, error) {
		return s.cfg.App.Account.RefundPayment(c, commands.RefundPayment{Meta: m, CustomerID: id, SeenVersion: seen,
			Refund: account.RefundInput{PaymentID: b.PaymentID, Amount: b.Amount, RefundedOn: day(b.RefundedOn), Reason: b.Reason,
				Invoices: allocations(b.Invoices)}})
	})
}

func (s *server) addStoreCredit(c *gin.Context) {
	var b creditBody
	s.moveMoney(c, http.StatusCreated, &b, func(m commands.Meta, id string, seen uint64) (commands.Result, error) {
		return s.cfg.App.Account.AddStoreCredit(c, commands.AddStoreCredit{Meta: m, CustomerID: id, SeenVersion: seen,
			Credit: account.CreditInput{Amount: b.Amount, Currency: b.Currency, AddedOn: day(b.AddedOn), Reference: b.Reference, Message: b.Message}})
	})
}

func (s *server) applyStoreCredit(c *gin.Context) {
	var b applyCreditBody
	s.moveMoney(c, http.StatusCreated, &b, func(m commands.Meta, id string, seen uint64) (commands.Result, error) {
		return s.cfg.App.Account.ApplyStoreCredit(c, commands.ApplyStoreCredit{Meta: m, CustomerID: id, SeenVersion: seen,
			Invoice: b.Invoice, Amount: b.Amount, On: day(b.AppliedOn)})
	})
}

func (s *server) setCreditLimit(c *gin.Context) {
	var b creditLimitBody
	s.moveMoney(c, http.StatusOK, &b, func(m commands.Meta, id string, seen uint64) (commands.Result, error) {
		return s.cfg.App.Account.SetCreditLimit(c, commands.SetCreditLimit{Meta: m, CustomerID: id, SeenVersion: seen,
			Limit: b.Limit, Currency: b.Currency})
	})
}

// asOf reads the as_of query parameter: a date, default today.
func asOf(c *gin.Context) (account.Date, error) {
	s := c.Query("as_of")
	if s == "" {
		return account.DateOf(time.Now()), nil
	}
	d, err := account.ParseDate(s)
	if err != nil {
		return 0, invalid(FieldProblem{Field: "query.as_of", Message: "must be a date like 2026-03-31"})
	}
	return d, nil
}

type bucketsBody struct {
	Current    int64 `json:"current"`
	Days1to30  int64 `json:"days_1_30"`
	Days31to60 int64 `json:"days_31_60"`
	Days61to90 int64 `json:"days_61_90"`
	Over90     int64 `json:"over_90"`
}

func bucketsOf(b account.Buckets) bucketsBody {
	return bucketsBody{b.Current, b.Days1to30, b.Days31to60, b.Days61to90, b.Over90}
}

// holdBody says why a customer is on credit hold; absent when it is not.
type holdBody struct {
	OverLimit bool `json:"over_limit"`
	Overdue90 bool `json:"overdue_90"`
}

func holdOf(h account.Hold) *holdBody {
	if !h.On() {
		return nil
	}
	return &holdBody{OverLimit: h.OverLimit, Overdue90: h.Overdue90}
}

type balanceBody struct {
	CustomerID  string        `json:"customer_id"`
	Number      int64         `json:"number,omitempty"`
	AsOf        account.Date  `json:"as_of"`
	Version     uint64        `json:"version"`
	Currency    string        `json:"currency,omitempty"`
	Open        int64         `json:"open"`
	Overdue     int64         `json:"overdue"`
	OldestDue   *account.Date `json:"oldest_due,omitempty"`
	Aging       bucketsBody   `json:"aging"`
	StoreCredit int64         `json:"store_credit"`
	CreditLimit *int64        `json:"credit_limit,omitempty"`
	CreditHold  *holdBody     `json:"credit_hold,omitempty"`
}

func balanceOf(st balances.Standing) balanceBody {
	return balanceBody{CustomerID: st.CustomerID, Number: st.Number, AsOf: st.AsOf, Version: st.Version, Currency: st.Currency,
		Open: st.Open, Overdue: st.Overdue, OldestDue: st.OldestDue, Aging: bucketsOf(st.Buckets), StoreCredit: st.StoreCredit,
		CreditLimit: st.CreditLimit, CreditHold: holdOf(st.Hold)}
}

func (s *server) balance(c *gin.Context) {
	id, err := customerID(c)
	var on account.Date
	if err == nil {
		err = unknownParams(c, "as_of", "min_position")
	}
	if err == nil {
		on, err = asOf(c)
	}
	if err == nil {
		err = s.minPosition(c, s.cfg.Balances)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	st, ok, err := balances.Balance(c, s.cfg.Redis, id, on)
	if err == nil && !ok {
		err = commands.ErrCustomerNotFound
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("ETag", etag(st.Version))
	respond(c, http.StatusOK, balanceOf(st))
}

type historyLineBody struct {
	Kind    string       `json:"kind"`
	On      account.Date `json:"on"`
	Ref     string       `json:"ref,omitempty"`
	Amount  int64        `json:"amount"`
	Method  string       `json:"method,omitempty"`
	Balance int64        `json:"balance"`
}

type billingHistoryBody struct {
	CustomerID string            `json:"customer_id"`
	Currency   string            `json:"currency,omitempty"`
	Items      []historyLineBody `json:"items"`
	Next       string            `json:"next,omitempty"`
}

func (s *server) billingHistory(c *gin.Context) {
	id, err := customerID(c)
	limit := 0
	if err == nil {
		err = unknownParams(c, "after", "limit", "min_position")
	}
	if err == nil {
		limit, err = queryLimit(c)
	}
	if err == nil {
		err = s.minPosition(c, s.cfg.Balances)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	if limit == 0 {
		limit = 50
	}
	page, ok, err := balances.History(c, s.cfg.Redis, id, c.Query("after"), limit)
	if err == nil && !ok {
		err = commands.ErrCustomerNotFound
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	body := billingHistoryBody{CustomerID: id, Currency: page.Currency, Items: make([]historyLineBody, 0, len(page.Lines)), Next: page.Next}
	for _, l := range page.Lines {
		body.Items = append(body.Items, historyLineBody{Kind: l.Kind.String(), On: l.On, Ref: l.Ref, Amount: l.Amount, Method: l.Method, Balance: l.Balance})
	}
	respond(c, http.StatusOK, body)
}

type reportBody struct {
	Currency    string        `json:"currency,omitempty"`
	AsOf        account.Date  `json:"as_of"`
	Order       string        `json:"order"`
	Totals      bucketsBody   `json:"totals"`
	Open        int64         `json:"open"`
	Overdue     int64         `json:"overdue"`
	StoreCredit int64         `json:"store_credit"`
	Items       []balanceBody `json:"items"`
	Next        string        `json:"next,omitempty"`
}

// unpaidBalances is the company's report: JSON pages, or the whole ranking as
// CSV (Accept: text/csv), streamed page by page.
func (s *server) unpaidBalances(c *gin.Context) {
	q := balances.ReportRequest{Zone: c.Query("zone"), Salesperson: c.Query("salesperson"), Currency: c.Query("currency"), After: c.Query("after")}
	err := unknownParams(c, "as_of", "zone", "salesperson", "currency", "order", "after", "limit", "min_position")
	if err == nil {
		q.AsOf, err = asOf(c)
	}
	if err == nil {
		q.Limit, err = queryLimit(c)
	}
	if err == nil {
		switch o := c.DefaultQuery("order", "open"); o {
		case "open", "overdue":
			q.Order = balances.Order(o)
		default:
			err = invalid(FieldProblem{Field: "query.order", Message: "must be open or overdue"})
		}
	}
	if err == nil && q.Currency != "" {
		if _, cerr := account.ParseCurrency(q.Currency); cerr != nil {
			err = invalid(FieldProblem{Field: "query.currency", Message: "must be an ISO 4217 currency code, like USD"})
		}
	}
	if err == nil {
		err = s.minPosition(c, s.cfg.Balances)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	if strings.Contains(c.GetHeader("Accept"), "text/csv") {
		s.unpaidBalancesCSV(c, q)
		return
	}
	rep, err := balances.UnpaidBalances(c, s.cfg.Redis, q)
	if err != nil {
		_ = c.Error(err)
		return
	}
	body := reportBody{Currency: rep.Currency, AsOf: rep.AsOf, Order: string(q.Order), Totals: bucketsOf(rep.Totals),
		Open: rep.Totals.Total(), Overdue: rep.Totals.Overdue(), StoreCredit: rep.StoreCredit,
		Items: make([]balanceBody, 0, len(rep.Rows)), Next: rep.Next}
	for _, r := range rep.Rows {
		body.Items = append(body.Items, balanceOf(r))
	}
	respond(c, http.StatusOK, body)
}

var reportColumns = []string{"customer_id", "number", "currency", "open", "overdue", "current", "days_1_30", "days_31_60",
	"days_61_90", "over_90", "oldest_due", "store_credit", "credit_limit", "credit_hold"}

func (s *server) unpaidBalancesCSV(c *gin.Context, q balances.ReportRequest) {
	q.Limit = 1000
	s.streamCSV(c, "unpaid-balances-"+q.AsOf.String()+".csv", reportColumns, func() ([][]string, bool, error) {
		rep, err := balances.UnpaidBalances(c, s.cfg.Redis, q)
		if err != nil {
			return nil, false, err
		}
		rows := make([][]string, 0, len(rep.Rows))
		for _, r := range rep.Rows {
			oldest, limit := "", ""
			if r.OldestDue != nil {
				oldest = r.OldestDue.String()
			}
			if r.CreditLimit != nil {
				limit = strconv.FormatInt(*r.CreditLimit, 10)
			}
			n := func(v int64) string { return strconv.FormatInt(v, 10) }
			rows = append(rows, []string{r.CustomerID, n(r.Number), r.Currency, n(r.Open), n(r.Overdue), n(r.Buckets.Current),
				n(r.Buckets.Days1to30), n(r.Buckets.Days31to60), n(r.Buckets.Days61to90), n(r.Buckets.Over90), oldest,
				n(r.StoreCredit), limit, strconv.FormatBool(r.Hold.On())})
		}
		q.After = rep.Next
		return rows, rep.Next != "", nil
	})
}

// streamCSV answers a report as CSV, page after page: page returns the next
// page's rows and whether more follow. The first page is read before anything
// is written, so its failure is still a problem answer; a later one can only
// cut the body short, which a client sees as a broken download, not a
// complete file.
func (s *server) streamCSV(c *gin.Context, filename string, header []string, page func() ([][]string, bool, error)) {
	rows, more, err := page()
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="`+filename+`"`)
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	_ = w.Write(header)
	for {
		_ = w.WriteAll(rows)
		if !more || w.Error() != nil {
			return
		}
		if rows, more, err = page(); err != nil {
			s.cfg.Logger.Error("CSV cut short", "file", filename, "error", err, "request_id", c.GetString(requestIDKey))
			panic(http.ErrAbortHandler)
		}
	}
}

// holds says which of the customers are on credit hold today, for the
// profile, the list and the search results. While the balances read model is
// being built, nobody shows as on hold: the customer screens still answer.
func (s *server) holds(c *gin.Context, ids []string) (map[string]*holdBody, error) {
	hs, err := balances.Holds(c, s.cfg.Redis, ids, account.DateOf(time.Now()))
	if errors.Is(err, balances.ErrNotReady) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string]*holdBody, len(hs))
	for id, h := range hs {
		out[id] = holdOf(h)
	}
	return out, nil
}
