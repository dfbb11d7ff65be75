package customer

import (
	"time"

	"github.com/fieldservice/customer-service/domain/event"
)

// Event is something that happened to a customer. Each has a stable type name,
// declared in Events; renaming one breaks every stored event. Only this
// package's event types are customer events.
type Event interface {
	event.Event
	customerEvent()
}

// Stream is the kind of a customer's stream, "customer-<id>".
var Stream = event.ByID("customer-", "customer", event.UUID)

// Events declares every event type of a customer's stream with its schema
// version.
func Events() []event.Type {
	return []event.Type{
		{Event: Registered{}, SchemaVersion: 1},
		{Event: DetailsChanged{}, SchemaVersion: 1},
		{Event: Archived{}, SchemaVersion: 1},
		{Event: Reenabled{}, SchemaVersion: 1},
		{Event: NoteAdded{}, SchemaVersion: 1},
		{Event: Erased{}, SchemaVersion: 1},
	}
}

// The stored type names.
const (
	TypeRegistered     = "CustomerRegistered"
	TypeDetailsChanged = "CustomerDetailsChanged"
	TypeArchived       = "CustomerArchived"
	TypeReenabled      = "CustomerReenabled"
	TypeNoteAdded      = "CustomerNoteAdded"
	TypeErased         = "CustomerErased"
)

// Fields tagged personal:"true" (here and in Details, Phone and Address) hold
// personal data: the event codec seals them under the customer's data key, and
// erasing the customer destroys that key. Tag every new field that can identify a
// person or carries free text about one.

// Registered starts a customer's stream.
type Registered struct {
	CustomerID string  `json:"customer_id"`
	Number     int64   `json:"number"` // human-friendly, unique, increasing
	Details    Details `json:"details"`
}

// DetailsChanged records an edit: only the fields whose value changed.
type DetailsChanged struct {
	Changes Patch `json:"changes"`
}

// Archived takes a customer out of daily lists; nothing is deleted.
type Archived struct {
	Reason string `json:"reason" personal:"true"` // free text: it may name people
}

// Reenabled brings an archived customer back.
type Reenabled struct{}

// NoteAdded records an office note about the customer (not about a job).
type NoteAdded struct {
	NoteID     string    `json:"note_id"`
	Text       string    `json:"text" personal:"true"`
	AuthorID   string    `json:"author_id"`
	AuthorName string    `json:"author_name"`
	At         time.Time `json:"at"`
}

// Erased records that the customer's personal data was erased: the data key that
// sealed it is destroyed right after. It holds no personal data itself.
type Erased struct {
	Reason    ErasureReason `json:"reason"`
	Reference string        `json:"reference,omitempty"` // a case or ticket id
}

func (Registered) customerEvent()     {}
func (DetailsChanged) customerEvent() {}
func (Archived) customerEvent()       {}
func (Reenabled) customerEvent()      {}
func (NoteAdded) customerEvent()      {}
func (Erased) customerEvent()         {}

func (Registered) EventType() string     { return TypeRegistered }
func (DetailsChanged) EventType() string { return TypeDetailsChanged }
func (Archived) EventType() string       { return TypeArchived }
func (Reenabled) EventType() string      { return TypeReenabled }
func (NoteAdded) EventType() string      { return TypeNoteAdded }
func (Erased) EventType() string         { return TypeErased }
