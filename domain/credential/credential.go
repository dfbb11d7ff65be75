// Package credential is a login that a business keeps for its customer: a
// router's, a portal's, a Wi-Fi network's or an alarm panel's, with its
// username, address, password and notes, in one stream per credential
// ("credential-<id>"). Like the other aggregates it is pure: behaviour methods
// check the rules and return events or an *Error listing every problem; Apply
// is the only place state changes.
//
// The password and the notes never enter an event in clear. The command layer
// hands the aggregate a Sealer (AES-256-GCM under the credential's own data
// key, bound to the credential and the field), and only revealing opens what
// it sealed. Reading a credential shows Mask in their place.
package credential

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fieldservice/customer-service/domain/actor"
)

// Mask stands for a secret wherever a credential is read.
const Mask = "********"

// Fields of a credential that hold secrets: what a Sealer binds a ciphertext to.
const (
	FieldPassword = "password"
	FieldNotes    = "notes"
)

// Sealer seals a secret of one field of the credential.
type Sealer func(field, plaintext string) (Sealed, error)

// Domain errors.
var (
	ErrInvalid  = errors.New("invalid credential")
	ErrNotFound = errors.New("credential not found")
	// ErrRemoved: the credential was removed; it can be read, never revealed or changed.
	ErrRemoved = errors.New("credential was removed")
)

// Problem is one reason a command is refused: the input field (the API's
// name) and what is wrong with it.
type Problem struct {
	Path    string
	Message string
}

// Error lists the problems of a refused command; errors.Is matches ErrInvalid.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Path + ": " + p.Message
	}
	return "credential: " + strings.Join(parts, "; ")
}

func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Input is a new credential, its secrets in clear: they are sealed before
// any event holds them.
type Input struct {
	ContactID string
	Name      string
	Username  string
	URL       string
	Password  string
	Notes     string
	Public    bool
}

// Patch edits a credential; nil fields are unchanged. Notes "" clears them; a
// password cannot be cleared.
type Patch struct {
	ContactID *string
	Name      *string
	Username  *string
	URL       *string
	Password  *string
	Notes     *string
	Public    *bool
}

// Limits, in characters (the password in bytes).
const (
	maxName     = 100
	maxUsername = 200
	maxURL      = 2000
	maxPassword = 1024
	maxNotes    = 4000
	maxReason   = 500
	// Client details come from request headers; they are cut, not refused.
	maxClient = 256
)

// Credential is the aggregate's state.
type Credential struct {
	id         string
	customerID string
	contactID  string
	name       string
	username   string
	url        string
	password   Sealed
	notes      Sealed
	public     bool
	version    uint64
	removed    bool
	createdAt  time.Time
	createdBy  actor.Actor
	changedAt  time.Time
	reveals    int
}

// Recorded is a stored event with the metadata the aggregate keeps.
type Recorded struct {
	Event Event
	At    time.Time
	By    actor.Actor
}

// New is a credential that does not exist yet (version 0).
func New(id string) *Credential { return &Credential{id: id} }

// Replay rebuilds a credential from its history.
func Replay(id string, history []Recorded) (*Credential, error) {
	c := New(id)
	for _, r := range history {
		if err := c.apply(r); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Credential) ID() string             { return c.id }
func (c *Credential) CustomerID() string     { return c.customerID }
func (c *Credential) ContactID() string      { return c.contactID }
func (c *Credential) Name() string           { return c.name }
func (c *Credential) Username() string       { return c.username }
func (c *Credential) URL() string            { return c.url }
func (c *Credential) Public() bool           { return c.public }
func (c *Credential) Version() uint64        { return c.version }
func (c *Credential) Exists() bool           { return c.version > 0 }
func (c *Credential) Removed() bool          { return c.removed }
func (c *Credential) HasNotes() bool         { return len(c.notes) > 0 }
func (c *Credential) CreatedAt() time.Time   { return c.createdAt }
func (c *Credential) CreatedBy() actor.Actor { return c.createdBy }
func (c *Credential) ChangedAt() time.Time   { return c.changedAt }
func (c *Credential) Reveals() int           { return c.reveals }

// Secrets are the sealed password and notes, for revealing.
func (c *Credential) Secrets() (password, notes Sealed) { return c.password, c.notes }

// Create stores a new credential for a customer.
func (c *Credential) Create(customerID string, in Input, seal Sealer) ([]Event, error) {
	if c.Exists() {
		return nil, &Error{[]Problem{{"id", "a credential with this id exists"}}}
	}
	var ps problems
	ps.text("name", in.Name, maxName, true)
	ps.text("username", in.Username, maxUsername, false)
	ps.text("url", in.URL, maxURL, false)
	ps.text("contact_id", in.ContactID, 64, false)
	ps.secret("password", in.Password, maxPassword, true)
	ps.secret("notes", in.Notes, maxNotes, false)
	if err := ps.err(); err != nil {
		return nil, err
	}
	e := Created{CustomerID: customerID, ContactID: in.ContactID, Name: strings.TrimSpace(in.Name),
		Username: in.Username, URL: strings.TrimSpace(in.URL), Public: in.Public}
	var err error
	if e.Password, err = seal(FieldPassword, in.Password); err != nil {
		return nil, err
	}
	if in.Notes != "" {
		if e.Notes, err = seal(FieldNotes, in.Notes); err != nil {
			return nil, err
		}
	}
	return []Event{e}, nil
}

// Change edits the credential. A patch that changes nothing makes no event.
func (c *Credential) Change(p Patch, seal Sealer) ([]Event, error) {
	if err := c.live(); err != nil {
		return nil, err
	}
	var ps problems
	if p.Name != nil {
		ps.text("name", *p.Name, maxName, true)
	}
	if p.Username != nil {
		ps.text("username", *p.Username, maxUsername, false)
	}
	if p.URL != nil {
		ps.text("url", *p.URL, maxURL, false)
	}
	if p.ContactID != nil {
		ps.text("contact_id", *p.ContactID, 64, false)
	}
	if p.Password != nil {
		ps.secret("password", *p.Password, maxPassword, true)
	}
	if p.Notes != nil {
		ps.secret("notes", *p.Notes, maxNotes, false)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	var e Changed
	changed := false
	str := func(dst **string, v *string, cur string) {
		if v != nil && strings.TrimSpace(*v) != cur {
			t := strings.TrimSpace(*v)
			*dst, changed = &t, true
		}
	}
	str(&e.Name, p.Name, c.name)
	str(&e.URL, p.URL, c.url)
	str(&e.ContactID, p.ContactID, c.contactID)
	if p.Username != nil && *p.Username != c.username {
		e.Username, changed = p.Username, true
	}
	if p.Public != nil && *p.Public != c.public {
		e.Public, changed = p.Public, true
	}
	// A secret given is always sealed afresh: whether it equals the old one is
	// not known without opening it, and opening is for reveals only.
	var err error
	if p.Password != nil {
		if e.Password, err = seal(FieldPassword, *p.Password); err != nil {
			return nil, err
		}
		changed = true
	}
	switch {
	case p.Notes != nil && *p.Notes != "":
		if e.Notes, err = seal(FieldNotes, *p.Notes); err != nil {
			return nil, err
		}
		changed = true
	case p.Notes != nil && len(c.notes) > 0:
		e.NotesCleared, changed = true, true
	}
	if !changed {
		return nil, nil
	}
	return []Event{e}, nil
}

// Reveal records a reveal. The caller shows the password only once the
// event is stored.
func (c *Credential) Reveal(clientAddress, userAgent, reason string) ([]Event, error) {
	if err := c.live(); err != nil {
		return nil, err
	}
	var ps problems
	ps.text("reason", reason, maxReason, false)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return []Event{Revealed{ClientAddress: cut(clientAddress, maxClient), UserAgent: cut(userAgent, maxClient),
		Reason: strings.TrimSpace(reason)}}, nil
}

// Remove removes the credential for good.
func (c *Credential) Remove(reason string) ([]Event, error) {
	if err := c.live(); err != nil {
		return nil, err
	}
	var ps problems
	ps.text("reason", reason, maxReason, false)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return []Event{Removed{Reason: strings.TrimSpace(reason)}}, nil
}

func (c *Credential) live() error {
	switch {
	case !c.Exists():
		return fmt.Errorf("%w: %s", ErrNotFound, c.id)
	case c.removed:
		return fmt.Errorf("%w: %s", ErrRemoved, c.id)
	}
	return nil
}

// Apply changes the state by one new event.
func (c *Credential) Apply(e Event, at time.Time, by actor.Actor) error {
	return c.apply(Recorded{Event: e, At: at, By: by})
}

func (c *Credential) apply(r Recorded) error {
	switch e := r.Event.(type) {
	case Created:
		c.customerID, c.contactID, c.name, c.username, c.url = e.CustomerID, e.ContactID, e.Name, e.Username, e.URL
		c.password, c.notes, c.public = e.Password, e.Notes, e.Public
		c.createdAt, c.createdBy, c.changedAt = r.At, r.By, r.At
	case Changed:
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&c.name, e.Name)
		set(&c.username, e.Username)
		set(&c.url, e.URL)
		set(&c.contactID, e.ContactID)
		if e.Public != nil {
			c.public = *e.Public
		}
		if len(e.Password) > 0 {
			c.password = e.Password
		}
		if len(e.Notes) > 0 {
			c.notes = e.Notes
		}
		if e.NotesCleared {
			c.notes = nil
		}
		c.changedAt = r.At
	case Revealed:
		c.reveals++
	case Removed:
		c.removed, c.changedAt = true, r.At
	default:
		return fmt.Errorf("credential %s: %T is not a credential event", c.id, r.Event)
	}
	c.version++
	return nil
}

// problems collects the problems of one command.
type problems []Problem

func (ps *problems) add(path, msg string) { *ps = append(*ps, Problem{path, msg}) }

func (ps *problems) text(path, v string, max int, required bool) {
	switch {
	case required && strings.TrimSpace(v) == "":
		ps.add(path, "is required")
	case utf8.RuneCountInString(v) > max:
		ps.add(path, fmt.Sprintf("is longer than %d characters", max))
	case strings.ContainsFunc(v, isControl):
		ps.add(path, "holds control characters")
	}
}

// secret checks a secret without ever naming its value.
func (ps *problems) secret(path, v string, max int, required bool) {
	switch {
	case required && v == "":
		ps.add(path, "is required")
	case len(v) > max:
		ps.add(path, fmt.Sprintf("is longer than %d bytes", max))
	}
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &Error{Problems: ps}
}

func isControl(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }

func cut(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}
