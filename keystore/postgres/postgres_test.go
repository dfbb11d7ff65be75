package postgres_test

import (
	"context"
	"testing"

	"github.com/fieldservice/customer-service/keystore"
	"github.com/fieldservice/customer-service/keystore/keystoretest"
	"github.com/fieldservice/customer-service/keystore/postgres"
	"github.com/fieldservice/customer-service/keystore/postgres/pgtest"
)

func TestContract(t *testing.T) {
	url := pgtest.Start(t)
	open := func(t *testing.T) keystore.Store {
		s, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	keystoretest.Run(t, keystoretest.Harness{
		New: open,
		Reopen: func(t *testing.T, s keystore.Store) keystore.Store {
			s.Close()
			return open(t)
		},
	})
}
