package event_test

import (
	"testing"

	"github.com/fieldservice/customer-service/domain/event"
)

func TestStreamKinds(t *testing.T) {
	t.Parallel()
	customers := event.ByID("customer-", "customer", event.UUID)
	numbers := event.Single("customer-numbers", "customer numbers")
	emails := event.ByID("email-", "email reservation", event.HexDigest(32))
	const id = "0193a4b2-7c1d-7e2f-8a3b-4c5d6e7f8091"

	if got := customers.Name(id); got != "customer-"+id {
		t.Fatalf("Name = %q", got)
	}
	if got, ok := customers.ID("customer-" + id); !ok || got != id {
		t.Fatalf("ID = %q, %v", got, ok)
	}
	if numbers.Name("ignored") != "customer-numbers" || !numbers.Owns("customer-numbers") {
		t.Fatal("the single stream is not named by its fixed name")
	}
	for _, tc := range []struct {
		kind event.Stream
		name string
		want bool
	}{
		{customers, "customer-numbers", false}, // shares the prefix, but "numbers" is no id
		{customers, "customer-" + id[:35], false},
		{customers, "customer-0193A4B2-7C1D-7E2F-8A3B-4C5D6E7F8091", false}, // ids are lowercase
		{customers, "account-" + id, false},
		{numbers, "customer-" + id, false},
		{emails, "email-0123456789abcdef0123456789abcdef", true},
		{emails, "email-0123456789abcdef0123456789abcdeg", false},
		{emails, "email-", false},
	} {
		if got := tc.kind.Owns(tc.name); got != tc.want {
			t.Errorf("%s owns %q: %v, want %v", tc.kind.Aggregate(), tc.name, got, tc.want)
		}
	}
}
