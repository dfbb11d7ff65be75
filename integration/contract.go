// Package integration is what other services subscribe to: integration
// events, a public and versioned contract kept apart from the stored events,
// as CloudEvents 1.0, published through watermill (bus.go) by a relay on the
// shared reader (relay.go) and served as Server-Sent Events by the API.
//
// Each stored type maps to one integration type ("customer.registered.v1")
// whose data is built from a list of the stored event's fields that the
// contract names, so a field added to a stored event reaches no subscriber
// until the contract (and its AsyncAPI document) takes it in. Two topics:
//
//   - Public: ids, types, picklists, flags, dates and money; never a
//     personal value, never free text.
//   - Personal (opt-in, for trusted consumers such as SMS): the personal
//     fields of the same events, under the same CloudEvents ids.
//
// customer.erased.v1 goes to both: a subscriber must delete what it holds of
// the customer. A credential's password, notes and username never leave.
package integration

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/credential"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/projections"
)

// The topics: Redis stream keys, NATS JetStream streams and subjects (no
// dots: JetStream stream names may not hold them).
const (
	Public   = "customer-events-v1"
	Personal = "customer-events-personal-v1"
)

// Source is the CloudEvents source of every event.
const Source = "/customer-service"

// Extensions every event carries: the customer it is about (the partition
// key: events of one customer are published in order) and the global position
// of the stored event, which republishing and SSE resume from.
const (
	ExtPartitionKey = "partitionkey"
	ExtPosition     = "position"
)

// mapping is one stored type's place in the contract.
type mapping struct {
	typ string
	// inner names a member of the stored data whose fields are the event's
	// (a customer's details, a patch's changes).
	inner string
	// public and personal are the fields copied, by their stored JSON names.
	public, personal []string
	// changed: list the fields a patch set, by name, in "changed".
	changed bool
}

// The customer's details: what every topic may carry.
var (
	detailsPublic = []string{"kind", "use_company_name", "sms_disabled", "customer_type", "industry", "sector", "category",
		"category_code", "source", "service_zone", "area", "salesperson", "representative", "employees", "website",
		"reference_no", "external_id", "external_id_2", "payment_term", "tax_rate_millionths", "tax_exempt",
		"email_preferences", "kilometres"}
	detailsPersonal = []string{"first_name", "last_name", "business_name", "contact_name", "email", "notification_emails",
		"invoice_cc_emails", "statement_email", "phones", "addresses", "description", "ticket_warning"}
)

var mappings = map[string]mapping{
	customer.TypeRegistered:     {typ: "customer.registered.v1", inner: "details", public: detailsPublic, personal: detailsPersonal},
	customer.TypeDetailsChanged: {typ: "customer.changed.v1", inner: "changes", public: detailsPublic, personal: detailsPersonal, changed: true},
	customer.TypeArchived:       {typ: "customer.archived.v1", personal: []string{"reason"}},
	customer.TypeReenabled:      {typ: "customer.reenabled.v1"},
	customer.TypeNoteAdded:      {typ: "customer.note_added.v1", public: []string{"note_id", "author_id", "at"}, personal: []string{"text", "author_name"}},
	customer.TypeErased:         {typ: "customer.erased.v1", public: []string{"reason"}},

	account.TypeInvoiceIssued: {typ: "invoice.issued.v1", public: []string{"number", "issued_on", "due_on", "term", "currency",
		"subtotal", "tax", "total", "tax_rate_millionths", "bill_to_company", "reference"}},
	account.TypeInvoiceVoided:   {typ: "invoice.voided.v1", public: []string{"number", "voided_on", "credit_returned"}, personal: []string{"reason"}},
	account.TypePaymentReceived: {typ: "payment.received.v1", public: []string{"payment_id", "amount", "currency", "method", "reference", "received_on", "allocations", "to_credit"}},
	account.TypePaymentRefunded: {typ: "payment.refunded.v1", public: []string{"payment_id", "amount", "refunded_on", "invoices", "from_credit"},
		personal: []string{"reason"}},
	account.TypeStoreCreditAdded:   {typ: "store_credit.added.v1", public: []string{"amount", "currency", "added_on", "reference"}, personal: []string{"message"}},
	account.TypeStoreCreditApplied: {typ: "store_credit.applied.v1", public: []string{"invoice", "amount", "applied_on"}},
	account.TypeCreditLimitSet:     {typ: "credit_limit.set.v1", public: []string{"limit", "currency"}},

	credential.TypeCreated:  {typ: "credential.created.v1", public: []string{"name", "url", "public", "contact_id"}},
	credential.TypeChanged:  {typ: "credential.changed.v1", public: []string{"name", "url", "public", "contact_id"}},
	credential.TypeRevealed: {typ: "credential.revealed.v1"},
	credential.TypeRemoved:  {typ: "credential.removed.v1"},
}

// StoredTypes are the stored event types the contract maps.
func StoredTypes() []string {
	out := make([]string, 0, len(mappings))
	for t := range mappings {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Types are the integration event types, sorted.
func Types() []string {
	out := make([]string, 0, len(mappings))
	for _, m := range mappings {
		out = append(out, m.typ)
	}
	slices.Sort(out)
	return out
}

// Message is an integration event bound for a topic.
type Message struct {
	Topic string
	Event event.Event
}

// Translate maps a stored event to its integration events: none for a type
// outside the contract, the public one, and the personal one when personal
// is set and the stored event has personal fields (or is an erasure).
// customerID is the customer the event is about (a credential's stream does
// not name it; the relay knows it).
func Translate(e projections.Event, customerID string, personal bool) ([]Message, error) {
	m, ok := mappings[e.Type]
	if !ok {
		return nil, nil
	}
	// The public fields are plain in the stored bytes: reading them there
	// spares encoding the decoded event. The personal ones, and the names of
	// every field an edit changed, need the decoded (unsealed) event.
	src := e.Data
	if m.changed || personal && len(m.personal) > 0 {
		src = storedData(e)
	}
	stored, err := members(src, m.inner)
	if err != nil {
		return nil, fmt.Errorf("integration: %s@%d: %w", e.Stream, e.Version, err)
	}
	ids := [][2]string{{"customer_id", customerID}}
	if id, ok := credential.Stream.ID(e.Stream); ok {
		ids = append(ids, [2]string{"credential_id", id})
	}
	var extra []json.RawMessage // members written after the ids, in order
	var extraNames []string
	if e.Type == customer.TypeRegistered {
		extraNames, extra = append(extraNames, "number"), append(extra, json.RawMessage(strconv.FormatInt(e.Event.(customer.Registered).Number, 10)))
	}
	if m.changed {
		var names []string
		for k := range stored {
			if slices.Contains(m.public, k) || slices.Contains(m.personal, k) {
				names = append(names, k)
			}
		}
		slices.Sort(names)
		b, _ := json.Marshal(names)
		extraNames, extra = append(extraNames, "changed"), append(extra, b)
	}
	public := object(ids, extraNames, extra, stored, m.public)
	ev, err := cloudEvent(e, m.typ, customerID, public)
	if err != nil {
		return nil, err
	}
	out := []Message{{Topic: Public, Event: ev}}
	if personal && (len(m.personal) > 0 || e.Type == customer.TypeErased) {
		data := public
		if e.Type != customer.TypeErased {
			var idNames []string
			var idValues []json.RawMessage
			if e.Type == customer.TypeRegistered {
				idNames, idValues = extraNames[:1], extra[:1]
			}
			data = object(ids, idNames, idValues, stored, m.personal)
		}
		if e.Type == customer.TypeErased || hasAny(stored, m.personal) {
			pev, err := cloudEvent(e, m.typ, customerID, data)
			if err != nil {
				return nil, err
			}
			out = append(out, Message{Topic: Personal, Event: pev})
		}
	}
	return out, nil
}

// members reads the members of a JSON object, or of its member inner.
func members(b []byte, inner string) (map[string]json.RawMessage, error) {
	var stored map[string]json.RawMessage
	if err := gojson.Unmarshal(b, &stored); err != nil {
		return nil, err
	}
	if inner == "" {
		return stored, nil
	}
	var in map[string]json.RawMessage
	if err := gojson.Unmarshal(stored[inner], &in); err != nil {
		return nil, fmt.Errorf("%s: %w", inner, err)
	}
	return in, nil
}

// storedData is the stored event's data as its Go value encodes it: the
// personal fields unsealed (the record holds them sealed).
func storedData(e projections.Event) []byte {
	b, err := json.Marshal(e.Event)
	if err != nil {
		return []byte("{}") // stored events are plain data: encoding cannot fail
	}
	return b
}

func hasAny(stored map[string]json.RawMessage, fields []string) bool {
	for _, f := range fields {
		if v, ok := stored[f]; ok && string(v) != "null" {
			return true
		}
	}
	return false
}

// object writes the event's data: the ids, the extra members, then the
// contract's fields that the stored event has, in the contract's order.
func object(ids [][2]string, names []string, values []json.RawMessage, stored map[string]json.RawMessage, fields []string) []byte {
	b := make([]byte, 0, 256)
	b = append(b, '{')
	for i, kv := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(append(strconv.AppendQuote(b, kv[0]), ':'), kv[1]) // ids and names are ASCII
	}
	for i, n := range names {
		b = append(append(strconv.AppendQuote(append(b, ','), n), ':'), values[i]...)
	}
	for _, f := range fields {
		if v, ok := stored[f]; ok && string(v) != "null" {
			b = append(append(strconv.AppendQuote(append(b, ','), f), ':'), v...)
		}
	}
	return append(b, '}')
}

func cloudEvent(e projections.Event, typ, customerID string, data []byte) (event.Event, error) {
	ev := event.New(event.CloudEventsVersionV1)
	ev.SetID(e.ID.String())
	ev.SetSource(Source)
	ev.SetType(typ)
	ev.SetSubject(customerID)
	ev.SetTime(e.Meta.OccurredAt.UTC().Truncate(time.Microsecond))
	ev.SetExtension(ExtPartitionKey, customerID)
	ev.SetExtension(ExtPosition, e.Position.String())
	// The data is JSON already: set it as such (SetData would take bytes for
	// binary data and base64 them).
	ev.SetDataContentType(event.ApplicationJSON)
	ev.DataEncoded, ev.DataBase64 = data, false
	if err := ev.Validate(); err != nil {
		return ev, fmt.Errorf("integration: %s: %w", typ, err)
	}
	return ev, nil
}
