// Package customer is the Customer aggregate of field-service and PSA businesses:
// people and companies the office registers and edits, technicians visit and
// billing invoices. It is pure: behaviour methods check the rules against the
// current state and return events or a domain error; apply is the only place state
// changes, for new events and for replayed history alike.
package customer

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/personal"
)

// Domain errors. Callers match them with errors.Is.
var (
	ErrAlreadyRegistered = errors.New("customer already registered")
	ErrNotRegistered     = errors.New("customer not registered")
	ErrAlreadyArchived   = errors.New("customer already archived")
	ErrNotArchived       = errors.New("customer is not archived")
	ErrErased            = errors.New("customer's personal data was erased")
)

// Customer is the aggregate's state, rebuilt from its events.
type Customer struct {
	id         string
	number     int64
	version    uint64
	details    Details
	archived   bool
	reason     string
	notes      []Note
	createdAt  time.Time
	createdBy  actor.Actor
	modifiedAt time.Time
	modifiedBy actor.Actor
	erasure    *Erasure
}

// Erasure says when, by whom and why a customer's personal data was erased. An
// erased customer keeps its id, number, picklists, flags and history; its personal
// fields read as empty.
type Erasure struct {
	At        time.Time
	By        actor.Actor
	Reason    ErasureReason
	Reference string
}

// Note is an office note on a customer.
type Note struct {
	ID     string
	Text   string
	Author actor.Actor
	At     time.Time
}

// Recorded is a stored event with the metadata the aggregate keeps.
type Recorded struct {
	Event Event
	At    time.Time
	By    actor.Actor
}

// New returns the state of a customer that has no events yet.
func New(id string) *Customer { return &Customer{id: id} }

// Replay rebuilds a customer from its history, in order.
func Replay(id string, history []Recorded) (*Customer, error) {
	c := New(id)
	for _, r := range history {
		if err := c.Apply(r); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Customer) ID() string              { return c.id }
func (c *Customer) Number() int64           { return c.number }
func (c *Customer) Version() uint64         { return c.version }
func (c *Customer) Details() Details        { return c.details }
func (c *Customer) Archived() bool          { return c.archived }
func (c *Customer) ArchiveReason() string   { return c.reason }
func (c *Customer) Notes() []Note           { return append([]Note(nil), c.notes...) }
func (c *Customer) Registered() bool        { return c.version > 0 }
func (c *Customer) CreatedAt() time.Time    { return c.createdAt }
func (c *Customer) CreatedBy() actor.Actor  { return c.createdBy }
func (c *Customer) ModifiedAt() time.Time   { return c.modifiedAt }
func (c *Customer) ModifiedBy() actor.Actor { return c.modifiedBy }

// Erasure is nil unless the customer's personal data was erased.
func (c *Customer) Erasure() *Erasure { return c.erasure }

// Register decides the registration of a new customer: its details normalized
// and valid under policy. The customer's number is not part of the decision: it
// is assigned afterwards (Registration.Numbered), so that bad input claims none.
func (c *Customer) Register(d Details, policy Policy) (Registration, error) {
	if c.Registered() {
		return Registration{}, ErrAlreadyRegistered
	}
	d = normalize(d)
	if err := validate(d, policy); err != nil {
		return Registration{}, err
	}
	return Registration{id: c.id, details: d}, nil
}

// Registration is a decided registration waiting for its customer number.
type Registration struct {
	id      string
	details Details
}

// Details are the customer's details as they will be recorded: normalized.
func (r Registration) Details() Details { return r.details }

// Numbered returns the registration's event with the customer's number, which
// the caller assigns (positive, unique, increasing).
func (r Registration) Numbered(number int64) []Event {
	if number <= 0 {
		panic(fmt.Sprintf("register customer %s: number %d must be positive", r.id, number))
	}
	return []Event{Registered{CustomerID: r.id, Number: number, Details: r.details}}
}

// Update applies a partial edit. It records only the fields whose value changes,
// and nothing at all when none does.
func (c *Customer) Update(p Patch, policy Policy) ([]Event, error) {
	if err := c.mustBeLive(); err != nil {
		return nil, err
	}
	next := normalize(p.applyTo(c.details))
	if err := validate(next, policy); err != nil {
		return nil, err
	}
	changes := diff(c.details, next)
	if changes.IsEmpty() {
		return nil, nil
	}
	return []Event{DetailsChanged{Changes: changes}}, nil
}

// Archive takes the customer out of daily use, with a reason. Who archived it is
// recorded in the event's metadata, as for every event.
func (c *Customer) Archive(reason string) ([]Event, error) {
	if !c.Registered() {
		return nil, ErrNotRegistered
	}
	if c.archived {
		return nil, ErrAlreadyArchived
	}
	reason, err := requiredText("reason", reason, maxText, "archiving needs a reason")
	if err != nil {
		return nil, err
	}
	return []Event{Archived{Reason: reason}}, nil
}

// Reenable brings an archived customer back into use.
func (c *Customer) Reenable() ([]Event, error) {
	if err := c.mustBeLive(); err != nil {
		return nil, err
	}
	if !c.archived {
		return nil, ErrNotArchived
	}
	return []Event{Reenabled{}}, nil
}

// AddNote records a note by author at the given time.
func (c *Customer) AddNote(noteID string, author actor.Actor, at time.Time, text string) ([]Event, error) {
	if err := c.mustBeLive(); err != nil {
		return nil, err
	}
	text, err := requiredText("text", text, maxLong, "a note needs text")
	if err != nil {
		return nil, err
	}
	return []Event{NoteAdded{NoteID: noteID, Text: text, AuthorID: author.ID, AuthorName: author.Name, At: at.UTC()}}, nil
}

// Erase forgets the customer's personal data, for a reason from the picklist and
// an optional case reference (letters, digits and . _ : / -, at most 64). Only an
// archived customer can be erased, so that nobody is working with it.
func (c *Customer) Erase(reason ErasureReason, reference string) ([]Event, error) {
	if err := c.mustBeLive(); err != nil {
		return nil, err
	}
	if !c.archived {
		return nil, fmt.Errorf("%w: archive the customer before erasing it", ErrNotArchived)
	}
	var p problems
	if reason == (ErasureReason{}) {
		p.add("reason", "an erasure needs a reason: subject_request, retention_expired or legal_order")
	}
	reference = strings.TrimSpace(reference)
	if len(reference) > 64 || strings.Trim(reference, referenceChars) != "" {
		p.add("reference", "a case reference is at most 64 letters, digits and . _ : / - (no free text: it is never erased)")
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return []Event{Erased{Reason: reason, Reference: reference}}, nil
}

const referenceChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/-"

// mustBeLive refuses changes to a customer that is not registered or was erased.
func (c *Customer) mustBeLive() error {
	switch {
	case !c.Registered():
		return ErrNotRegistered
	case c.erasure != nil:
		return ErrErased
	}
	return nil
}

// Apply changes the state by one recorded event. It never fails on a valid
// history; an unknown event type is an error, since skipping it would build a
// state that never existed.
func (c *Customer) Apply(r Recorded) error {
	switch e := r.Event.(type) {
	case Registered:
		c.number, c.details = e.Number, e.Details
		c.createdAt, c.createdBy = r.At, r.By
	case DetailsChanged:
		c.details = e.Changes.applyTo(c.details)
	case Archived:
		c.archived, c.reason = true, e.Reason
	case Reenabled:
		c.archived, c.reason = false, ""
	case NoteAdded:
		author := actor.Actor{ID: e.AuthorID, Name: e.AuthorName}
		if r.By.ID == e.AuthorID {
			author.Role = r.By.Role // the event's metadata says who wrote it, with the role history shows
		}
		c.notes = append(c.notes, Note{ID: e.NoteID, Text: e.Text, Author: author, At: e.At})
	case Erased:
		c.erasure = &Erasure{At: r.At, By: r.By, Reason: e.Reason, Reference: e.Reference}
		c.details, c.reason = personal.Redact(c.details), ""
		for i := range c.notes {
			c.notes[i].Text = ""
		}
	default:
		return fmt.Errorf("customer %s: cannot apply %T", c.id, r.Event)
	}
	c.version++
	c.modifiedAt, c.modifiedBy = r.At, r.By
	return nil
}

// requiredText trims s and checks it is present and at most max characters long.
func requiredText(path, s string, max int, missing string) (string, error) {
	s = strings.TrimSpace(s)
	var p problems
	if s == "" {
		p.add(path, "%s", missing)
	} else if utf8.RuneCountInString(s) > max {
		p.add(path, "longer than %d characters", max)
	}
	return s, p.err()
}
