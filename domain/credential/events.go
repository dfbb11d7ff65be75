package credential

import "github.com/fieldservice/customer-service/domain/event"

// Event is something that happened to a credential.
type Event interface {
	event.Event
	credentialEvent()
}

// Stream is the kind of a credential's stream, "credential-<credential id>".
var Stream = event.ByID("credential-", "credential", event.UUID)

// Index is the kind of a customer's list of credentials,
// "credentials-<customer id>": what lists them and what erasing the customer
// destroys the keys of.
var Index = event.ByID("credentials-", "customer's credentials", event.UUID)

// Events declares every event type of the credential streams and the index.
func Events() []event.Type {
	return []event.Type{
		{Event: Created{}, SchemaVersion: 1},
		{Event: Changed{}, SchemaVersion: 1},
		{Event: Revealed{}, SchemaVersion: 1},
		{Event: Removed{}, SchemaVersion: 1},
		{Event: Attached{}, SchemaVersion: 1},
	}
}

// The stored type names.
const (
	TypeCreated  = "CredentialCreated"
	TypeChanged  = "CredentialChanged"
	TypeRevealed = "CredentialRevealed"
	TypeRemoved  = "CredentialRemoved"
	TypeAttached = "CredentialAttached"
)

// Sealed is a secret (a password, the notes) as the events hold it: a nonce
// and its AES-256-GCM ciphertext under the credential's own data key, bound
// to the credential and the field. The domain never sees the key: a Sealer
// seals, and only revealing opens.
type Sealed []byte

// The username is personal data (it is often the customer's email): the codec
// seals it under the credential's data key, which removing the credential or
// erasing its customer destroys. Names and addresses of devices are not.

// Created stores a new credential.
type Created struct {
	CustomerID string `json:"customer_id"`
	ContactID  string `json:"contact_id,omitempty"`
	Name       string `json:"name"`
	Username   string `json:"username,omitempty" personal:"true"`
	URL        string `json:"url,omitempty"`
	Password   Sealed `json:"password"`
	Notes      Sealed `json:"notes,omitempty"`
	Public     bool   `json:"public,omitempty"`
}

// Changed edits a credential; a nil or empty field is unchanged. A new
// password or notes is sealed afresh (a new nonce) under the same key.
type Changed struct {
	Name         *string `json:"name,omitempty"`
	Username     *string `json:"username,omitempty" personal:"true"`
	URL          *string `json:"url,omitempty"`
	ContactID    *string `json:"contact_id,omitempty"`
	Password     Sealed  `json:"password,omitempty"`
	Notes        Sealed  `json:"notes,omitempty"`
	NotesCleared bool    `json:"notes_cleared,omitempty"`
	Public       *bool   `json:"public,omitempty"`
}

// Revealed records that someone was shown the password. It is appended, and
// durably, before the password is shown. Who and when are the event's
// metadata. The reason is an audit record kept for good: it is not sealed.
type Revealed struct {
	ClientAddress string `json:"client_address,omitempty"`
	UserAgent     string `json:"user_agent,omitempty"`
	Reason        string `json:"reason,omitempty"`
}

// Removed takes a credential away for good: its data key is destroyed after
// this event, so it can never be revealed again.
type Removed struct {
	Reason string `json:"reason,omitempty"`
}

// Attached lists a credential under its customer (the Index stream).
type Attached struct {
	CredentialID string `json:"credential_id"`
}

func (Created) EventType() string  { return TypeCreated }
func (Changed) EventType() string  { return TypeChanged }
func (Revealed) EventType() string { return TypeRevealed }
func (Removed) EventType() string  { return TypeRemoved }
func (Attached) EventType() string { return TypeAttached }

func (Created) credentialEvent()  {}
func (Changed) credentialEvent()  {}
func (Revealed) credentialEvent() {}
func (Removed) credentialEvent()  {}
func (Attached) credentialEvent() {}
