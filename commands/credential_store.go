package commands

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/credential"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/keystore"
)

// ErrSecretDoesNotOpen: a credential's sealed secret failed authentication
// with the credential's key: it was altered in the store, or copied there
// from another credential or another field.
var ErrSecretDoesNotOpen = errors.New("the sealed secret does not open with the credential's key: altered, or copied from another credential")

// The additional data of a sealed secret: "customerd credential v1" | the
// credential's id (16 bytes) | the field. A ciphertext moved to another
// credential fails twice over (another key, another id); moved from the
// password to the notes, it fails too.
func secretAAD(id uuid.UUID, field string) []byte {
	return append(append([]byte("customerd credential v1"), id[:]...), field...)
}

// sealer seals a credential's secrets under its key with fresh nonces.
func sealer(key cipher.AEAD, id uuid.UUID) credential.Sealer {
	return func(field, plaintext string) (credential.Sealed, error) {
		out := make([]byte, key.NonceSize(), key.NonceSize()+len(plaintext)+key.Overhead())
		rand.Read(out)
		return key.Seal(out, out, []byte(plaintext), secretAAD(id, field)), nil
	}
}

func openSecret(key cipher.AEAD, id uuid.UUID, field string, s credential.Sealed) (string, error) {
	if len(s) == 0 {
		return "", nil
	}
	if len(s) < key.NonceSize() {
		return "", fmt.Errorf("credential %s %s: %w", id, field, ErrSecretDoesNotOpen)
	}
	plain, err := key.Open(nil, s[:key.NonceSize()], s[key.NonceSize():], secretAAD(id, field))
	if err != nil {
		return "", fmt.Errorf("credential %s %s: %w", id, field, ErrSecretDoesNotOpen)
	}
	return string(plain), nil
}

// credentials loads and saves credentials and the customers' lists of them.
type credentials struct {
	streams
	keys *keystore.Keyring
	// recent holds credentials as the last reveal left them, so the next one
	// reads only the events after (a credential's stream grows by one event a
	// reveal). Only reveals use it: they show no username, and a destroyed
	// key stops them before anything is opened.
	recent *lru.Cache[string, loadedCredential]
}

type loadedCredential struct {
	*credential.Credential
	head codec.Head
	// erased: the credential's key is gone (removed, or its customer erased),
	// so its username reads empty.
	erased bool
}

func (r credentials) load(ctx context.Context, id string) (loadedCredential, error) {
	return r.loadAfter(ctx, id, loadedCredential{Credential: credential.New(id)})
}

// loadRecent is load, starting from the state a reveal last left.
func (r credentials) loadRecent(ctx context.Context, id string) (loadedCredential, error) {
	from, ok := r.recent.Get(id)
	if !ok {
		from = loadedCredential{Credential: credential.New(id)}
	}
	c, err := r.loadAfter(ctx, id, from)
	if err == nil {
		r.remember(c)
	}
	return c, err
}

// remember keeps a copy of c for the next loadRecent: c's own state changes
// as its caller applies new events.
func (r credentials) remember(c loadedCredential) {
	if c.Exists() {
		state := *c.Credential
		r.recent.Add(c.ID(), loadedCredential{Credential: &state, head: c.head, erased: c.erased})
	}
}

// loadAfter applies, to a copy of from, the events after from's head.
func (r credentials) loadAfter(ctx context.Context, id string, from loadedCredential) (loadedCredential, error) {
	if _, err := uuid.Parse(id); err != nil || !credential.Stream.Owns(credential.Stream.Name(id)) {
		return loadedCredential{}, fmt.Errorf("%w: %q is not a credential id", credential.ErrNotFound, id)
	}
	state := *from.Credential // Apply replaces fields, never mutates what they share
	c := loadedCredential{Credential: &state, head: from.head, erased: from.erased}
	head, err := r.read(ctx, credential.Stream.Name(id), eventstore.ReadOptions{From: from.head.Version + 1},
		func(e codec.Event, rec eventstore.RecordedEvent, meta codec.Metadata) error {
			ce, ok := e.(credential.Event)
			if !ok {
				return fmt.Errorf("%s is not a credential event", rec.Type)
			}
			c.erased = c.erased || meta.Erased
			return c.Apply(ce, meta.OccurredAt, meta.Actor)
		})
	if err != nil {
		return loadedCredential{}, fmt.Errorf("load credential %s: %w", id, err)
	}
	if head.Version > 0 {
		c.head = head
	}
	return c, nil
}

func (r credentials) save(ctx context.Context, c loadedCredential, events []credential.Event, meta codec.Metadata) (loadedCredential, eventstore.AppendResult, error) {
	if len(events) == 0 {
		return c, eventstore.AppendResult{Version: c.Version()}, nil
	}
	stored := make([]codec.Event, len(events))
	for i, e := range events {
		stored[i] = e
	}
	b := codec.Batch{Stream: credential.Stream.Name(c.ID()), Head: c.head, Subject: uuid.MustParse(c.ID()), NewSubject: !c.Exists()}
	head, res, err := r.append(ctx, b, meta, stored...)
	if errors.Is(err, eventstore.ErrWrongVersion) {
		return c, res, fmt.Errorf("credential %s: %w: %w", c.ID(), ErrConflict, err)
	}
	if err != nil {
		return c, res, fmt.Errorf("save credential %s: %w", c.ID(), err)
	}
	for _, e := range events {
		if err := c.Apply(e, meta.OccurredAt, meta.Actor); err != nil {
			return c, res, err
		}
	}
	c.head = head
	return c, res, nil
}

// list returns the ids of a customer's credentials, oldest first, and the
// head of the list's stream.
func (r credentials) list(ctx context.Context, customerID string) ([]string, codec.Head, error) {
	var ids []string
	head, err := r.read(ctx, credential.Index.Name(customerID), eventstore.ReadOptions{},
		func(e codec.Event, rec eventstore.RecordedEvent, _ codec.Metadata) error {
			a, ok := e.(credential.Attached)
			if !ok {
				return fmt.Errorf("%s is not a credential list event", rec.Type)
			}
			ids = append(ids, a.CredentialID)
			return nil
		})
	return ids, head, err
}

// attach lists a credential under its customer, once, before the credential
// is created: a crash in between leaves an id whose stream does not exist,
// which listing skips, never a credential that erasure would miss.
func (r credentials) attach(ctx context.Context, customerID, id string, meta codec.Metadata) error {
	for range 10 {
		ids, head, err := r.list(ctx, customerID)
		if err != nil || slices.Contains(ids, id) {
			return err
		}
		_, _, err = r.append(ctx, codec.Batch{Stream: credential.Index.Name(customerID), Head: head}, meta, credential.Attached{CredentialID: id})
		if !errors.Is(err, eventstore.ErrWrongVersion) {
			return err
		}
	}
	return fmt.Errorf("credentials of customer %s: %w", customerID, ErrConflict)
}

// destroyAll destroys the keys of a customer's credentials: erasing the
// customer reaches its credentials too.
func (r credentials) destroyAll(ctx context.Context, customerID string) error {
	ids, _, err := r.list(ctx, customerID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		err := r.keys.Destroy(ctx, uuid.MustParse(id))
		if err != nil && !errors.Is(err, keystore.ErrDestroyed) && !errors.Is(err, keystore.ErrNotFound) {
			return fmt.Errorf("destroy the key of credential %s: %w", id, err)
		}
	}
	return nil
}
