package codec_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/domain/event"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/keystore"
	keys "github.com/fieldservice/customer-service/keystore/embedded"
)

// keyFile is a key store and its master key, from which keyrings are made.
type keyFile struct {
	store  keystore.Store
	master *keystore.MasterKey
}

func newKeyFile(t testing.TB) keyFile {
	t.Helper()
	ks, err := keys.Open(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	m, _ := keystore.NewMasterKey(keystore.GenerateMasterKey())
	return keyFile{ks, m}
}

// codec returns a codec over a new keyring (with an empty cache) of the file.
func (k keyFile) codec(t testing.TB) (*codec.Codec, *keystore.Keyring) {
	t.Helper()
	ring, err := keystore.NewKeyring(k.store, k.master, keystore.KeyringOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.New(codec.NewRegistry(customer.Events()...), ring)
	if err != nil {
		t.Fatal(err)
	}
	return c, ring
}

func newCodec(t testing.TB) (*codec.Codec, *keystore.Keyring) { return newKeyFile(t).codec(t) }

func ptr[T any](v T) *T { return &v }

var meta = codec.Metadata{OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600)),
	Actor: actor.Actor{ID: "u", Name: "N", Role: actor.Admin}, CorrelationID: "c", CausationID: "k"}

// record is what a store would give back for data appended at version v.
func record(stream string, v uint64, d eventstore.EventData) eventstore.RecordedEvent {
	return eventstore.RecordedEvent{ID: d.ID, Stream: stream, Version: v, Type: d.Type, Data: d.Data, Metadata: d.Metadata}
}

// personalValues are the personal values of the events below: none may be in a
// stored payload, every one must come back.
var personalValues = []string{"Ada", "Lovelace", "Analytical", "ada@example.org", "cc@example.org", "+15550100", "+15550199",
	"12 St James", "51.5007", "Eve", "call before noon", "moved away"}

func events(id string) []codec.Event {
	return []codec.Event{
		customer.Registered{CustomerID: id, Number: 3, Details: customer.Details{Kind: customer.Company, FirstName: "Ada", LastName: "Lovelace",
			BusinessName: "Analytical", Email: "ada@example.org", InvoiceCCEmails: []string{"cc@example.org"},
			Phones:    []customer.Phone{{Number: "+15550100", Type: customer.Fax, Primary: true}, {Number: "+15550199", Type: customer.Mobile}},
			Addresses: []customer.Address{{Type: customer.Service, Street: "12 St James", City: "London", Lat: ptr(51.5007), Lng: ptr(-0.1246)}},
			TaxRate:   88_750, ServiceZone: "North"}},
		customer.DetailsChanged{Changes: customer.Patch{FirstName: ptr("Eve"), LastName: ptr(""), ServiceZone: ptr("South"),
			Phones: &[]customer.Phone{{Number: "+15550100", Type: customer.Work}}}},
		customer.NoteAdded{NoteID: "n1", Text: "call before noon", AuthorID: "u", AuthorName: "N", At: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		customer.Archived{Reason: "moved away"},
		customer.Reenabled{},
		customer.DetailsChanged{Changes: customer.Patch{ServiceZone: ptr("East")}},
	}
}

func TestSealedRoundTripAndChain(t *testing.T) {
	t.Parallel()
	c, _ := newCodec(t)
	subject := uuid.New()
	stream := customer.Stream.Name(subject.String())
	evs := events(subject.String())
	data, head, err := c.Encode(t.Context(), codec.Batch{Stream: stream, Subject: subject, NewSubject: true}, meta, evs...)
	if err != nil {
		t.Fatal(err)
	}
	if head.Version != uint64(len(evs)) {
		t.Fatalf("head version %d, want %d", head.Version, len(evs))
	}
	prev := codec.Genesis
	for i, d := range data {
		// The sealed member is base64 ciphertext, where a short value such as
		// "Ada" turns up by chance about once in 500 runs: look before it.
		plain, _, _ := bytes.Cut(d.Data, []byte(`"_sealed":`))
		for _, v := range personalValues {
			if bytes.Contains(plain, []byte(v)) || bytes.Contains(d.Metadata, []byte(v)) {
				t.Fatalf("%s stored %q in plain: %s", d.Type, v, d.Data)
			}
		}
		if d.ID.Version() != 7 || d.Type != evs[i].EventType() {
			t.Fatalf("encoded %s as %s with a v%d id", evs[i].EventType(), d.Type, d.ID.Version())
		}
		got, m, err := c.Decode(t.Context(), record(stream, uint64(i+1), d))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, evs[i]) {
			t.Fatalf("round trip of %s:\n got %#v\nwant %#v", d.Type, got, evs[i])
		}
		want := meta
		want.OccurredAt, want.SchemaVersion, want.PrevHash, want.Hash = meta.OccurredAt.UTC(), 1, prev, m.Hash
		if !reflect.DeepEqual(m, want) {
			t.Fatalf("metadata %+v, want %+v", m, want)
		}
		prev = m.Hash
	}
	if prev != head.Hash {
		t.Fatal("the returned head is not the last event's hash")
	}
	// Plain fields stay readable without keys.
	if !bytes.Contains(data[0].Data, []byte(`"service_zone":"North"`)) || !bytes.Contains(data[0].Data, []byte(`"tax_rate_millionths":88750`)) {
		t.Fatalf("plain fields must stay plain: %s", data[0].Data)
	}
	// An event without personal values is not sealed and needs no subject.
	if bytes.Contains(data[5].Data, []byte("_sealed")) {
		t.Fatalf("an event with no personal value was sealed: %s", data[5].Data)
	}
}

func TestPersonalDataNeedsASubject(t *testing.T) {
	t.Parallel()
	c, _ := newCodec(t)
	_, _, err := c.Encode(t.Context(), codec.Batch{Stream: "s"}, meta, customer.Archived{Reason: "private"})
	if err == nil || strings.Contains(err.Error(), "private") {
		t.Fatalf("sealing without a subject: %v (and the error must not quote the value)", err)
	}
}

func TestOnlyANewSubjectGetsAKey(t *testing.T) {
	t.Parallel()
	c, ring := newCodec(t)
	subject := uuid.New()
	_, _, err := c.Encode(t.Context(), codec.Batch{Stream: "s", Subject: subject}, meta, customer.Archived{Reason: "x"})
	if !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("sealing for a subject without a key: %v, want ErrNotFound", err)
	}
	if _, err := ring.DataKey(t.Context(), subject); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("a key was created for a subject that is not new: %v", err)
	}
}

func TestErasedKeyReadsAsErased(t *testing.T) {
	t.Parallel()
	c, ring := newCodec(t)
	subject := uuid.New()
	stream := customer.Stream.Name(subject.String())
	evs := events(subject.String())
	data, _, err := c.Encode(t.Context(), codec.Batch{Stream: stream, Subject: subject, NewSubject: true}, meta, evs...)
	if err != nil {
		t.Fatal(err)
	}
	if err := ring.Destroy(t.Context(), subject); err != nil {
		t.Fatal(err)
	}
	got, m, err := c.Decode(t.Context(), record(stream, 1, data[0]))
	if err != nil {
		t.Fatal(err)
	}
	reg := got.(customer.Registered)
	if !m.Erased || reg.Details.FirstName != "" || reg.Details.Phones[1].Number != "" || reg.Details.Addresses[0].Lat != nil {
		t.Fatalf("after erasure: erased=%v, %+v", m.Erased, reg.Details)
	}
	if reg.Number != 3 || reg.Details.ServiceZone != "North" || reg.Details.Phones[1].Type != customer.Mobile || reg.Details.Addresses[0].City != "London" {
		t.Fatalf("plain fields must survive erasure: %+v", reg)
	}
	if _, m, _ := c.Decode(t.Context(), record(stream, 6, data[5])); m.Erased {
		t.Fatal("an event with nothing sealed reads as erased")
	}
}

func TestSealedDataIsBoundToItsEvent(t *testing.T) {
	t.Parallel()
	c, _ := newCodec(t)
	subject := uuid.New()
	stream := customer.Stream.Name(subject.String())
	data, _, err := c.Encode(t.Context(), codec.Batch{Stream: stream, Subject: subject, NewSubject: true}, meta,
		customer.Archived{Reason: "one"}, customer.Archived{Reason: "two"})
	if err != nil {
		t.Fatal(err)
	}
	moved := data[1]
	moved.ID = data[0].ID // the second event's sealed data under the first's id
	if _, _, err := c.Decode(context.Background(), record(stream, 1, moved)); err == nil || !strings.Contains(err.Error(), "does not open") {
		t.Fatalf("sealed data moved to another event: %v", err)
	}
}

func TestUnknownTypesAreErrors(t *testing.T) {
	t.Parallel()
	c, _ := newCodec(t)
	if _, _, err := c.Decode(t.Context(), eventstore.RecordedEvent{Type: "CustomerTeleported", Data: []byte("{}")}); err == nil {
		t.Fatal("decoding an unregistered type succeeded")
	}
	ring := func() *keystore.Keyring { _, r := newCodec(t); return r }()
	small, _ := codec.New(codec.NewRegistry(event.Type{Event: customer.Archived{}, SchemaVersion: 1}), ring)
	if _, _, err := small.Encode(t.Context(), codec.Batch{Stream: "s"}, codec.Metadata{}, customer.Reenabled{}); err == nil {
		t.Fatal("encoding an unregistered type succeeded")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("registering a type twice did not panic")
		}
	}()
	codec.NewRegistry(event.Type{Event: customer.Archived{}, SchemaVersion: 1}, event.Type{Event: customer.Archived{}, SchemaVersion: 2})
}

func TestMissingKeyIsAnError(t *testing.T) {
	t.Parallel()
	c, _ := newCodec(t)
	other, _ := newCodec(t) // another key store: the subject's key is not in it
	subject := uuid.New()
	data, _, err := c.Encode(t.Context(), codec.Batch{Stream: "s", Subject: subject, NewSubject: true}, meta, customer.Archived{Reason: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Decode(t.Context(), record("s", 1, data[0])); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("decoding with a key store that lacks the key: %v, want ErrNotFound", err)
	}
}

// TestMetadataIsWrittenAsEncodingJSONWould: the metadata appender must agree with
// encoding/json byte for byte, escapes included.
func TestMetadataIsWrittenAsEncodingJSONWould(t *testing.T) {
	t.Parallel()
	c, _ := newCodec(t)
	for _, name := range []string{"", "Dana", `Dana "D" <d&d>`, "Zoë\u2028", "tab\there", "\xff"} {
		m := meta
		m.Actor.Name, m.CorrelationID = name, name
		data, _, err := c.Encode(t.Context(), codec.Batch{Stream: "s"}, m, customer.Reenabled{})
		if err != nil {
			t.Fatal(err)
		}
		var generic map[string]any
		if err := json.Unmarshal(data[0].Metadata, &generic); err != nil {
			t.Fatalf("metadata for %q is not JSON: %s", name, data[0].Metadata)
		}
		_, got, err := c.Decode(t.Context(), record("s", 1, data[0]))
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.ToValidUTF8(name, "\uFFFD"); got.Actor.Name != want || got.CorrelationID != want {
			t.Fatalf("name %q came back as %q / %q", name, got.Actor.Name, got.CorrelationID)
		}
	}
}
