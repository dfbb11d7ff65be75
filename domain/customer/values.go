package customer

import (
	"fmt"
	"strings"
)

// enum is the shape of the picklist types below: a struct with an unexported name,
// so the only values are the declared ones and the zero value means "unset".
type enum struct{ name string }

func parseEnum[T ~struct{ name string }](what, s string, values []T) (T, error) {
	names := make([]string, len(values))
	for i, v := range values {
		names[i] = struct{ name string }(v).name
		if names[i] == s {
			return v, nil
		}
	}
	var zero T
	return zero, fmt.Errorf("unknown %s %q (want %s)", what, s, strings.Join(names, ", "))
}

// Kind says whether a customer is a person or a company.
type Kind enum

var (
	Person  = Kind{"person"}
	Company = Kind{"company"}
)

// ParseKind reads "person" or "company".
func ParseKind(s string) (Kind, error) { return parseEnum("customer kind", s, []Kind{Person, Company}) }

func (k Kind) String() string                { return k.name }
func (k Kind) MarshalText() ([]byte, error)  { return []byte(k.name), nil }
func (k *Kind) UnmarshalText(b []byte) error { return unmarshalEnum(k, b, ParseKind) }

// PhoneType is what a phone number is for.
type PhoneType enum

var (
	Mobile    = PhoneType{"mobile"}
	Work      = PhoneType{"work"}
	Home      = PhoneType{"home"}
	Fax       = PhoneType{"fax"}
	OtherLine = PhoneType{"other"}
)

// ParsePhoneType reads mobile, work, home, fax or other.
func ParsePhoneType(s string) (PhoneType, error) {
	return parseEnum("phone type", s, []PhoneType{Mobile, Work, Home, Fax, OtherLine})
}

func (t PhoneType) String() string                { return t.name }
func (t PhoneType) MarshalText() ([]byte, error)  { return []byte(t.name), nil }
func (t *PhoneType) UnmarshalText(b []byte) error { return unmarshalEnum(t, b, ParsePhoneType) }

// AddressType is what an address is used for.
type AddressType enum

var (
	Billing  = AddressType{"billing"}
	Shipping = AddressType{"shipping"}
	Service  = AddressType{"service"} // the physical site technicians go to
)

// ParseAddressType reads billing, shipping or service ("physical" is read as service).
func ParseAddressType(s string) (AddressType, error) {
	if s == "physical" {
		return Service, nil
	}
	return parseEnum("address type", s, []AddressType{Billing, Shipping, Service})
}

func (t AddressType) String() string                { return t.name }
func (t AddressType) MarshalText() ([]byte, error)  { return []byte(t.name), nil }
func (t *AddressType) UnmarshalText(b []byte) error { return unmarshalEnum(t, b, ParseAddressType) }

// ErasureReason is why a customer's personal data was erased. It is a picklist, not
// free text, because the erasure event must hold no personal data.
type ErasureReason enum

var (
	SubjectRequest   = ErasureReason{"subject_request"}   // the person asked to be forgotten
	RetentionExpired = ErasureReason{"retention_expired"} // the retention period ended
	LegalOrder       = ErasureReason{"legal_order"}       // a court or authority ordered it
)

// ParseErasureReason reads subject_request, retention_expired or legal_order.
func ParseErasureReason(s string) (ErasureReason, error) {
	return parseEnum("erasure reason", s, []ErasureReason{SubjectRequest, RetentionExpired, LegalOrder})
}

func (r ErasureReason) String() string                { return r.name }
func (r ErasureReason) MarshalText() ([]byte, error)  { return []byte(r.name), nil }
func (r *ErasureReason) UnmarshalText(b []byte) error { return unmarshalEnum(r, b, ParseErasureReason) }

func unmarshalEnum[T any](dst *T, b []byte, parse func(string) (T, error)) error {
	v, err := parse(string(b))
	if err != nil {
		return err
	}
	*dst = v
	return nil
}

// Phone is one of a customer's numbers, in E.164 (+15550134…). Parsing national
// formats needs numbering-plan data, so it happens before the domain (commands/);
// here a number is only checked for E.164 shape.
type Phone struct {
	Number  string    `json:"number,omitempty" personal:"true"`
	Type    PhoneType `json:"type"`
	Primary bool      `json:"primary,omitempty"`
}

// Address is a postal address of a customer, optionally with coordinates.
type Address struct {
	Type     AddressType `json:"type"`
	Street   string      `json:"street,omitempty" personal:"true"`
	City     string      `json:"city,omitempty"`
	State    string      `json:"state,omitempty"`
	Postcode string      `json:"postcode,omitempty"`
	Country  string      `json:"country,omitempty"` // ISO 3166-1 alpha-2
	Lat      *float64    `json:"lat,omitempty" personal:"true"`
	Lng      *float64    `json:"lng,omitempty" personal:"true"`
	Default  bool        `json:"default,omitempty"` // the default address of its type
}

// Equal compares addresses by value (coordinates included).
func (a Address) Equal(b Address) bool {
	return a.Type == b.Type && a.Street == b.Street && a.City == b.City && a.State == b.State &&
		a.Postcode == b.Postcode && a.Country == b.Country && a.Default == b.Default &&
		equalPtr(a.Lat, b.Lat) && equalPtr(a.Lng, b.Lng)
}

func equalPtr[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// EmailPreferences says which emails the customer accepts; all false means none.
type EmailPreferences struct {
	Billing   bool `json:"billing"`
	Marketing bool `json:"marketing"`
	Reports   bool `json:"reports"`
}

// TaxRate is a percentage held exactly, in millionths of the amount
// (8.875% = 88,750): money code multiplies integers, never floats.
type TaxRate int64

// ParseTaxRate reads a percentage such as "8.875" (up to four decimals).
func ParseTaxRate(s string) (TaxRate, error) {
	whole, frac, _ := strings.Cut(strings.TrimSuffix(strings.TrimSpace(s), "%"), ".")
	if whole == "" || len(frac) > 4 || strings.Trim(whole+frac, "0123456789") != "" {
		return 0, fmt.Errorf("tax rate %q: want a percentage with up to 4 decimals, like 8.875", s)
	}
	var r int64
	for _, c := range whole + frac + strings.Repeat("0", 4-len(frac)) {
		if r = r*10 + int64(c-'0'); r > 1_000_000 {
			return 0, fmt.Errorf("tax rate %q: more than 100%%", s)
		}
	}
	return TaxRate(r), nil
}

// String formats the rate as a percentage ("8.875").
func (r TaxRate) String() string {
	s := fmt.Sprintf("%d.%04d", r/10_000, r%10_000)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// PaymentTerm is when a customer pays an invoice: on receipt, or within a
// number of days of the invoice's date. It is stored as its canonical text,
// "due_on_receipt" or "net_<days>".
type PaymentTerm struct{ days int }

// DueOnReceipt is the term of an invoice due the day it is issued.
var DueOnReceipt = PaymentTerm{}

// NetDays is the term "net n days".
func NetDays(n int) PaymentTerm { return PaymentTerm{days: n} }

// MaxNetDays bounds a net term: a year.
const MaxNetDays = 365

// ParsePaymentTerm reads a term as people write it: "due on receipt",
// "due_on_receipt", "net 30", "net_30", "Net30".
func ParsePaymentTerm(s string) (PaymentTerm, error) {
	t := strings.ToLower(strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '_' || r == '-' }), ""))
	if t == "dueonreceipt" || t == "onreceipt" {
		return DueOnReceipt, nil
	}
	if n, ok := strings.CutPrefix(t, "net"); ok && n != "" && len(n) <= 3 && strings.Trim(n, "0123456789") == "" {
		days := 0
		for _, c := range n {
			days = days*10 + int(c-'0')
		}
		if days >= 1 && days <= MaxNetDays {
			return NetDays(days), nil
		}
	}
	return PaymentTerm{}, fmt.Errorf("unknown payment term %q (want due_on_receipt or net_<days>, days from 1 to %d)", s, MaxNetDays)
}

// Days is how many days after its date an invoice is due.
func (t PaymentTerm) Days() int { return t.days }

// String is the term's canonical text.
func (t PaymentTerm) String() string {
	if t.days == 0 {
		return "due_on_receipt"
	}
	return fmt.Sprintf("net_%d", t.days)
}
