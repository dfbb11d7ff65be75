package account

import (
	"errors"
	"fmt"
	"strings"
)

// Domain errors. A refused command returns one *Error listing every problem
// at once; errors.Is matches it against each problem's kind, and ErrInvalid
// against any.
var (
	ErrInvalid = errors.New("invalid account command")

	ErrAmount             = errors.New("amount out of range")
	ErrOverflow           = errors.New("amounts overflow")
	ErrCurrencyMismatch   = errors.New("the account has another currency")
	ErrUnknownCurrency    = errors.New("not an ISO 4217 currency")
	ErrDuplicateInvoice   = errors.New("invoice number already used in this account")
	ErrInvoiceNotFound    = errors.New("no such invoice in this account")
	ErrInvoiceVoided      = errors.New("the invoice is voided")
	ErrInvoicePaid        = errors.New("the invoice has payments: refund them first")
	ErrOverAllocated      = errors.New("allocated more than there is to allocate")
	ErrInsufficientCredit = errors.New("more store credit than the account holds")
	ErrPaymentNotFound    = errors.New("no such payment in this account")
	ErrOverRefunded       = errors.New("refund larger than what is left of the payment")
	ErrDuplicatePayment   = errors.New("payment id already used in this account")
	ErrUnknownPaymentTerm = errors.New("unknown payment term")
	ErrTaxExempt          = errors.New("the customer is tax exempt")
	ErrDates              = errors.New("dates out of order")
	ErrRequired           = errors.New("required")
	errUnknownMethod      = errors.New("unknown payment method")
	ErrUnknownMethod      = errUnknownMethod
)

// Problem is one reason a command is refused: the input field it is about
// (the API's field names, "allocations[1].amount"), its kind and a message.
type Problem struct {
	Path    string
	Err     error
	Message string
}

// Error lists the problems of a refused command.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Path + ": " + p.Message
	}
	return "account: " + strings.Join(parts, "; ")
}

// Is matches ErrInvalid and the kind of every problem.
func (e *Error) Is(target error) bool {
	if target == ErrInvalid {
		return true
	}
	for _, p := range e.Problems {
		if p.Err == target {
			return true
		}
	}
	return false
}

type problems []Problem

func (ps *problems) add(path string, kind error, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Err: kind, Message: fmt.Sprintf(format, args...)})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &Error{Problems: ps}
}

// amount checks that an amount is positive and at most MaxAmount.
func (ps *problems) amount(path string, v int64) {
	if v <= 0 || v > MaxAmount {
		ps.add(path, ErrAmount, "must be a positive amount in minor units, at most %d", int64(MaxAmount))
	}
}

// text checks a free text's length.
func (ps *problems) text(path, v string, max int) {
	if len(v) > max {
		ps.add(path, ErrInvalid, "at most %d bytes", max)
	}
}
