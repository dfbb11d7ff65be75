// Package commands holds the application services of the Customer service: one
// handler per command, each loading an aggregate, letting it decide, and appending
// the events with the version it decided on; the queries answered from the event
// store itself (a customer's history); and the catalogue of every event type and
// stream kind the service stores. Uniqueness (primary emails, customer numbers)
// and idempotency keys are kept in reservation streams of the same store.
package commands

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/keystore"
)

// Config configures the application.
type Config struct {
	// Store holds every event. Required.
	Store eventstore.Store
	// Keys holds the customers' data keys, which seal their personal data, and the
	// index key that names email reservations. Required.
	Keys *keystore.Keyring
	// Policy says which customer fields are required. Default customer.DefaultPolicy().
	Policy *customer.Policy
	// PhoneRegion is the region (ISO 3166 alpha-2) of phone numbers typed without a
	// country code. Default "US".
	PhoneRegion string
	// ClaimGrace is how long a reservation or idempotency claim is honoured before a
	// crashed owner's claim may be taken over. Default one minute; it must exceed
	// the longest a command may run.
	ClaimGrace time.Duration
	// Clock stamps events. Default time.Now.
	Clock func() time.Time
	// GroupsTTL is how long the permission groups are cached: how long a
	// change made through another instance may take to hold here. Default 2 s.
	GroupsTTL time.Duration
}

func (c *Config) setDefaults() {
	if c.Policy == nil {
		p := customer.DefaultPolicy()
		c.Policy = &p
	}
	if c.PhoneRegion == "" {
		c.PhoneRegion = "US"
	}
	if c.ClaimGrace == 0 {
		c.ClaimGrace = time.Minute
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.GroupsTTL == 0 {
		c.GroupsTTL = 2 * time.Second
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("store is required"))
	}
	if c.Keys == nil {
		errs = append(errs, errors.New("keys are required"))
	}
	if c.Policy != nil {
		if err := c.Policy.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("policy: %w", err))
		}
	}
	if c.ClaimGrace < 0 {
		errs = append(errs, errors.New("claim grace must not be negative"))
	}
	return errors.Join(errs...)
}

// App lists every command handler.
type App struct {
	RegisterCustomer *RegisterCustomerHandler
	UpdateCustomer   *UpdateCustomerHandler
	ArchiveCustomer  *ArchiveCustomerHandler
	ReenableCustomer *ReenableCustomerHandler
	AddNote          *AddNoteHandler
	EraseCustomer    *EraseCustomerHandler
	// Account moves money on customers' accounts.
	Account *AccountHandler
	// Credentials keeps customers' logins and records every reveal.
	Credentials *CredentialHandler
	// Groups keeps the permission groups tokens are issued for.
	Groups *GroupsHandler

	// Queries answered from the event store.
	CustomerHistory *CustomerHistoryHandler

	store eventstore.Store
	codec *codec.Codec
}

// deps is what the handlers share.
type deps struct {
	cfg      Config
	repo     repository
	accounts accounts
	creds    credentials
	emails   emails
	numbers  *numbers
	idem     *idempotency
}

// New builds the application. It reads (or on first use creates) the index key.
func New(ctx context.Context, cfg Config) (*App, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("commands: invalid config: %w", err)
	}
	cdc, err := codec.New(Events, cfg.Keys)
	if err != nil {
		return nil, err
	}
	index, err := cfg.Keys.IndexKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("commands: %w", err)
	}
	st := streams{store: cfg.Store, codec: cdc}
	recent, err := lru.New[string, loadedCredential](10_000)
	if err != nil {
		return nil, err
	}
	d := &deps{
		cfg:      cfg,
		repo:     repository{st},
		accounts: accounts{st},
		creds:    credentials{streams: st, keys: cfg.Keys, recent: recent},
		numbers:  &numbers{streams: st, clock: cfg.Clock},
		idem: &idempotency{streams: st, key: subkey(index, "idempotency request fingerprints"),
			grace: cfg.ClaimGrace, clock: cfg.Clock, inflight: map[string]chan struct{}{}},
	}
	d.emails = emails{streams: st, key: subkey(index, "email reservations"), grace: cfg.ClaimGrace,
		clock: cfg.Clock, holds: d.holdsEmail}
	return &App{
		RegisterCustomer: &RegisterCustomerHandler{d},
		UpdateCustomer:   &UpdateCustomerHandler{d},
		ArchiveCustomer:  &ArchiveCustomerHandler{d},
		ReenableCustomer: &ReenableCustomerHandler{d},
		AddNote:          &AddNoteHandler{d},
		EraseCustomer:    &EraseCustomerHandler{d},
		Account:          &AccountHandler{d},
		Credentials:      &CredentialHandler{d: d},
		Groups:           &GroupsHandler{d: d},
		CustomerHistory:  &CustomerHistoryHandler{d},
		store:            cfg.Store,
		codec:            cdc,
	}, nil
}

// Ping reports whether the event store answers.
func (a *App) Ping(ctx context.Context) error {
	_, err := a.store.LastPosition(ctx)
	return err
}

// subkey derives a key for one purpose from the index key, so that no two uses
// share a key.
func subkey(index []byte, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, index, nil, "customerd "+purpose, 32)
	if err != nil {
		panic(err) // only for lengths HKDF cannot produce
	}
	return k
}
