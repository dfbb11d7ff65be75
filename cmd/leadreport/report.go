package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/fieldservice/customer-service/eventstore"
)

// report is the lead-source and salesperson report: customers won (registered)
// per month, per origin and per salesperson. A customer counts in the month it
// was registered, under its origin and salesperson as they stand now: a
// corrected origin moves it. It holds no personal data, only ids and
// picklist values, so an erasure asks nothing of it.
type report struct {
	mu sync.Mutex
	// Customers are what the report counts, by id.
	Customers map[string]*won `json:"customers"`
	// Last is, per customer, the position of the newest event applied: at
	// least once delivery hands an event again, ordered per customer, so an
	// event at or before it is a duplicate.
	Last map[string]string `json:"last"`
}

type won struct {
	Month       string `json:"month"`
	Origin      string `json:"origin"`
	Salesperson string `json:"salesperson"`
}

func newReport() *report { return &report{Customers: map[string]*won{}, Last: map[string]string{}} }

// apply folds one integration event in; it reports whether it was new.
func (r *report) apply(e event.Event) (bool, error) {
	pos, err := eventstore.ParsePosition(fmt.Sprint(e.Extensions()["position"]))
	if err != nil {
		return false, fmt.Errorf("event %s: position: %w", e.ID(), err)
	}
	cust := e.Subject()
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.Last[cust]; ok {
		if lp, err := eventstore.ParsePosition(last); err == nil && pos.Compare(lp) <= 0 {
			return false, nil
		}
	}
	var data struct {
		Source      *string `json:"source"`
		Salesperson *string `json:"salesperson"`
	}
	switch e.Type() {
	case "customer.registered.v1":
		if err := json.Unmarshal(e.Data(), &data); err != nil {
			return false, fmt.Errorf("event %s: %w", e.ID(), err)
		}
		w := &won{Month: e.Time().UTC().Format("2006-01")}
		if data.Source != nil {
			w.Origin = *data.Source
		}
		if data.Salesperson != nil {
			w.Salesperson = *data.Salesperson
		}
		r.Customers[cust] = w
	case "customer.changed.v1":
		if err := json.Unmarshal(e.Data(), &data); err != nil {
			return false, fmt.Errorf("event %s: %w", e.ID(), err)
		}
		if w, ok := r.Customers[cust]; ok {
			if data.Source != nil {
				w.Origin = *data.Source
			}
			if data.Salesperson != nil {
				w.Salesperson = *data.Salesperson
			}
		}
	}
	r.Last[cust] = pos.String()
	return true, nil
}

// row is one line of a report.
type row struct {
	Month     string `json:"month"`
	Key       string `json:"key"`
	Customers int    `json:"customers"`
}

// rows counts customers per month and per origin or salesperson, months
// newest first, then by count.
func (r *report) rows(by func(*won) string) []row {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := map[[2]string]int{}
	for _, w := range r.Customers {
		k := by(w)
		if k == "" {
			k = "(none)"
		}
		counts[[2]string{w.Month, k}]++
	}
	out := make([]row, 0, len(counts))
	for k, n := range counts {
		out = append(out, row{Month: k[0], Key: k[1], Customers: n})
	}
	slices.SortFunc(out, func(a, b row) int {
		if c := strings.Compare(b.Month, a.Month); c != 0 {
			return c
		}
		if a.Customers != b.Customers {
			return b.Customers - a.Customers
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}

func (r *report) marshal() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return json.Marshal(r)
}
