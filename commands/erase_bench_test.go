package commands

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore/embedded"
	"github.com/fieldservice/customer-service/keystore"
	keys "github.com/fieldservice/customer-service/keystore/embedded"
)

// BenchmarkEraseCustomer measures erasing one archived customer (load, append
// CustomerErased, release the email reservation, destroy the data key) in a store
// of 100,000 customers. The customers are written directly through the repository
// and the reservations (customer numbers are given, not drawn from the counter
// stream), so the setup takes seconds. Run it with -benchtime 200x.
func BenchmarkEraseCustomer(b *testing.B) {
	const customers = 100_000
	if b.N > customers {
		b.Skip("at most 100,000 erasures: use -benchtime 200x")
	}
	dir := b.TempDir()
	store, err := embedded.Open(embedded.Config{Path: filepath.Join(dir, "events.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	ks, err := keys.Open(filepath.Join(dir, "keys"))
	if err != nil {
		b.Fatal(err)
	}
	defer ks.Close()
	master, _ := keystore.NewMasterKey(keystore.GenerateMasterKey())
	ring, _ := keystore.NewKeyring(ks, master, keystore.KeyringOptions{})
	app, err := New(b.Context(), Config{Store: store, Keys: ring})
	if err != nil {
		b.Fatal(err)
	}
	d := app.EraseCustomer.d
	admin := Meta{Actor: actor.Actor{ID: "u-0", Name: "Ada", Role: actor.Admin}}

	ids := make([]string, customers)
	var next atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= customers {
					return
				}
				id := uuid.Must(uuid.NewV7()).String()
				email := fmt.Sprintf("person%06d@example.org", i)
				det := customer.Details{Kind: customer.Person, FirstName: fmt.Sprint("First", i), LastName: "Last", Email: email,
					Phones:    []customer.Phone{{Number: fmt.Sprintf("+1212%07d", i), Type: customer.Mobile}},
					Addresses: []customer.Address{{Type: customer.Service, Street: fmt.Sprint(i, " Main St"), City: "Springfield"}}}
				if err := d.emails.reserve(b.Context(), email, id, admin); err != nil {
					b.Error(err)
					return
				}
				c := loaded{Customer: customer.New(id)}
				reg, err := c.Register(det, *d.cfg.Policy)
				if err != nil {
					b.Error(err)
					return
				}
				events := append(reg.Numbered(int64(i+1)), customer.Archived{Reason: "moved away"})
				if _, err := d.repo.save(b.Context(), c, events, admin.metadata(time.Now())); err != nil {
					b.Error(err)
					return
				}
				ids[i] = id
			}
		}()
	}
	wg.Wait()
	b.Logf("wrote %d customers in %s", customers, time.Since(t0).Round(time.Millisecond))

	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t := time.Now()
		if _, err := app.EraseCustomer.Handle(b.Context(), EraseCustomer{Meta: admin, CustomerID: ids[i*(customers/b.N)], Reason: customer.SubjectRequest}); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(t))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}
