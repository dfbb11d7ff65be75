package commands_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/credential"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/domain/permission"
	"github.com/fieldservice/customer-service/domain/reservation"
)

// Every stream the service writes belongs to exactly one kind of the catalogue,
// and the prefixes a store filters by cover it.
func TestEveryStreamHasOneKind(t *testing.T) {
	t.Parallel()
	const id = "0193a4b2-7c1d-7e2f-8a3b-4c5d6e7f8091"
	names := []string{
		customer.Stream.Name(id),
		account.Stream.Name(id),
		credential.Stream.Name(id),
		credential.Index.Name(id),
		permission.Stream.Name(""),
		reservation.NumberStream.Name(""),
		reservation.EmailStream.Name("0123456789abcdef0123456789abcdef"),
		reservation.IdempotencyStream.Name("0123456789abcdef0123456789abcdef"),
	}
	for _, name := range names {
		owners := 0
		for _, k := range commands.Streams {
			if k.Owns(name) {
				owners++
			}
		}
		if owners != 1 {
			t.Errorf("%s belongs to %d kinds, want 1", name, owners)
		}
		if !slices.ContainsFunc(commands.StreamPrefixes(), func(p string) bool { return strings.HasPrefix(name, p) }) {
			t.Errorf("no stream prefix covers %s", name)
		}
	}
	if len(commands.Streams) != len(names) {
		t.Errorf("the catalogue has %d kinds; this test names %d", len(commands.Streams), len(names))
	}
}
