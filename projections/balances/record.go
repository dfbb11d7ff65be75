package balances

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fieldservice/customer-service/domain/account"
)

// record is what the read model keeps of one customer: enough to age its open
// invoices on any date, list its billing history, and file it under its
// service zone and salesperson. It is stored in a compact binary form (about
// 20 bytes per invoice or history entry): at a million customers every byte
// per customer is a megabyte of Redis.
type record struct {
	CustomerVersion uint64 // of the customer stream: a replayed batch skips what it saw
	AccountVersion  uint64 // of the account stream, the account's ETag
	Number          int64
	Zone            string
	Salesperson     string
	Currency        string
	Credit          int64
	Limit           *int64
	// Invoices are every invoice not voided, with what is open on each: a
	// paid one is kept, since a refund can open it again.
	Invoices []invoice
	History  []Entry
}

type invoice struct {
	Number string
	DueOn  account.Date
	Open   int64
}

// Kind is what a billing history entry records.
type Kind uint8

const (
	Invoiced Kind = iota + 1
	Voided
	Paid
	Refunded
	Credited      // store credit added
	CreditApplied // store credit paid an invoice
)

var kindNames = map[Kind]string{Invoiced: "invoice", Voided: "void", Paid: "payment", Refunded: "refund",
	Credited: "store_credit", CreditApplied: "store_credit_applied"}

func (k Kind) String() string { return kindNames[k] }

// Entry is one line of a customer's billing history.
type Entry struct {
	Kind   Kind
	On     account.Date
	Ref    string // the invoice number, payment id or credit's reference
	Amount int64
	Method string // a payment's
}

// Effect is what the entry changed the balance by (what is open, less store
// credit): an invoice or a refund raises it, a void, a payment or a credit
// lowers it, applying credit to an invoice leaves it.
func (e Entry) Effect() int64 {
	switch e.Kind {
	case Invoiced, Refunded:
		return e.Amount
	case Voided, Paid, Credited:
		return -e.Amount
	}
	return 0
}

// methodCodes store a payment's method in one byte.
var methodCodes = []string{"", "cash", "check", "card", "ach", "other"}

func methodCode(m string) byte {
	for i, c := range methodCodes {
		if c == m {
			return byte(i)
		}
	}
	return 0
}

func (r *record) openItems() []account.OpenItem {
	var out []account.OpenItem
	for _, i := range r.Invoices {
		if i.Open > 0 {
			out = append(out, account.OpenItem{Number: i.Number, DueOn: i.DueOn, Open: i.Open})
		}
	}
	return out
}

// open is what is open on every invoice.
func (r *record) open() int64 {
	var n int64
	for _, i := range r.Invoices {
		n += i.Open
	}
	return n
}

// dueRange is the due dates of the oldest and newest open invoices (zero
// when none is open).
func (r *record) dueRange() (oldest, newest account.Date) {
	found := false
	for _, i := range r.Invoices {
		if i.Open <= 0 {
			continue
		}
		if !found || i.DueOn < oldest {
			oldest = i.DueOn
		}
		if !found || i.DueOn > newest {
			newest = i.DueOn
		}
		found = true
	}
	return oldest, newest
}

const recordFormat = 1

func (r *record) encode() []byte {
	b := []byte{recordFormat}
	b = binary.AppendUvarint(b, r.CustomerVersion)
	b = binary.AppendUvarint(b, r.AccountVersion)
	b = binary.AppendVarint(b, r.Number)
	b = appendString(b, r.Zone)
	b = appendString(b, r.Salesperson)
	b = appendString(b, r.Currency)
	b = binary.AppendVarint(b, r.Credit)
	if r.Limit == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendVarint(b, *r.Limit)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Invoices)))
	for _, i := range r.Invoices {
		b = appendString(b, i.Number)
		b = binary.AppendVarint(b, int64(i.DueOn))
		b = binary.AppendVarint(b, i.Open)
	}
	b = binary.AppendUvarint(b, uint64(len(r.History)))
	for _, e := range r.History {
		b = append(b, byte(e.Kind))
		b = binary.AppendVarint(b, int64(e.On))
		b = appendString(b, e.Ref)
		b = binary.AppendVarint(b, e.Amount)
		b = append(b, methodCode(e.Method))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errCorrupt = errors.New("balances: corrupt record")

// decodeRecord reads what encode wrote.
func decodeRecord(s string) (record, error) {
	d := decoder{s: s}
	var r record
	if d.byte() != recordFormat {
		return r, fmt.Errorf("%w: unknown format", errCorrupt)
	}
	r.CustomerVersion = d.uvarint()
	r.AccountVersion = d.uvarint()
	r.Number = d.varint()
	r.Zone, r.Salesperson, r.Currency = d.string(), d.string(), d.string()
	r.Credit = d.varint()
	if d.byte() == 1 {
		l := d.varint()
		r.Limit = &l
	}
	n := d.uvarint()
	if n > uint64(len(s)) {
		return r, errCorrupt
	}
	r.Invoices = make([]invoice, n)
	for k := range r.Invoices {
		r.Invoices[k] = invoice{Number: d.string(), DueOn: account.Date(d.varint()), Open: d.varint()}
	}
	n = d.uvarint()
	if n > uint64(len(s)) {
		return r, errCorrupt
	}
	r.History = make([]Entry, n)
	for k := range r.History {
		r.History[k] = Entry{Kind: Kind(d.byte()), On: account.Date(d.varint()), Ref: d.string(), Amount: d.varint()}
		if c := d.byte(); int(c) < len(methodCodes) {
			r.History[k].Method = methodCodes[c]
		} else {
			d.err = true
		}
	}
	if d.err || d.i != len(s) {
		return r, errCorrupt
	}
	return r, nil
}

// decoder reads a record, remembering the first error instead of returning it
// at every step.
type decoder struct {
	s   string
	i   int
	err bool
}

func (d *decoder) byte() byte {
	if d.i >= len(d.s) {
		d.err = true
		return 0
	}
	d.i++
	return d.s[d.i-1]
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint([]byte(d.s[min(d.i, len(d.s)):min(d.i+binary.MaxVarintLen64, len(d.s))]))
	if n <= 0 {
		d.err = true
		return 0
	}
	d.i += n
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint([]byte(d.s[min(d.i, len(d.s)):min(d.i+binary.MaxVarintLen64, len(d.s))]))
	if n <= 0 {
		d.err = true
		return 0
	}
	d.i += n
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err || n > uint64(len(d.s)-d.i) {
		d.err = true
		return ""
	}
	s := d.s[d.i : d.i+int(n)]
	d.i += int(n)
	return s
}
