// Package commandstest builds, for tests, the write side as embedded mode runs
// it: an event file, a key file, a keyring with a fresh master key, the codec
// and the command handlers, all in the test's temporary directory.
package commandstest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/eventstore/embedded"
	"github.com/fieldservice/customer-service/keystore"
	keys "github.com/fieldservice/customer-service/keystore/embedded"
)

// World is the write side of a test.
type World struct {
	App       *commands.App
	Store     *embedded.Store
	KeyStore  *keys.Store
	Keys      *keystore.Keyring
	MasterRaw []byte // the master key, for tests that look for keys in raw files
	Codec     *codec.Codec
}

// New builds a world that is closed when the test ends.
func New(t testing.TB) World {
	t.Helper()
	dir := t.TempDir()
	store, err := embedded.Open(embedded.Config{Path: filepath.Join(dir, "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	ks, err := keys.Open(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ks.Close() })
	raw := keystore.GenerateMasterKey()
	master, err := keystore.NewMasterKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keystore.NewKeyring(ks, master, keystore.KeyringOptions{})
	if err != nil {
		t.Fatal(err)
	}
	app, err := commands.New(context.Background(), commands.Config{Store: store, Keys: ring})
	if err != nil {
		t.Fatal(err)
	}
	cdc, err := codec.New(commands.Events, ring)
	if err != nil {
		t.Fatal(err)
	}
	return World{App: app, Store: store, KeyStore: ks, Keys: ring, MasterRaw: raw, Codec: cdc}
}

// Who the tests act as, one per role.
var (
	Admin       = commands.Meta{Actor: actor.Actor{ID: "u-0", Name: "Ada", Role: actor.Admin}}
	Coordinator = commands.Meta{Actor: actor.Actor{ID: "u-1", Name: "Dana", Role: actor.Coordinator}, CorrelationID: "corr-1"}
	Technician  = commands.Meta{Actor: actor.Actor{ID: "u-2", Name: "Tom", Role: actor.Technician}}
)
