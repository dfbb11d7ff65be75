package api_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

type accountWritten struct {
	CustomerID string `json:"customer_id"`
	Version    uint64 `json:"version"`
	Position   string `json:"position"`
}

type balance struct {
	Open        int64            `json:"open"`
	Overdue     int64            `json:"overdue"`
	StoreCredit int64            `json:"store_credit"`
	Aging       map[string]int64 `json:"aging"`
	CreditHold  *struct {
		OverLimit bool `json:"over_limit"`
		Overdue90 bool `json:"overdue_90"`
	} `json:"credit_hold"`
	Version uint64 `json:"version"`
}

// money posts an account command and returns its answer.
func (f *fixture) money(t *testing.T, id, path string, body any, header map[string]string) (response, accountWritten) {
	t.Helper()
	method := "POST"
	if path == "/credit-limit" {
		method = "PUT"
	}
	r := f.do(t, req{method: method, path: "/v1/customers/" + id + path, role: "coordinator", body: body, header: header})
	var w accountWritten
	if r.Status < 300 {
		r.json(t, &w)
	}
	return r, w
}

func (f *fixture) balance(t *testing.T, id, asOf, position, role string) balance {
	t.Helper()
	path := "/v1/customers/" + id + "/balance"
	if asOf != "" {
		path += "?as_of=" + asOf
	}
	r := f.do(t, req{method: "GET", path: path, role: role, header: map[string]string{"X-Min-Position": position}})
	if r.Status != 200 {
		t.Fatalf("balance: %d %s", r.Status, r.Body)
	}
	var b balance
	r.json(t, &b)
	return b
}

func TestAccountTour(t *testing.T) {
	f := newFixture(t)
	c := person("Ada", "Byron", "ada@example.com")
	c["payment_term"], c["tax_rate_millionths"] = "Net 30", 100_000 // 10%
	cust := f.register(t, c)

	r, w := f.money(t, cust.ID, "/invoices", map[string]any{"number": "INV-1", "issued_on": "2026-01-10", "currency": "usd", "subtotal": 10_000}, nil)
	if r.Status != 201 || w.Version != 1 || r.Header.Get("ETag") != `"1"` {
		t.Fatalf("invoice: %d %s", r.Status, r.Body)
	}
	// Net 30 from 2026-01-10: due 2026-02-09; total 11,000 with 10% tax.
	b := f.balance(t, cust.ID, "2026-02-09", w.Position, "technician")
	if b.Open != 11_000 || b.Overdue != 0 || b.Aging["current"] != 11_000 {
		t.Fatalf("on the due date: %+v", b)
	}
	_, w = f.money(t, cust.ID, "/payments", map[string]any{"amount": 4_000, "method": "check", "reference": "chk 1001", "received_on": "2026-02-01"},
		map[string]string{"If-Match": `"1"`})
	for _, c := range []struct{ asOf, bucket string }{{"2026-02-10", "days_1_30"}, {"2026-03-15", "days_31_60"}, {"2026-05-20", "over_90"}} {
		b = f.balance(t, cust.ID, c.asOf, w.Position, "technician")
		if b.Open != 7_000 || b.Overdue != 7_000 || b.Aging[c.bucket] != 7_000 {
			t.Errorf("on %s: %+v, want 7000 in %s", c.asOf, b, c.bucket)
		}
	}
	if b.CreditHold == nil || !b.CreditHold.Overdue90 {
		t.Errorf("90 days past due is a credit hold: %+v", b.CreditHold)
	}
	_, w = f.money(t, cust.ID, "/store-credits", map[string]any{"amount": 2_000, "reference": "GC-1", "message": "loyalty"}, nil)
	r, w = f.money(t, cust.ID, "/store-credits/apply", map[string]any{"invoice": "INV-1"}, nil)
	if r.Status != 201 {
		t.Fatalf("apply: %d %s", r.Status, r.Body)
	}
	b = f.balance(t, cust.ID, "2026-02-10", w.Position, "auditor")
	if b.Open != 5_000 || b.StoreCredit != 0 {
		t.Errorf("after the credit: %+v", b)
	}
	// A paid invoice is not voided before a refund.
	r, _ = f.money(t, cust.ID, "/invoices/INV-1/void", map[string]any{"reason": "duplicate"}, nil)
	if p := r.problem(t); r.Status != 422 || p.Code != "account-rule-violated" || p.Errors[0].Kind != "invoice-paid" {
		t.Errorf("void of a paid invoice: %d %s", r.Status, r.Body)
	}
	if r, _ = f.money(t, cust.ID, "/invoices/NOPE/void", nil, nil); r.Status != 404 || r.problem(t).Code != "invoice-not-found" {
		t.Errorf("void of an unknown invoice: %d %s", r.Status, r.Body)
	}
	r, w = f.money(t, cust.ID, "/invoices", map[string]any{"number": "INV-2", "issued_on": "2026-02-01", "due_on": "2026-02-01", "subtotal": 500, "tax": 0}, nil)
	if r.Status != 201 {
		t.Fatalf("second invoice: %d %s", r.Status, r.Body)
	}
	if r, w = f.money(t, cust.ID, "/invoices/INV-2/void", nil, nil); r.Status != 200 {
		t.Fatalf("void: %d %s", r.Status, r.Body)
	}
	h := f.do(t, req{method: "GET", path: "/v1/customers/" + cust.ID + "/billing-history", role: "auditor", header: map[string]string{"X-Min-Position": w.Position}})
	var hist struct {
		Items []struct {
			Kind    string `json:"kind"`
			Balance int64  `json:"balance"`
		} `json:"items"`
	}
	h.json(t, &hist)
	var kinds []string
	for _, l := range hist.Items {
		kinds = append(kinds, l.Kind)
	}
	if got := strings.Join(kinds, ","); got != "invoice,payment,invoice,store_credit,store_credit_applied,void" || hist.Items[len(hist.Items)-1].Balance != 5_000 {
		t.Errorf("history %s %s", got, h.Body)
	}

	// Money 90 days past due today puts the customer on hold, in its profile,
	// the list and search results.
	for _, path := range []string{"/v1/customers/" + cust.ID, "/v1/customers", "/v1/customers?q=byron"} {
		r := f.do(t, req{method: "GET", path: path, role: "technician", header: map[string]string{"X-Min-Position": cust.Position}})
		if !strings.Contains(string(r.Body), `"credit_hold":{"over_limit":false,"overdue_90":true}`) {
			t.Errorf("%s shows no credit hold: %s", path, r.Body)
		}
	}

	// The report: a technician may not read it; the CSV lists the customer.
	if r := f.do(t, req{method: "GET", path: "/v1/reports/unpaid-balances", role: "technician"}); r.Status != 403 {
		t.Errorf("technician reads the report: %d", r.Status)
	}
	rep := f.do(t, req{method: "GET", path: "/v1/reports/unpaid-balances?as_of=2026-03-15&order=overdue", role: "admin"})
	if rep.Status != 200 || !strings.Contains(string(rep.Body), cust.ID) || !strings.Contains(string(rep.Body), `"days_31_60":5000`) {
		t.Errorf("report: %d %s", rep.Status, rep.Body)
	}
	csvAnswer := f.do(t, req{method: "GET", path: "/v1/reports/unpaid-balances?as_of=2026-03-15", role: "admin", header: map[string]string{"Accept": "text/csv"}})
	rows, err := csv.NewReader(strings.NewReader(string(csvAnswer.Body))).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][0] != cust.ID || rows[1][3] != "5000" {
		t.Errorf("CSV report: %v %q", err, csvAnswer.Body)
	}
}

func TestAccountRefusals(t *testing.T) {
	f := newFixture(t)
	cust := f.register(t, person("Bo", "Lee", "bo@example.com"))
	_, w := f.money(t, cust.ID, "/invoices", map[string]any{"number": "INV-1", "currency": "EUR", "subtotal": 1_000}, nil)
	for _, c := range []struct {
		path   string
		body   any
		status int
		fields []string
	}{
		{"/invoices", map[string]any{"number": "INV-1", "currency": "USD", "subtotal": -5}, 422, []string{"number", "currency", "subtotal"}},
		{"/invoices", map[string]any{"number": "INV-9", "subtotal": 10, "due_on": "31/12/2026"}, 400, []string{"due_on"}},
		{"/payments", map[string]any{"amount": 500, "method": "bitcoin"}, 400, []string{"method"}},
		{"/payments", map[string]any{"amount": 500, "method": "cash", "allocations": []map[string]any{{"invoice": "INV-1", "amount": 600}}}, 422, []string{"allocations"}},
		{"/payments", map[string]any{"amount": 5000, "method": "cash", "allocations": []map[string]any{{"invoice": "INV-1", "amount": 1001}}}, 422, []string{"allocations[0].amount"}},
		{"/refunds", map[string]any{"payment_id": "nope", "amount": 1}, 422, []string{"payment_id"}},
		{"/store-credits/apply", map[string]any{"invoice": "INV-1", "amount": 10}, 422, []string{"amount"}},
		{"/credit-limit", map[string]any{"limit": -1}, 422, []string{"limit"}},
	} {
		r, _ := f.money(t, cust.ID, c.path, c.body, nil)
		if r.Status != c.status {
			t.Errorf("%s %v: %d %s", c.path, c.body, r.Status, r.Body)
			continue
		}
		var fields []string
		for _, e := range r.problem(t).Errors {
			fields = append(fields, e.Field)
		}
		if strings.Join(fields, ",") != strings.Join(c.fields, ",") {
			t.Errorf("%s %v: fields %v, want %v", c.path, c.body, fields, c.fields)
		}
	}
	b := f.balance(t, cust.ID, "", w.Position, "coordinator")
	if b.Version != 1 || b.Open != 1_000 {
		t.Errorf("refusals changed the account: %+v", b)
	}
	if r, _ := f.money(t, "00000000-0000-0000-0000-000000000001", "/payments", map[string]any{"amount": 1, "method": "cash", "currency": "USD"}, nil); r.Status != 404 {
		t.Errorf("payment for no customer: %d", r.Status)
	}
	r := f.do(t, req{method: "POST", path: "/v1/customers/" + cust.ID + "/payments", role: "technician", body: map[string]any{"amount": 1, "method": "cash"}})
	if r.Status != 403 {
		t.Errorf("a technician records a payment: %d", r.Status)
	}
}

// TestConcurrentPayments: one Idempotency-Key sent 20 times at once records
// one payment; 16 payments racing on one If-Match record one, and the others
// are told the account changed, with nothing lost.
func TestConcurrentPayments(t *testing.T) {
	f := newFixture(t)
	cust := f.register(t, person("Cy", "Ng", "cy@example.com"))
	_, w := f.money(t, cust.ID, "/invoices", map[string]any{"number": "INV-1", "currency": "USD", "subtotal": 100_000}, nil)

	var mu sync.Mutex
	last := w.Position
	race := func(n int, body func(i int) any, header func(i int) map[string]string) []int {
		statuses := make([]int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				r, aw := f.money(t, cust.ID, "/payments", body(i), header(i))
				statuses[i] = r.Status
				if r.Status == 201 {
					mu.Lock()
					last = aw.Position
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		return statuses
	}
	count := func(ss []int, s int) int {
		n := 0
		for _, x := range ss {
			if x == s {
				n++
			}
		}
		return n
	}
	same := race(20, func(int) any { return map[string]any{"amount": 1_000, "method": "card"} },
		func(int) map[string]string { return map[string]string{"Idempotency-Key": "pay-once"} })
	if count(same, 201)+count(same, http.StatusConflict) != 20 || count(same, 201) < 1 {
		t.Fatalf("one key, 20 requests: %v", same)
	}
	// Retry until every request with the key has its answer: all the same payment.
	for i := range 20 {
		if same[i] == http.StatusConflict {
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				r, _ := f.money(t, cust.ID, "/payments", map[string]any{"amount": 1_000, "method": "card"}, map[string]string{"Idempotency-Key": "pay-once"})
				if r.Status == 201 {
					break
				}
			}
		}
	}
	bal := f.balance(t, cust.ID, "", last, "coordinator")
	if bal.Version != 2 || bal.Open != 99_000 {
		t.Fatalf("after 20 requests with one key: version %d, open %d; want one payment", bal.Version, bal.Open)
	}

	racers := race(16, func(i int) any { return map[string]any{"amount": 100 + i, "method": "cash"} },
		func(int) map[string]string { return map[string]string{"If-Match": `"2"`} })
	if won := count(racers, 201); won != 1 || count(racers, http.StatusPreconditionFailed)+count(racers, http.StatusConflict) != 15 {
		t.Fatalf("16 payments on one If-Match: %v", racers)
	}
	won := 0
	for i, s := range racers {
		if s == 201 {
			won = 100 + i
		}
	}
	after := f.balance(t, cust.ID, "", last, "coordinator")
	if after.Version != 3 || after.Open != int64(99_000-won) {
		t.Errorf("after the race: %+v, want version 3 and open %d", after, 99_000-won)
	}
}
