package commands_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/customer"
)

// BenchmarkRegisterCustomer measures registrations end to end through commands/
// (email reservation, customer number, customer stream: three durable appends each)
// with 64 concurrent callers.
func BenchmarkRegisterCustomer(b *testing.B) {
	f := newFixture(b)
	var n atomic.Int64
	b.SetParallelism(32) // × GOMAXPROCS callers
	t0 := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := f.app.RegisterCustomer.Handle(context.Background(), commands.RegisterCustomer{Meta: coordinator, Details: details(fmt.Sprintf("b%d@example.com", i))}); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(n.Load())/time.Since(t0).Seconds(), "commands/s")
}

// BenchmarkLoadCustomer measures loading (read + decode + replay) a customer with
// 100 and 1,000 events, through an edit that changes nothing (no append).
func BenchmarkLoadCustomer(b *testing.B) {
	for _, events := range []int{100, 1000} {
		b.Run(fmt.Sprintf("events=%d", events), func(b *testing.B) {
			f := newFixture(b)
			c := f.register(b, "load@example.com")
			for i := 1; i < events; i++ {
				if _, err := f.app.UpdateCustomer.Handle(context.Background(), commands.UpdateCustomer{Meta: coordinator, CustomerID: c.CustomerID,
					Patch: customer.Patch{Description: ptr(fmt.Sprint("visit ", i))}}); err != nil {
					b.Fatal(err)
				}
			}
			noop := commands.UpdateCustomer{Meta: coordinator, CustomerID: c.CustomerID, Patch: customer.Patch{Description: ptr(fmt.Sprint("visit ", events-1))}}
			b.ResetTimer()
			for b.Loop() {
				res, err := f.app.UpdateCustomer.Handle(context.Background(), noop)
				if err != nil || res.Version != uint64(events) {
					b.Fatalf("load: %+v, %v", res, err)
				}
			}
		})
	}
}
