// Package loadlog opens, for the load tools, a write side in a directory as the
// embedded mode has it: the event log, a key file, a keyring under a new master
// key (caching 100,000 data keys, as a busy server would), and the codec.
package loadlog

import (
	"errors"
	"path/filepath"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/eventstore/embedded"
	"github.com/fieldservice/customer-service/keystore"
	keyfile "github.com/fieldservice/customer-service/keystore/embedded"
)

// Log is the write side a load tool writes its log with.
type Log struct {
	Store *embedded.Store
	Keys  *keyfile.Store
	Ring  *keystore.Keyring
	Codec *codec.Codec
}

// Open opens (or creates) events.db and the key file in dir.
func Open(dir string) (*Log, error) {
	store, err := embedded.Open(embedded.Config{Path: filepath.Join(dir, "events.db")})
	if err != nil {
		return nil, err
	}
	ks, err := keyfile.Open(filepath.Join(dir, "keys"))
	if err != nil {
		return nil, errors.Join(err, store.Close())
	}
	l := &Log{Store: store, Keys: ks}
	master, err := keystore.NewMasterKey(keystore.GenerateMasterKey())
	if err == nil {
		l.Ring, err = keystore.NewKeyring(ks, master, keystore.KeyringOptions{CacheSize: 100_000})
	}
	if err == nil {
		l.Codec, err = codec.New(commands.Events, l.Ring)
	}
	if err != nil {
		return nil, errors.Join(err, l.Close())
	}
	return l, nil
}

// Close closes the log and the key file.
func (l *Log) Close() error { return errors.Join(l.Store.Close(), l.Keys.Close()) }
