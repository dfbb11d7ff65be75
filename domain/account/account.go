// Package account is a customer's account with the business: the invoices it
// was issued, the payments it made and their refunds, its store credit and its
// credit limit, in one stream per customer ("account-<customer id>"). Like the
// customer aggregate it is pure: behaviour methods check the rules against the
// state and return events or an *Error listing every problem; Apply is the
// only place state changes, for new events and replayed history alike.
//
// Amounts are int64 minor units of the account's one ISO 4217 currency, set by
// its first invoice, payment, credit or limit. Dates are calendar days. What is
// open and how overdue is computed from the state at any date (Age): a due
// date passing needs no event.
package account

import (
	"fmt"
	"slices"
	"time"

	"github.com/fieldservice/customer-service/domain/actor"
)

// Account is the aggregate's state, rebuilt from its events.
type Account struct {
	customerID string
	version    uint64
	currency   string
	invoices   map[string]*Invoice
	numbers    []string // in issue order
	payments   map[string]*Payment
	paymentIDs []string
	credit     int64
	limit      *int64
}

// Invoice is an invoice as it stands.
type Invoice struct {
	Number          string
	IssuedOn, DueOn Date
	Term            string
	Subtotal, Tax   int64
	Total           int64
	TaxRate         int64
	TaxExemptReason string
	BillToCompany   bool
	Reference       string
	// Paid is what payments settled, net of refunds; Credited what store
	// credit settled.
	Paid, Credited int64
	Voided         bool
	VoidedOn       Date
}

// Open is what is left to pay; nothing on a voided invoice.
func (i Invoice) Open() int64 {
	if i.Voided {
		return 0
	}
	return i.Total - i.Paid - i.Credited
}

// Payment is a payment as it stands.
type Payment struct {
	ID         string
	Amount     int64
	Method     Method
	Reference  string
	ReceivedOn Date
	// Allocated is what is still allocated to each invoice, in allocation
	// order; ToCredit what of it is still store credit.
	Allocated []Allocation
	ToCredit  int64
	Refunded  int64
}

// Recorded is a stored event with the metadata the aggregate keeps.
type Recorded struct {
	Event Event
	At    time.Time
	By    actor.Actor
}

// New returns the account of a customer that has no account events yet.
func New(customerID string) *Account {
	return &Account{customerID: customerID, invoices: map[string]*Invoice{}, payments: map[string]*Payment{}}
}

// Replay rebuilds an account from its history, in order.
func Replay(customerID string, history []Recorded) (*Account, error) {
	a := New(customerID)
	for _, r := range history {
		if err := a.Apply(r); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *Account) CustomerID() string { return a.customerID }
func (a *Account) Version() uint64    { return a.version }

// Currency is the account's currency; "" until its first amount.
func (a *Account) Currency() string { return a.currency }

// StoreCredit is the credit the customer holds.
func (a *Account) StoreCredit() int64 { return a.credit }

// CreditLimit is nil when the account has no limit.
func (a *Account) CreditLimit() *int64 { return a.limit }

// Invoice returns an invoice by number.
func (a *Account) Invoice(number string) (Invoice, bool) {
	i, ok := a.invoices[number]
	if !ok {
		return Invoice{}, false
	}
	return *i, true
}

// Invoices are the account's invoices in issue order.
func (a *Account) Invoices() []Invoice {
	out := make([]Invoice, len(a.numbers))
	for k, n := range a.numbers {
		out[k] = *a.invoices[n]
	}
	return out
}

// Payment returns a payment by id.
func (a *Account) Payment(id string) (Payment, bool) {
	p, ok := a.payments[id]
	if !ok {
		return Payment{}, false
	}
	c := *p
	c.Allocated = slices.Clone(p.Allocated)
	return c, true
}

// PaymentIDs are the account's payments in the order they were received.
func (a *Account) PaymentIDs() []string { return slices.Clone(a.paymentIDs) }

// OpenItems are the invoices with something left to pay, in issue order.
func (a *Account) OpenItems() []OpenItem {
	var out []OpenItem
	for _, n := range a.numbers {
		if i := a.invoices[n]; i.Open() > 0 {
			out = append(out, OpenItem{Number: n, DueOn: i.DueOn, Open: i.Open()})
		}
	}
	return out
}

// Apply changes the state by one recorded event. It trusts the event: the
// decision that produced it checked the rules; a stored event that breaks
// them is an error, not a silent fix.
func (a *Account) Apply(r Recorded) error {
	switch e := r.Event.(type) {
	case InvoiceIssued:
		if _, dup := a.invoices[e.Number]; dup {
			return fmt.Errorf("account %s: invoice %s issued twice", a.customerID, e.Number)
		}
		a.setCurrency(e.Currency)
		a.invoices[e.Number] = &Invoice{Number: e.Number, IssuedOn: e.IssuedOn, DueOn: e.DueOn, Term: e.Term,
			Subtotal: e.Subtotal, Tax: e.Tax, Total: e.Total, TaxRate: e.TaxRate, TaxExemptReason: e.TaxExemptReason,
			BillToCompany: e.BillToCompany, Reference: e.Reference}
		a.numbers = append(a.numbers, e.Number)
	case InvoiceVoided:
		i, ok := a.invoices[e.Number]
		if !ok {
			return fmt.Errorf("account %s: void of unknown invoice %s", a.customerID, e.Number)
		}
		i.Voided, i.VoidedOn = true, e.VoidedOn
		i.Credited -= e.CreditReturned
		a.credit += e.CreditReturned
	case PaymentReceived:
		a.setCurrency(e.Currency)
		p := &Payment{ID: e.PaymentID, Amount: e.Amount, Method: e.Method, Reference: e.Reference,
			ReceivedOn: e.ReceivedOn, Allocated: slices.Clone(e.Allocations), ToCredit: e.ToCredit}
		for _, al := range e.Allocations {
			i, ok := a.invoices[al.Invoice]
			if !ok {
				return fmt.Errorf("account %s: payment to unknown invoice %s", a.customerID, al.Invoice)
			}
			i.Paid += al.Amount
		}
		a.credit += e.ToCredit
		a.payments[e.PaymentID] = p
		a.paymentIDs = append(a.paymentIDs, e.PaymentID)
	case PaymentRefunded:
		p, ok := a.payments[e.PaymentID]
		if !ok {
			return fmt.Errorf("account %s: refund of unknown payment %s", a.customerID, e.PaymentID)
		}
		p.Refunded += e.Amount
		p.ToCredit -= e.FromCredit
		a.credit -= e.FromCredit
		for _, back := range e.Invoices {
			if i, ok := a.invoices[back.Invoice]; ok {
				i.Paid -= back.Amount
			}
			for k := range p.Allocated {
				if p.Allocated[k].Invoice == back.Invoice {
					p.Allocated[k].Amount -= back.Amount
				}
			}
		}
	case StoreCreditAdded:
		a.setCurrency(e.Currency)
		a.credit += e.Amount
	case StoreCreditApplied:
		i, ok := a.invoices[e.Invoice]
		if !ok {
			return fmt.Errorf("account %s: credit applied to unknown invoice %s", a.customerID, e.Invoice)
		}
		i.Credited += e.Amount
		a.credit -= e.Amount
	case CreditLimitSet:
		a.setCurrency(e.Currency)
		a.limit = e.Limit
	default:
		return fmt.Errorf("account %s: unknown event %T", a.customerID, r.Event)
	}
	a.version++
	return nil
}

func (a *Account) setCurrency(c string) {
	if a.currency == "" {
		a.currency = c
	}
}
