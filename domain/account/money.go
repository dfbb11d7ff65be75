package account

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"time"

	"golang.org/x/text/currency"
)

// Money amounts are int64 minor units (cents) of the account's currency; sums
// are checked for overflow, never wrapped.

// MaxAmount bounds one amount: 10^15 minor units (ten trillion dollars) is more
// than any invoice, and keeps every sum of a few thousand far from overflowing.
const MaxAmount = 1_000_000_000_000_000

// add returns a + b, or false when the sum overflows.
func add(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// ParseCurrency reads an ISO 4217 code ("USD"), in any case, and returns it
// upper case.
func ParseCurrency(s string) (string, error) {
	u, err := currency.ParseISO(strings.TrimSpace(s))
	if err != nil || len(strings.TrimSpace(s)) != 3 {
		return "", fmt.Errorf("%q is not an ISO 4217 currency code", s)
	}
	return u.String(), nil
}

// Date is a calendar day, the unit of issue, due and payment dates: days since
// 1970-01-01. It is written as "2006-01-02".
type Date int32

// DateOf is the day of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// ParseDate reads "2006-01-02".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a date like 2026-03-31", s)
	}
	if t.Year() < 1900 || t.Year() > 9999 {
		return 0, fmt.Errorf("%q is not a date between 1900 and 9999", s)
	}
	return DateOf(t), nil
}

// AddDays is the day n days later.
func (d Date) AddDays(n int) Date { return d + Date(n) }

// Time is midnight UTC of the day.
func (d Date) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

func (d Date) String() string { return d.Time().Format(time.DateOnly) }

func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// tax is amount × rate (in millionths), rounded half up, or false when it
// overflows.
func tax(amount int64, millionths int64) (int64, bool) {
	if amount < 0 || millionths < 0 || millionths > 1_000_000 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(amount), uint64(millionths))
	lo, carry := bits.Add64(lo, 500_000, 0)
	hi += carry
	q, _ := bits.Div64(hi, lo, 1_000_000) // hi < 2^20 < 10^6: no overflow
	if q > math.MaxInt64 {
		return 0, false
	}
	return int64(q), true
}
