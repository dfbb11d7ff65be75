package search

import (
	"reflect"
	"testing"

	"github.com/fieldservice/customer-service/domain/customer"
)

func TestDocRoundTrip(t *testing.T) {
	lat, lng := 52.52, 13.405
	d := doc{ID: "0f8b1c2e-7d4a-4c1e-9a55-3b2f6c1d9e00", Number: 1_000_001, Version: 42, Archived: true, Details: details{
		Kind: customer.Company, FirstName: "Jürgen", LastName: "Müller", BusinessName: "Müller & Söhne", ContactName: "J. M.",
		Email: "jm@example.org", StatementEmail: "billing@example.org", NotificationEmails: []string{"a@example.org", "b@example.org"},
		InvoiceCCEmails: []string{"cc@example.org"},
		Phones:          []customer.Phone{{Number: "+49 30 1234567", Type: customer.Work, Primary: true}, {Number: "+49 170 0000000"}},
		Addresses: []customer.Address{{Type: customer.Billing, Street: "Unter den Linden 1", City: "Berlin", State: "BE", Postcode: "10117",
			Country: "DE", Lat: &lat, Lng: &lng, Default: true}, {Street: "Hof 2"}},
	}}
	got, err := decodeDoc(string(d.encode(values(d.Details))))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, d)
	}
	if empty, err := decodeDoc(string(doc{ID: "x", Number: 1}.encode(nil))); err != nil || !reflect.DeepEqual(empty, doc{ID: "x", Number: 1}) {
		t.Fatalf("empty details: %+v, %v", empty, err)
	}
	// Every truncation and a trailing byte are refused, never misread.
	b := d.encode(values(d.Details))
	for i := range b {
		if _, err := decodeDoc(string(b[:i])); err == nil {
			t.Fatalf("a doc cut at %d of %d bytes decoded", i, len(b))
		}
	}
	if _, err := decodeDoc(string(append(b, 0))); err == nil {
		t.Fatal("a doc with a trailing byte decoded")
	}
}
