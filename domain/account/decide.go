package account

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/fieldservice/customer-service/domain/customer"
)

// Limits of free text.
const (
	maxRef    = 100  // invoice numbers, payment ids, references
	maxReason = 2000 // reasons and messages
)

// Terms are what the customer's own record decides about an invoice: the
// customer aggregate's fields, read by the command that issues it.
type Terms struct {
	PaymentTerm     string // "" means due on receipt
	TaxRate         int64  // millionths
	TaxExempt       bool
	TaxExemptReason string
	UseCompanyName  bool
}

// TermsOf reads an invoice's terms from a customer's details.
func TermsOf(d customer.Details) Terms {
	return Terms{PaymentTerm: d.PaymentTerm, TaxRate: int64(d.TaxRate), TaxExempt: d.TaxExempt,
		TaxExemptReason: d.TaxExemptReason, UseCompanyName: d.UseCompanyName}
}

// InvoiceInput is an invoice to issue. DueOn and Tax are optional: the due
// date then follows the customer's payment term, and the tax its tax rate
// (zero when it is tax exempt).
type InvoiceInput struct {
	Number    string
	IssuedOn  Date
	DueOn     *Date
	Currency  string
	Subtotal  int64
	Tax       *int64
	Reference string
}

// IssueInvoice decides an invoice.
func (a *Account) IssueInvoice(in InvoiceInput, t Terms) ([]Event, error) {
	var ps problems
	ps.ref("number", in.Number)
	if _, dup := a.invoices[in.Number]; dup {
		ps.add("number", ErrDuplicateInvoice, "invoice %s already exists in this account", in.Number)
	}
	cur := a.checkCurrency(&ps, "currency", in.Currency)
	ps.amount("subtotal", in.Subtotal)
	ps.text("reference", in.Reference, maxRef)
	e := InvoiceIssued{Number: in.Number, IssuedOn: in.IssuedOn, Currency: cur, Subtotal: in.Subtotal,
		Reference: in.Reference, BillToCompany: t.UseCompanyName}
	switch {
	case in.DueOn != nil:
		if *in.DueOn < in.IssuedOn {
			ps.add("due_on", ErrDates, "must not be before the issue date %s", in.IssuedOn)
		}
		e.DueOn = *in.DueOn
	case t.PaymentTerm == "":
		e.DueOn, e.Term = in.IssuedOn, customer.DueOnReceipt.String()
	default:
		term, err := customer.ParsePaymentTerm(t.PaymentTerm)
		if err != nil {
			ps.add("due_on", ErrUnknownPaymentTerm, "the customer's payment term %q is not one the service knows; give due_on, or set the customer's payment_term to due_on_receipt or net_<days>", t.PaymentTerm)
		}
		e.DueOn, e.Term = in.IssuedOn.AddDays(term.Days()), term.String()
	}
	switch {
	case t.TaxExempt:
		if in.Tax != nil && *in.Tax != 0 {
			ps.add("tax", ErrTaxExempt, "the customer is tax exempt (%s): the tax must be 0", t.TaxExemptReason)
		}
		e.TaxExemptReason = t.TaxExemptReason
	case in.Tax != nil:
		if *in.Tax < 0 || *in.Tax > MaxAmount {
			ps.add("tax", ErrAmount, "must be zero or a positive amount in minor units, at most %d", int64(MaxAmount))
		} else {
			e.Tax = *in.Tax
		}
	case in.Subtotal > 0 && in.Subtotal <= MaxAmount:
		var ok bool
		if e.Tax, ok = tax(in.Subtotal, t.TaxRate); !ok {
			ps.add("subtotal", ErrOverflow, "the tax on it overflows")
		}
		e.TaxRate = t.TaxRate
	}
	if total, ok := add(e.Subtotal, e.Tax); !ok || total > MaxAmount {
		ps.add("subtotal", ErrOverflow, "subtotal and tax add up to more than %d", int64(MaxAmount))
	} else {
		e.Total = total
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

// VoidInvoice cancels an invoice that nothing was paid on. Store credit
// applied to it returns to the account's store credit.
func (a *Account) VoidInvoice(number, reason string, on Date) ([]Event, error) {
	var ps problems
	ps.text("reason", reason, maxReason)
	i, ok := a.invoices[number]
	switch {
	case !ok:
		ps.add("number", ErrInvoiceNotFound, "invoice %s is not in this account", number)
	case i.Voided:
		ps.add("number", ErrInvoiceVoided, "invoice %s is voided already", number)
	case i.Paid > 0:
		ps.add("number", ErrInvoicePaid, "invoice %s has %d paid on it: refund the payments first", number, i.Paid)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return []Event{InvoiceVoided{Number: number, VoidedOn: on, Reason: reason, CreditReturned: i.Credited}}, nil
}

// PaymentInput is a payment received. Without allocations, it pays the open
// invoices oldest due first; what is left becomes store credit.
type PaymentInput struct {
	PaymentID   string
	Amount      int64
	Currency    string
	Method      Method
	Reference   string
	ReceivedOn  Date
	Allocations []Allocation // nil: automatic
}

// ReceivePayment decides a payment.
func (a *Account) ReceivePayment(in PaymentInput) ([]Event, error) {
	var ps problems
	ps.ref("payment_id", in.PaymentID)
	if _, dup := a.payments[in.PaymentID]; dup {
		ps.add("payment_id", ErrDuplicatePayment, "payment %s is already recorded", in.PaymentID)
	}
	ps.amount("amount", in.Amount)
	cur := a.checkCurrency(&ps, "currency", in.Currency)
	if in.Method == (Method{}) {
		ps.add("method", ErrUnknownMethod, "must be cash, check, card, ach or other")
	}
	ps.text("reference", in.Reference, maxRef)
	allocs := in.Allocations
	if allocs == nil && in.Amount > 0 {
		allocs = a.oldestFirst(in.Amount)
	}
	var allocated int64
	seen := map[string]bool{}
	for k, al := range allocs {
		path := fmt.Sprintf("allocations[%d]", k)
		i, ok := a.invoices[al.Invoice]
		switch {
		case !ok:
			ps.add(path+".invoice", ErrInvoiceNotFound, "invoice %q is not in this account", al.Invoice)
		case seen[al.Invoice]:
			ps.add(path+".invoice", ErrInvalid, "invoice %s is allocated twice", al.Invoice)
		case i.Voided:
			ps.add(path+".invoice", ErrInvoiceVoided, "invoice %s is voided", al.Invoice)
		case al.Amount > i.Open():
			ps.add(path+".amount", ErrOverAllocated, "invoice %s has only %d open", al.Invoice, i.Open())
		}
		seen[al.Invoice] = true
		ps.amount(path+".amount", al.Amount)
		if al.Amount > 0 && al.Amount <= MaxAmount {
			allocated += al.Amount // at most len(allocs) × MaxAmount: no overflow
		}
	}
	if allocated > in.Amount && in.Amount > 0 {
		ps.add("allocations", ErrOverAllocated, "allocations add up to %d, more than the payment's %d", allocated, in.Amount)
	}
	toCredit := in.Amount - allocated
	if c, ok := add(a.credit, toCredit); ok && c > MaxAmount*1000 || !ok {
		ps.add("amount", ErrOverflow, "the store credit would overflow")
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return []Event{PaymentReceived{PaymentID: in.PaymentID, Amount: in.Amount, Currency: cur, Method: in.Method,
		Reference: in.Reference, ReceivedOn: in.ReceivedOn, Allocations: allocs, ToCredit: toCredit}}, nil
}

// oldestFirst allocates amount to the open invoices, the oldest due first.
func (a *Account) oldestFirst(amount int64) []Allocation {
	items := a.OpenItems()
	slices.SortStableFunc(items, func(x, y OpenItem) int { return int(x.DueOn - y.DueOn) })
	var out []Allocation
	for _, it := range items {
		if amount == 0 {
			break
		}
		n := min(amount, it.Open)
		out = append(out, Allocation{Invoice: it.Number, Amount: n})
		amount -= n
	}
	return out
}

// RefundInput is money of a payment given back. Invoices says which invoices
// it takes back from; without them, it takes from the payment's store credit
// first, then from its invoices, the last allocated first.
type RefundInput struct {
	PaymentID  string
	Amount     int64
	RefundedOn Date
	Reason     string
	Invoices   []Allocation // nil: automatic
}

// RefundPayment decides a refund.
func (a *Account) RefundPayment(in RefundInput) ([]Event, error) {
	var ps problems
	ps.amount("amount", in.Amount)
	ps.text("reason", in.Reason, maxReason)
	p, ok := a.payments[in.PaymentID]
	if !ok {
		ps.add("payment_id", ErrPaymentNotFound, "payment %q is not in this account", in.PaymentID)
		return nil, ps.err()
	}
	if left := p.Amount - p.Refunded; in.Amount > left {
		ps.add("amount", ErrOverRefunded, "payment %s has %d left to refund", in.PaymentID, left)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	e := PaymentRefunded{PaymentID: in.PaymentID, Amount: in.Amount, RefundedOn: in.RefundedOn, Reason: in.Reason}
	if in.Invoices == nil {
		e.FromCredit = min(in.Amount, p.ToCredit, a.credit)
		rest := in.Amount - e.FromCredit
		for k := len(p.Allocated) - 1; k >= 0 && rest > 0; k-- {
			if n := min(rest, p.Allocated[k].Amount); n > 0 {
				e.Invoices = append(e.Invoices, Allocation{Invoice: p.Allocated[k].Invoice, Amount: n})
				rest -= n
			}
		}
		if rest > 0 {
			ps.add("amount", ErrInsufficientCredit, "%d of the payment went to store credit that has been spent since", rest)
		}
		return []Event{e}, ps.err()
	}
	var back int64
	for k, al := range in.Invoices {
		path := fmt.Sprintf("invoices[%d]", k)
		ps.amount(path+".amount", al.Amount)
		have := int64(0)
		for _, pa := range p.Allocated {
			if pa.Invoice == al.Invoice {
				have = pa.Amount
			}
		}
		if al.Amount > have {
			ps.add(path+".amount", ErrOverAllocated, "payment %s has %d on invoice %q", in.PaymentID, have, al.Invoice)
		}
		if al.Amount > 0 && al.Amount <= MaxAmount {
			back += al.Amount
		}
	}
	switch {
	case back > in.Amount:
		ps.add("invoices", ErrOverAllocated, "takes back %d, more than the refund's %d", back, in.Amount)
	case in.Amount-back > min(p.ToCredit, a.credit):
		ps.add("amount", ErrInsufficientCredit, "the %d not taken back from invoices must come from the payment's store credit, and only %d of it is left",
			in.Amount-back, min(p.ToCredit, a.credit))
	}
	e.Invoices, e.FromCredit = in.Invoices, in.Amount-back
	if err := ps.err(); err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

// CreditInput is store credit given to the customer.
type CreditInput struct {
	Amount    int64
	Currency  string
	AddedOn   Date
	Reference string
	Message   string
}

// AddStoreCredit decides store credit.
func (a *Account) AddStoreCredit(in CreditInput) ([]Event, error) {
	var ps problems
	ps.amount("amount", in.Amount)
	cur := a.checkCurrency(&ps, "currency", in.Currency)
	ps.text("reference", in.Reference, maxRef)
	ps.text("message", in.Message, maxReason)
	if c, ok := add(a.credit, in.Amount); !ok || c > MaxAmount*1000 {
		ps.add("amount", ErrOverflow, "the store credit would overflow")
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return []Event{StoreCreditAdded{Amount: in.Amount, Currency: cur, AddedOn: in.AddedOn, Reference: in.Reference, Message: in.Message}}, nil
}

// ApplyStoreCredit pays an invoice from store credit: amount, or as much as
// both allow when amount is 0.
func (a *Account) ApplyStoreCredit(number string, amount int64, on Date) ([]Event, error) {
	var ps problems
	i, ok := a.invoices[number]
	switch {
	case !ok:
		ps.add("invoice", ErrInvoiceNotFound, "invoice %q is not in this account", number)
		return nil, ps.err()
	case i.Voided:
		ps.add("invoice", ErrInvoiceVoided, "invoice %s is voided", number)
		return nil, ps.err()
	}
	if amount == 0 {
		amount = min(a.credit, i.Open())
		if amount == 0 {
			ps.add("amount", ErrInsufficientCredit, "there is no store credit to apply, or nothing open on invoice %s", number)
		}
	} else {
		ps.amount("amount", amount)
		if amount > i.Open() {
			ps.add("amount", ErrOverAllocated, "invoice %s has only %d open", number, i.Open())
		}
		if amount > a.credit {
			ps.add("amount", ErrInsufficientCredit, "the account holds %d of store credit", a.credit)
		}
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return []Event{StoreCreditApplied{Invoice: number, Amount: amount, AppliedOn: on}}, nil
}

// SetCreditLimit sets the credit limit, or removes it (nil).
func (a *Account) SetCreditLimit(limit *int64, currency string) ([]Event, error) {
	var ps problems
	cur := a.checkCurrency(&ps, "currency", currency)
	if limit != nil && (*limit < 0 || *limit > MaxAmount) {
		ps.add("limit", ErrAmount, "must be zero or a positive amount in minor units, at most %d", int64(MaxAmount))
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	if limit == nil && a.limit == nil || limit != nil && a.limit != nil && *limit == *a.limit {
		return nil, nil // no change
	}
	return []Event{CreditLimitSet{Limit: limit, Currency: cur}}, nil
}

// checkCurrency returns the currency an amount is in: the one given, which
// must be the account's once it has one, or the account's.
func (a *Account) checkCurrency(ps *problems, path, c string) string {
	if c == "" {
		if a.currency == "" {
			ps.add(path, ErrRequired, "the account's first amount names its currency (ISO 4217, like USD)")
		}
		return a.currency
	}
	code, err := ParseCurrency(c)
	switch {
	case err != nil:
		ps.add(path, ErrUnknownCurrency, "%q is not an ISO 4217 currency code", c)
	case a.currency != "" && code != a.currency:
		ps.add(path, ErrCurrencyMismatch, "the account is in %s; one account has one currency", a.currency)
	}
	return code
}

// ref checks an invoice number or a payment id: required, short, printable.
func (ps *problems) ref(path, v string) {
	switch {
	case strings.TrimSpace(v) == "":
		ps.add(path, ErrRequired, "is required")
	case len(v) > maxRef:
		ps.add(path, ErrInvalid, "at most %d bytes", maxRef)
	case strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) || r == '/' }) >= 0:
		ps.add(path, ErrInvalid, "must be printable, without '/'")
	}
}
