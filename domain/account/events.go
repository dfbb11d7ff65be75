package account

import "github.com/fieldservice/customer-service/domain/event"

// Event is something that happened to a customer's account. Only this
// package's event types are account events.
type Event interface {
	event.Event
	accountEvent()
}

// Stream is the kind of a customer's account stream, "account-<customer id>".
var Stream = event.ByID("account-", "account", event.UUID)

// Events declares every event type of an account stream with its schema version.
func Events() []event.Type {
	return []event.Type{
		{Event: InvoiceIssued{}, SchemaVersion: 1},
		{Event: InvoiceVoided{}, SchemaVersion: 1},
		{Event: PaymentReceived{}, SchemaVersion: 1},
		{Event: PaymentRefunded{}, SchemaVersion: 1},
		{Event: StoreCreditAdded{}, SchemaVersion: 1},
		{Event: StoreCreditApplied{}, SchemaVersion: 1},
		{Event: CreditLimitSet{}, SchemaVersion: 1},
	}
}

// The stored type names.
const (
	TypeInvoiceIssued      = "InvoiceIssued"
	TypeInvoiceVoided      = "InvoiceVoided"
	TypePaymentReceived    = "PaymentReceived"
	TypePaymentRefunded    = "PaymentRefunded"
	TypeStoreCreditAdded   = "StoreCreditAdded"
	TypeStoreCreditApplied = "StoreCreditApplied"
	TypeCreditLimitSet     = "CreditLimitSet"
)

// Amounts are minor units of the event's currency, which is the account's.
// Amounts and dates are not personal data: they outlive an erasure. Free text
// (reasons, messages) may name people, and is tagged personal: the codec seals
// it under the customer's data key.

// InvoiceIssued bills the customer.
type InvoiceIssued struct {
	Number   string `json:"number"` // unique in the account
	IssuedOn Date   `json:"issued_on"`
	DueOn    Date   `json:"due_on"`
	// Term is the customer's payment term the due date came from; empty when
	// the due date was given.
	Term     string `json:"term,omitempty"`
	Currency string `json:"currency"`
	Subtotal int64  `json:"subtotal"`
	Tax      int64  `json:"tax"`
	Total    int64  `json:"total"`
	// TaxRate is the rate (millionths) the tax was computed with; 0 when the
	// tax was given.
	TaxRate         int64  `json:"tax_rate_millionths,omitempty"`
	TaxExemptReason string `json:"tax_exempt_reason,omitempty"`
	// BillToCompany: the invoice shows the customer's company name.
	BillToCompany bool   `json:"bill_to_company,omitempty"`
	Reference     string `json:"reference,omitempty"` // a job or estimate
}

// InvoiceVoided cancels an invoice. Store credit applied to it goes back to
// the account's store credit.
type InvoiceVoided struct {
	Number         string `json:"number"`
	VoidedOn       Date   `json:"voided_on"`
	Reason         string `json:"reason" personal:"true"`
	CreditReturned int64  `json:"credit_returned,omitempty"`
}

// Allocation is part of a payment, refund or credit on one invoice.
type Allocation struct {
	Invoice string `json:"invoice"`
	Amount  int64  `json:"amount"`
}

// PaymentReceived records money received, allocated to invoices; the rest
// becomes store credit.
type PaymentReceived struct {
	PaymentID   string       `json:"payment_id"`
	Amount      int64        `json:"amount"`
	Currency    string       `json:"currency"`
	Method      Method       `json:"method"`
	Reference   string       `json:"reference,omitempty"` // check number, card transaction id
	ReceivedOn  Date         `json:"received_on"`
	Allocations []Allocation `json:"allocations,omitempty"`
	ToCredit    int64        `json:"to_credit,omitempty"`
}

// PaymentRefunded returns money of a payment: it takes back from its
// invoices (which are open again by as much) and from store credit.
type PaymentRefunded struct {
	PaymentID  string       `json:"payment_id"`
	Amount     int64        `json:"amount"`
	RefundedOn Date         `json:"refunded_on"`
	Reason     string       `json:"reason,omitempty" personal:"true"`
	Invoices   []Allocation `json:"invoices,omitempty"`
	FromCredit int64        `json:"from_credit,omitempty"`
}

// StoreCreditAdded gives the customer credit to spend on invoices.
type StoreCreditAdded struct {
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	AddedOn   Date   `json:"added_on"`
	Reference string `json:"reference,omitempty"`
	Message   string `json:"message,omitempty" personal:"true"`
}

// StoreCreditApplied pays an invoice from store credit.
type StoreCreditApplied struct {
	Invoice   string `json:"invoice"`
	Amount    int64  `json:"amount"`
	AppliedOn Date   `json:"applied_on"`
}

// CreditLimitSet sets how much the customer may owe before it is put on
// hold; no limit when Limit is nil.
type CreditLimitSet struct {
	Limit    *int64 `json:"limit"`
	Currency string `json:"currency,omitempty"`
}

func (InvoiceIssued) accountEvent()      {}
func (InvoiceVoided) accountEvent()      {}
func (PaymentReceived) accountEvent()    {}
func (PaymentRefunded) accountEvent()    {}
func (StoreCreditAdded) accountEvent()   {}
func (StoreCreditApplied) accountEvent() {}
func (CreditLimitSet) accountEvent()     {}

func (InvoiceIssued) EventType() string      { return TypeInvoiceIssued }
func (InvoiceVoided) EventType() string      { return TypeInvoiceVoided }
func (PaymentReceived) EventType() string    { return TypePaymentReceived }
func (PaymentRefunded) EventType() string    { return TypePaymentRefunded }
func (StoreCreditAdded) EventType() string   { return TypeStoreCreditAdded }
func (StoreCreditApplied) EventType() string { return TypeStoreCreditApplied }
func (CreditLimitSet) EventType() string     { return TypeCreditLimitSet }

// Method is how a payment was made.
type Method struct{ name string }

var (
	Cash    = Method{"cash"}
	Check   = Method{"check"}
	Card    = Method{"card"}
	ACH     = Method{"ach"}
	Other   = Method{"other"}
	methods = []Method{Cash, Check, Card, ACH, Other}
)

// ParseMethod reads cash, check, card, ach or other.
func ParseMethod(s string) (Method, error) {
	for _, m := range methods {
		if m.name == s {
			return m, nil
		}
	}
	return Method{}, ErrUnknownMethod
}

func (m Method) String() string               { return m.name }
func (m Method) MarshalText() ([]byte, error) { return []byte(m.name), nil }
func (m *Method) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*m = Method{}
		return nil
	}
	v, err := ParseMethod(string(b))
	*m = v
	return err
}
