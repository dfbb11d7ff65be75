// Package codec turns domain events into stored events and back. It is the one
// place that knows the stored form of an event:
//
//   - the registry of event types (name, schema version, Go type), assembled from
//     the types each aggregate package declares;
//   - the envelope metadata every event carries (time, actor, correlation);
//   - sealing: personal fields, declared with the `personal:"true"` struct tag, are
//     encrypted with AES-256-GCM under the data key of the customer they belong to
//     (sealed.go; domain/personal finds the fields), so erasing a customer is
//     destroying one key;
//   - the per-stream hash chain that makes alteration, removal and reordering of
//     stored events evident (chain.go, verify.go).
//
// Handlers and projectors never call crypto themselves: they encode and decode here.
package codec

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/event"
	"github.com/fieldservice/customer-service/domain/personal"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/internal/jsonform"
	"github.com/fieldservice/customer-service/keystore"
)

// Event is any registered event: it names its own stored type.
type Event = event.Event

// Metadata is the envelope's metadata, stored as JSON beside the payload.
type Metadata struct {
	OccurredAt    time.Time
	Actor         actor.Actor
	CorrelationID string
	CausationID   string
	SchemaVersion int // set by Encode from the registry

	// Set by Decode:
	PrevHash, Hash Hash
	// Erased says the event's personal fields could not be unsealed because the
	// data key was destroyed: they read as zero values.
	Erased bool
}

// wireMetadata is Metadata's stored form; its field names are part of the format.
type wireMetadata struct {
	OccurredAt    string    `json:"occurred_at"` // RFC 3339, UTC, hashed as stored
	Actor         wireActor `json:"actor"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	CausationID   string    `json:"causation_id,omitempty"`
	SchemaVersion int       `json:"schema_version"`
	PrevHash      string    `json:"prev_hash"`
	Hash          string    `json:"hash"`
}

type wireActor struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Role string `json:"role"`
}

// appendJSON writes w as encoding/json would (same members, order and escaping),
// without reflection: it runs for every event written.
// The hashes are given as such: w's PrevHash and Hash are for reading.
func (w *wireMetadata) appendJSON(b []byte, prev, hash Hash) []byte {
	b = append(b, `{"occurred_at":`...)
	b = jsonform.AppendString(b, w.OccurredAt)
	b = append(b, `,"actor":{"id":`...)
	b = jsonform.AppendString(b, w.Actor.ID)
	if w.Actor.Name != "" {
		b = append(b, `,"name":`...)
		b = jsonform.AppendString(b, w.Actor.Name)
	}
	b = append(b, `,"role":`...)
	b = jsonform.AppendString(b, w.Actor.Role)
	b = append(b, '}')
	if w.CorrelationID != "" {
		b = append(b, `,"correlation_id":`...)
		b = jsonform.AppendString(b, w.CorrelationID)
	}
	if w.CausationID != "" {
		b = append(b, `,"causation_id":`...)
		b = jsonform.AppendString(b, w.CausationID)
	}
	b = append(b, `,"schema_version":`...)
	b = strconv.AppendInt(b, int64(w.SchemaVersion), 10)
	b = append(b, `,"prev_hash":`...)
	b = prev.appendJSON(b)
	b = append(b, `,"hash":`...)
	b = hash.appendJSON(b)
	return append(b, '}')
}

type entry struct {
	version int
	typ     reflect.Type
	sealed  bool // the type has personal fields
}

// Registry maps stored type names to Go types.
type Registry struct {
	byName map[string]entry
}

// NewRegistry builds a registry of the declared types; it panics on a repeated
// name or a personal tag it cannot honour, programming errors the first test run
// catches.
func NewRegistry(types ...event.Type) *Registry {
	r := &Registry{byName: map[string]entry{}}
	for _, reg := range types {
		name := reg.Event.EventType()
		if _, dup := r.byName[name]; dup {
			panic("codec: event type " + name + " registered twice")
		}
		t := reflect.TypeOf(reg.Event)
		r.byName[name] = entry{version: reg.SchemaVersion, typ: t, sealed: personal.Check(t)}
	}
	return r
}

// Types lists the registered types with the schema version new events of each
// are written with, in no particular order.
func (r *Registry) Types() map[string]int {
	out := make(map[string]int, len(r.byName))
	for name, e := range r.byName {
		out[name] = e.version
	}
	return out
}

// Codec encodes and decodes events with a registry and the keyring of data keys.
type Codec struct {
	events *Registry
	keys   *keystore.Keyring
}

// New returns a codec for the registry, sealing with keys.
func New(events *Registry, keys *keystore.Keyring) (*Codec, error) {
	if events == nil || keys == nil {
		return nil, errors.New("codec: registry and keyring are required")
	}
	return &Codec{events: events, keys: keys}, nil
}

// Batch says where encoded events go.
type Batch struct {
	Stream string
	// Head is the stream's head the events follow (zero for a new stream).
	Head Head
	// Subject is whose data key seals the events' personal fields. uuid.Nil for
	// events that hold no personal data.
	Subject uuid.UUID
	// NewSubject allows creating the subject's data key: set it for the subject's
	// first events only. Otherwise a missing key is an error, never silently
	// replaced by a new one that older events were not sealed with.
	NewSubject bool
}

// Encode makes stored events of events: new UUIDv7 ids, personal fields sealed,
// each chained to the one before it starting at b.Head. It returns the stream's
// head after them, for the next append.
func (c *Codec) Encode(ctx context.Context, b Batch, meta Metadata, events ...Event) ([]eventstore.EventData, Head, error) {
	out := make([]eventstore.EventData, len(events))
	head := b.Head
	occurred := meta.OccurredAt.UTC().Format(time.RFC3339Nano)
	for i, e := range events {
		ent, ok := c.events.byName[e.EventType()]
		if !ok || ent.typ != reflect.TypeOf(e) {
			return nil, head, fmt.Errorf("encode %T: event type not registered", e)
		}
		id := uuid.Must(uuid.NewV7())
		data, err := c.payload(ctx, ent, id, e, b)
		if err != nil {
			return nil, head, fmt.Errorf("encode %s: %w", e.EventType(), err)
		}
		w := wireMetadata{
			OccurredAt:    occurred,
			Actor:         wireActor{ID: meta.Actor.ID, Name: meta.Actor.Name, Role: meta.Actor.Role.String()},
			CorrelationID: meta.CorrelationID,
			CausationID:   meta.CausationID,
			SchemaVersion: ent.version,
		}
		next := Head{Version: head.Version + 1}
		next.Hash = link{stream: b.Stream, version: next.Version, id: id, typ: e.EventType(), meta: &w, data: data, prev: head.Hash}.hash()
		md := w.appendJSON(make([]byte, 0, 384), head.Hash, next.Hash)
		out[i] = eventstore.EventData{ID: id, Type: e.EventType(), Data: data, Metadata: md}
		head = next
	}
	return out, head, nil
}

// scratchPool holds buffers for the plaintext and ciphertext of a seal, which live
// only until the ciphertext is encoded.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// appendSealAAD appends the additional data that binds sealed data to its event:
// it cannot be moved to another.
func appendSealAAD(b []byte, id uuid.UUID, typ string) []byte {
	return append(append(append(b, "customerd sealed v1"...), id[:]...), typ...)
}

func (c *Codec) payload(ctx context.Context, ent entry, id uuid.UUID, e Event, b Batch) ([]byte, error) {
	// One pooled buffer holds the additional data, the plaintext (the personal
	// values, as Split hands them over), then the nonce and ciphertext.
	scratch := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(scratch)
	aad := appendSealAAD((*scratch)[:0], id, e.EventType())
	clear := aad[len(aad):]
	v, err := personal.Split(reflect.ValueOf(e), func(path, js []byte) { clear = appendPersonal(clear, path, js) })
	if err != nil {
		return nil, err
	}
	if v.CanAddr() {
		v = v.Addr() // marshal through a pointer: no copy into an interface
	}
	plain, err := json.Marshal(v.Interface())
	if err != nil || len(clear) == 0 {
		*scratch = aad[:0]
		return plain, err
	}
	if b.Subject == uuid.Nil {
		return nil, errors.New("it holds personal data but names no subject to seal it for")
	}
	getKey := c.keys.DataKey
	if b.NewSubject {
		getKey = c.keys.CreateDataKey
	}
	key, err := getKey(ctx, b.Subject)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	box := clear[len(clear):]
	box = append(box, make([]byte, key.NonceSize())...)
	rand.Read(box) // the nonce
	box = key.Seal(box, box, clear, aad)
	*scratch = aad[:0] // the buffer's start, for the next seal
	// Splice the sealed member into the plain object: {"a":1} → {"a":1,"_sealed":{…}}.
	out := make([]byte, 0, len(plain)+base64.StdEncoding.EncodedLen(len(box))+80)
	out = append(out, plain[:len(plain)-1]...)
	if len(plain) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"_sealed":`...)
	out = appendSealed(out, b.Subject, box)
	return append(out, '}'), nil
}

// sealedMember opens the member that payload appends last to a sealed event.
var sealedMember = []byte(`"_sealed":{`)

// splitSealed cuts a stored payload into its plain JSON and its sealed member
// (nil when there is none), without parsing either.
func splitSealed(data []byte) (plain, box []byte) {
	i := bytes.LastIndex(data, sealedMember)
	if i < 0 || len(data) < 2 || data[len(data)-1] != '}' {
		return data, nil
	}
	box = data[i+len(sealedMember)-1 : len(data)-1]
	j := i
	if j > 0 && data[j-1] == ',' {
		j--
	}
	plain = make([]byte, j+1)
	copy(plain, data[:j])
	plain[j] = '}'
	return plain, box
}

// Decode reads a stored event back into its Go type (a value, not a pointer),
// unsealing its personal fields. When the data key was destroyed, the personal
// fields are zero and the metadata says Erased.
func (c *Codec) Decode(ctx context.Context, rec eventstore.RecordedEvent) (Event, Metadata, error) {
	var meta Metadata
	ent, ok := c.events.byName[rec.Type]
	if !ok {
		return nil, meta, fmt.Errorf("decode %s@%d: unknown event type %q", rec.Stream, rec.Version, rec.Type)
	}
	plain, box := rec.Data, []byte(nil)
	if ent.sealed {
		plain, box = splitSealed(rec.Data)
	}
	v := reflect.New(ent.typ)
	// go-json, not encoding/json, reads stored events: it decodes the same JSON
	// into the same values (the codec's tests and FuzzDecodeMatchesStdlib hold
	// it to that) in less than half the time, and every load and every rebuild
	// decodes every event. Encoding stays with encoding/json: the stored bytes,
	// and so the hash chain, must not change.
	if err := gojson.Unmarshal(plain, v.Interface()); err != nil {
		return nil, meta, fmt.Errorf("decode %s %s@%d: %w", rec.Type, rec.Stream, rec.Version, err)
	}
	if len(rec.Metadata) > 0 {
		var w wireMetadata
		if err := gojson.Unmarshal(rec.Metadata, &w); err != nil {
			return nil, meta, fmt.Errorf("decode metadata of %s@%d: %w", rec.Stream, rec.Version, err)
		}
		m, err := w.metadata()
		if err != nil {
			return nil, meta, fmt.Errorf("decode metadata of %s@%d: %w", rec.Stream, rec.Version, err)
		}
		meta = m
	}
	if box != nil {
		if err := c.unseal(ctx, rec, box, v.Interface(), &meta); err != nil {
			return nil, meta, fmt.Errorf("decode %s %s@%d: %w", rec.Type, rec.Stream, rec.Version, err)
		}
	}
	return v.Elem().Interface().(Event), meta, nil
}

func (w wireMetadata) metadata() (Metadata, error) {
	var m Metadata
	var err error
	if w.OccurredAt != "" {
		if m.OccurredAt, err = time.Parse(time.RFC3339Nano, w.OccurredAt); err != nil {
			return m, err
		}
	}
	if w.Actor.Role != "" {
		if m.Actor.Role, err = actor.ParseRole(w.Actor.Role); err != nil {
			return m, err
		}
	}
	m.Actor.ID, m.Actor.Name = w.Actor.ID, w.Actor.Name
	m.CorrelationID, m.CausationID, m.SchemaVersion = w.CorrelationID, w.CausationID, w.SchemaVersion
	if w.Hash != "" {
		if m.PrevHash, err = ParseHash(w.PrevHash); err != nil {
			return m, err
		}
		if m.Hash, err = ParseHash(w.Hash); err != nil {
			return m, err
		}
	}
	return m, nil
}

func (c *Codec) unseal(ctx context.Context, rec eventstore.RecordedEvent, member []byte, dst any, meta *Metadata) error {
	subject, box, err := parseSealed(member)
	if err != nil {
		return err
	}
	key, err := c.keys.DataKey(ctx, subject)
	if errors.Is(err, keystore.ErrDestroyed) {
		meta.Erased = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("data key: %w", err)
	}
	if len(box) < key.NonceSize() {
		return errMalformed
	}
	clear, err := key.Open(nil, box[:key.NonceSize()], box[key.NonceSize():], appendSealAAD(nil, rec.ID, rec.Type))
	if err != nil {
		return errors.New("sealed data does not open with its key: altered, or moved from another event")
	}
	values, err := decodePersonal(clear)
	if err != nil {
		return err
	}
	return personal.Merge(dst, values)
}
