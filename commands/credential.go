package commands

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/domain/credential"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/domain/permission"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/keystore"
)

// The credential commands. Each names the credential; those that change it
// may name the version the caller saw (If-Match; 0 skips the check). A
// CustomerID on a command about an existing credential scopes it: a
// credential of another customer is not found.

// CreateCredential stores a login for a customer.
type CreateCredential struct {
	Meta       Meta
	CustomerID string
	Credential credential.Input
}

// ChangeCredential edits a credential.
type ChangeCredential struct {
	Meta         Meta
	CustomerID   string
	CredentialID string
	SeenVersion  uint64
	Patch        credential.Patch
}

// RevealCredential shows a credential's password and notes, after recording
// who asked.
type RevealCredential struct {
	Meta          Meta
	CustomerID    string
	CredentialID  string
	ClientAddress string
	UserAgent     string
	Reason        string
}

// RemoveCredential removes a credential for good and destroys its key.
type RemoveCredential struct {
	Meta         Meta
	CustomerID   string
	CredentialID string
	SeenVersion  uint64
	Reason       string
}

// CredentialResult is what a credential command reports.
type CredentialResult struct {
	CredentialID string
	CustomerID   string
	Version      uint64
	// Position is the global position of the command's event, for read-your-writes.
	Position eventstore.Position
}

// Secrets are a revealed credential's password and notes.
type Secrets struct {
	CredentialResult
	Password string
	Notes    string
}

// CredentialHandler handles the credential commands and queries.
type CredentialHandler struct{ d *deps }

// Create attaches a new credential to its customer, creates the credential's
// own data key and stores it, its secrets sealed under that key. The
// idempotency record's id is the credential's, so a retried request answers
// with the credential it created.
func (h *CredentialHandler) Create(ctx context.Context, cmd CreateCredential) (CredentialResult, error) {
	if err := cmd.Meta.authorize(permission.CredentialsNew); err != nil {
		return CredentialResult{}, err
	}
	res, err := h.d.idem.run(ctx, cmd.Meta, "CreateCredential", cmd.input(), uuid.Must(uuid.NewV7()).String(),
		func(id string, resumed bool) (Result, error) {
			c, err := h.d.repo.load(ctx, cmd.CustomerID)
			if err != nil {
				return Result{}, err
			}
			switch {
			case !c.Registered():
				return Result{}, fmt.Errorf("customer %s: %w", cmd.CustomerID, ErrCustomerNotFound)
			case c.Erasure() != nil:
				return Result{}, customer.ErrErased
			}
			cred, err := h.d.creds.load(ctx, id)
			if err != nil {
				return Result{}, err
			}
			if resumed && cred.Exists() {
				return Result{CustomerID: id, Version: cred.Version()}, nil
			}
			now := h.d.cfg.Clock()
			if err := h.d.creds.attach(ctx, cmd.CustomerID, id, cmd.Meta.metadata(now)); err != nil {
				return Result{}, err
			}
			key, err := h.d.cfg.Keys.CreateDataKey(ctx, uuid.MustParse(id))
			if err != nil {
				return Result{}, fmt.Errorf("credential key: %w", err)
			}
			events, err := cred.Create(cmd.CustomerID, cmd.Credential, sealer(key, uuid.MustParse(id)))
			if err != nil {
				return Result{}, err
			}
			_, ar, err := h.d.creds.save(ctx, cred, events, cmd.Meta.metadata(now))
			return Result{CustomerID: id, Version: ar.Version, Position: ar.Position}, err
		})
	return CredentialResult{CredentialID: res.CustomerID, CustomerID: cmd.CustomerID, Version: res.Version, Position: res.Position}, err
}

// Change edits a credential; a new password or notes is sealed afresh under
// the credential's key.
func (h *CredentialHandler) Change(ctx context.Context, cmd ChangeCredential) (CredentialResult, error) {
	if err := cmd.Meta.authorize(permission.CredentialsEdit); err != nil {
		return CredentialResult{}, err
	}
	res, err := h.d.idem.run(ctx, cmd.Meta, "ChangeCredential", cmd.input(), cmd.CredentialID,
		func(string, bool) (Result, error) {
			cred, err := h.live(ctx, cmd.CustomerID, cmd.CredentialID, cmd.SeenVersion)
			if err != nil {
				return Result{}, err
			}
			id := uuid.MustParse(cred.ID())
			var seal credential.Sealer = func(string, string) (credential.Sealed, error) {
				return nil, errors.New("no secret to seal")
			}
			if cmd.Patch.Password != nil || cmd.Patch.Notes != nil {
				key, err := h.key(ctx, cred)
				if err != nil {
					return Result{}, err
				}
				seal = sealer(key, id)
			}
			events, err := cred.Change(cmd.Patch, seal)
			if err != nil {
				return Result{}, err
			}
			if cmd.Patch.Username != nil && cred.erased {
				return Result{}, fmt.Errorf("%w: the username would be personal data with no key to seal it", customer.ErrErased)
			}
			_, ar, err := h.d.creds.save(ctx, cred, events, cmd.Meta.metadata(h.d.cfg.Clock()))
			return Result{CustomerID: cred.ID(), Version: ar.Version, Position: ar.Position}, err
		})
	return CredentialResult{CredentialID: cmd.CredentialID, CustomerID: cmd.CustomerID, Version: res.Version, Position: res.Position}, err
}

// Reveal appends CredentialRevealed and, only once the store has it, opens
// the password and the notes. A reveal is recorded and shown again each time;
// it needs no idempotency key. Another reveal landing first is no conflict:
// it is retried.
func (h *CredentialHandler) Reveal(ctx context.Context, cmd RevealCredential) (Secrets, error) {
	if err := cmd.Meta.authorize(permission.CredentialsReveal); err != nil {
		return Secrets{}, err
	}
	for attempt := 0; ; attempt++ {
		cred, err := h.d.creds.loadRecent(ctx, cmd.CredentialID)
		if err == nil {
			err = scope(cred, cmd.CustomerID, cmd.CredentialID)
		}
		if err == nil && cred.Removed() {
			err = fmt.Errorf("%w: %s", credential.ErrRemoved, cmd.CredentialID)
		}
		if err != nil {
			return Secrets{}, err
		}
		key, err := h.key(ctx, cred) // before the event: a destroyed key reveals nothing, so record nothing
		if err != nil {
			return Secrets{}, err
		}
		events, err := cred.Reveal(cmd.ClientAddress, cmd.UserAgent, cmd.Reason)
		if err != nil {
			return Secrets{}, err
		}
		cred, ar, err := h.d.creds.save(ctx, cred, events, cmd.Meta.metadata(h.d.cfg.Clock()))
		if errors.Is(err, ErrConflict) && attempt < 50 {
			// Back off a little, at random: concurrent reveals of one credential
			// otherwise collide again at once.
			select {
			case <-time.After(time.Duration(1+rand.IntN(1+min(attempt, 10))) * time.Millisecond):
			case <-ctx.Done():
				return Secrets{}, ctx.Err()
			}
			continue
		}
		if err != nil {
			return Secrets{}, err
		}
		h.d.creds.remember(cred)
		id := uuid.MustParse(cred.ID())
		password, notes := cred.Secrets()
		out := Secrets{CredentialResult: CredentialResult{CredentialID: cred.ID(), CustomerID: cred.CustomerID(), Version: ar.Version, Position: ar.Position}}
		if out.Password, err = openSecret(key, id, credential.FieldPassword, password); err != nil {
			return Secrets{}, err
		}
		if out.Notes, err = openSecret(key, id, credential.FieldNotes, notes); err != nil {
			return Secrets{}, err
		}
		return out, nil
	}
}

// Remove appends CredentialRemoved, then destroys the credential's key. Run
// again after a crash between the two, it finishes the removal.
func (h *CredentialHandler) Remove(ctx context.Context, cmd RemoveCredential) (CredentialResult, error) {
	if err := cmd.Meta.authorize(permission.CredentialsDelete); err != nil {
		return CredentialResult{}, err
	}
	cred, err := h.d.creds.load(ctx, cmd.CredentialID)
	if err != nil {
		return CredentialResult{}, err
	}
	if err := scope(cred, cmd.CustomerID, cmd.CredentialID); err != nil {
		return CredentialResult{}, err
	}
	id := uuid.MustParse(cred.ID())
	res := CredentialResult{CredentialID: cred.ID(), CustomerID: cred.CustomerID(), Version: cred.Version()}
	if cred.Removed() {
		if _, err := h.d.cfg.Keys.DataKey(ctx, id); err != nil {
			return CredentialResult{}, fmt.Errorf("%w: %s", credential.ErrRemoved, cred.ID())
		}
	} else {
		if cmd.SeenVersion != 0 && cmd.SeenVersion != cred.Version() {
			return CredentialResult{}, &StaleVersionError{Record: "credential", CustomerID: cred.ID(), Expected: cmd.SeenVersion, Actual: cred.Version()}
		}
		events, err := cred.Remove(cmd.Reason)
		if err != nil {
			return CredentialResult{}, err
		}
		_, ar, err := h.d.creds.save(ctx, cred, events, cmd.Meta.metadata(h.d.cfg.Clock()))
		if err != nil {
			return CredentialResult{}, err
		}
		res.Version, res.Position = ar.Version, ar.Position
	}
	if err := h.d.cfg.Keys.Destroy(ctx, id); err != nil && !errors.Is(err, keystore.ErrDestroyed) && !errors.Is(err, keystore.ErrNotFound) {
		return CredentialResult{}, fmt.Errorf("remove credential %s: %w", cred.ID(), err)
	}
	return res, nil
}

// live loads a credential that exists, is not removed, belongs to customerID
// (when given) and is at seen (when not 0).
func (h *CredentialHandler) live(ctx context.Context, customerID, id string, seen uint64) (loadedCredential, error) {
	cred, err := h.d.creds.load(ctx, id)
	if err != nil {
		return cred, err
	}
	if err := scope(cred, customerID, id); err != nil {
		return cred, err
	}
	if cred.Removed() {
		return cred, fmt.Errorf("%w: %s", credential.ErrRemoved, id)
	}
	if seen != 0 && seen != cred.Version() {
		return cred, &StaleVersionError{Record: "credential", CustomerID: id, Expected: seen, Actual: cred.Version()}
	}
	return cred, nil
}

func scope(cred loadedCredential, customerID, id string) error {
	if !cred.Exists() || customerID != "" && cred.CustomerID() != customerID {
		return fmt.Errorf("%w: %s", credential.ErrNotFound, id)
	}
	return nil
}

// key is the credential's data key; a destroyed one means the customer was
// erased (a removed credential is refused before).
func (h *CredentialHandler) key(ctx context.Context, cred loadedCredential) (cipher.AEAD, error) {
	key, err := h.d.cfg.Keys.DataKey(ctx, uuid.MustParse(cred.ID()))
	if errors.Is(err, keystore.ErrDestroyed) {
		return nil, fmt.Errorf("credential %s: %w", cred.ID(), customer.ErrErased)
	}
	if err != nil {
		return nil, fmt.Errorf("credential key: %w", err)
	}
	return key, nil
}

// CredentialQuery asks for one credential, scoped to CustomerID when set.
type CredentialQuery struct {
	CustomerID   string
	CredentialID string
}

// CredentialView is a credential as anyone allowed to view it sees it: the
// secrets masked.
type CredentialView struct {
	*credential.Credential
	// Erased: the customer was erased; the username is gone with the key.
	Erased bool
}

// Credential answers CredentialQuery from the store.
func (h *CredentialHandler) Credential(ctx context.Context, q CredentialQuery) (CredentialView, error) {
	cred, err := h.d.creds.load(ctx, q.CredentialID)
	if err != nil {
		return CredentialView{}, err
	}
	if err := scope(cred, q.CustomerID, q.CredentialID); err != nil {
		return CredentialView{}, err
	}
	return CredentialView{Credential: cred.Credential, Erased: cred.erased}, nil
}

// CustomerCredentials lists a customer's credentials from the store, oldest
// first; removed ones only when asked.
func (h *CredentialHandler) CustomerCredentials(ctx context.Context, customerID string, withRemoved bool) ([]CredentialView, error) {
	c, err := h.d.repo.load(ctx, customerID)
	if err != nil {
		return nil, err
	}
	if !c.Registered() {
		return nil, fmt.Errorf("customer %s: %w", customerID, ErrCustomerNotFound)
	}
	ids, _, err := h.d.creds.list(ctx, customerID)
	if err != nil {
		return nil, err
	}
	out := []CredentialView{}
	for _, id := range ids {
		cred, err := h.d.creds.load(ctx, id)
		if err != nil {
			return nil, err
		}
		if !cred.Exists() || cred.Removed() && !withRemoved {
			continue // attached by a create that crashed before storing it
		}
		out = append(out, CredentialView{Credential: cred.Credential, Erased: cred.erased})
	}
	return out, nil
}

func (c CreateCredential) input() any { c.Meta = Meta{}; return c }
func (c ChangeCredential) input() any { c.Meta = Meta{}; return c }
