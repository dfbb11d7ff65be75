package account

// OpenItem is an invoice with something left to pay: all that aging needs.
type OpenItem struct {
	Number string
	DueOn  Date
	Open   int64
}

// Buckets split what is open by how many days past due it is on a date.
type Buckets struct {
	Current    int64 // not due yet, or due that day
	Days1to30  int64
	Days31to60 int64
	Days61to90 int64
	Over90     int64
}

// Add sums two bucket sets.
func (b Buckets) Add(o Buckets) Buckets {
	return Buckets{b.Current + o.Current, b.Days1to30 + o.Days1to30, b.Days31to60 + o.Days31to60,
		b.Days61to90 + o.Days61to90, b.Over90 + o.Over90}
}

// Overdue is what is past due.
func (b Buckets) Overdue() int64 { return b.Days1to30 + b.Days31to60 + b.Days61to90 + b.Over90 }

// Total is everything open.
func (b Buckets) Total() int64 { return b.Current + b.Overdue() }

// Put adds amount due on due to the bucket it falls in on asOf.
func (b *Buckets) Put(due, asOf Date, amount int64) {
	switch late := int(asOf - due); {
	case late <= 0:
		b.Current += amount
	case late <= 30:
		b.Days1to30 += amount
	case late <= 60:
		b.Days31to60 += amount
	case late <= 90:
		b.Days61to90 += amount
	default:
		b.Over90 += amount
	}
}

// Summary is an account's standing on a date.
type Summary struct {
	Currency string
	// Open is what is left to pay on every invoice, Overdue what of it is past
	// due on the date.
	Open, Overdue int64
	// OldestDue is the due date of the oldest open invoice; nil when none is open.
	OldestDue   *Date
	Buckets     Buckets
	StoreCredit int64
	CreditLimit *int64
	Hold        Hold
}

// Hold says whether the customer is on credit hold and why.
type Hold struct {
	OverLimit bool // open balance above the credit limit
	Overdue90 bool // money more than 90 days past due
}

// On reports whether the customer is on hold.
func (h Hold) On() bool { return h.OverLimit || h.Overdue90 }

// Age computes the standing of open items on asOf. Summing amounts of one
// account cannot overflow: each invoice's total is at most MaxAmount, and an
// account would need thousands of them at that size.
func Age(currency string, items []OpenItem, credit int64, limit *int64, asOf Date) Summary {
	s := Summary{Currency: currency, StoreCredit: credit, CreditLimit: limit}
	for _, it := range items {
		s.Buckets.Put(it.DueOn, asOf, it.Open)
		if s.OldestDue == nil || it.DueOn < *s.OldestDue {
			d := it.DueOn
			s.OldestDue = &d
		}
	}
	s.Open, s.Overdue = s.Buckets.Total(), s.Buckets.Overdue()
	s.Hold = Hold{OverLimit: limit != nil && s.Open > *limit, Overdue90: s.Buckets.Over90 > 0}
	return s
}

// Summary is the account's standing on asOf.
func (a *Account) Summary(asOf Date) Summary {
	return Age(a.currency, a.OpenItems(), a.credit, a.limit, asOf)
}
