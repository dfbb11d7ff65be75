package codec_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/eventstore/embedded"
)

// chainedFile writes three customers' histories to a real embedded event file and
// closes it, returning the path, one customer's stream and its stored events.
func chainedFile(t *testing.T) (string, string, []eventstore.EventData, *codec.Codec) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := embedded.Open(embedded.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newCodec(t)
	var stream string
	var target []eventstore.EventData
	for i := range 3 {
		subject := uuid.New()
		st := customer.Stream.Name(subject.String())
		data, _, err := c.Encode(t.Context(), codec.Batch{Stream: st, Subject: subject, NewSubject: true}, meta, events(subject.String())...)
		if err != nil {
			t.Fatal(err)
		}
		for j, d := range data { // one event per append, interleaving the streams in the log
			if _, err := s.Append(t.Context(), st, eventstore.Exact(uint64(j)), d); err != nil {
				t.Fatal(err)
			}
		}
		if i == 1 {
			stream, target = st, data
		}
	}
	r, err := codec.VerifyAll(t.Context(), s)
	if err != nil || r.Break != nil || r.Events != 18 || r.Streams != 3 {
		t.Fatalf("the untouched file: %+v, %v", r, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, stream, target, c
}

// tamper changes the raw file with bbolt, below the event store.
func tamper(t *testing.T, path string, fn func(log *bolt.Bucket, find func(eventstore.EventData) []byte)) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		log := tx.Bucket([]byte("log"))
		find := func(d eventstore.EventData) []byte { // the log key of the record holding d
			var key []byte
			log.ForEach(func(k, v []byte) error {
				if bytes.Contains(v, d.ID[:]) {
					key = bytes.Clone(k)
				}
				return nil
			})
			if key == nil {
				t.Fatal("record not found")
			}
			return key
		}
		fn(log, find)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func verifyBoth(t *testing.T, path, stream string) (one, all codec.Report) {
	t.Helper()
	s, err := embedded.Open(embedded.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if one, err = codec.Verify(t.Context(), s, stream); err != nil {
		t.Fatal(err)
	}
	if all, err = codec.VerifyAll(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	return one, all
}

func wantBreak(t *testing.T, r codec.Report, stream string, version uint64, reason string) {
	t.Helper()
	if r.Break == nil {
		t.Fatalf("no break found (%d events checked)", r.Events)
	}
	if r.Break.Stream != stream || r.Break.Version != version || !strings.Contains(r.Break.Reason, reason) {
		t.Fatalf("break %v, want %s at version %d (%q)", r.Break, stream, version, reason)
	}
}

func TestVerifyFindsAFlippedPayloadByte(t *testing.T) {
	t.Parallel()
	path, stream, target, _ := chainedFile(t)
	tamper(t, path, func(log *bolt.Bucket, find func(eventstore.EventData) []byte) {
		k := find(target[1])
		v := bytes.Clone(log.Get(k))
		at := bytes.Index(v, target[1].Data) + len(target[1].Data)/2
		v[at] ^= 0x01
		log.Put(k, v)
	})
	one, all := verifyBoth(t, path, stream)
	wantBreak(t, one, stream, 2, "altered")
	wantBreak(t, all, stream, 2, "altered")
	if one.Break.Position.IsZero() || one.Break.Position != all.Break.Position {
		t.Fatalf("the break must name the event's position: %v / %v", one.Break.Position, all.Break.Position)
	}
}

func TestVerifyFindsAlteredMetadata(t *testing.T) {
	t.Parallel()
	path, stream, target, _ := chainedFile(t)
	tamper(t, path, func(log *bolt.Bucket, find func(eventstore.EventData) []byte) {
		k := find(target[2])
		log.Put(k, bytes.Replace(log.Get(k), []byte(`"name":"N"`), []byte(`"name":"M"`), 1))
	})
	one, _ := verifyBoth(t, path, stream)
	wantBreak(t, one, stream, 3, "altered")
}

func TestVerifyFindsADeletedEvent(t *testing.T) {
	t.Parallel()
	path, stream, target, _ := chainedFile(t)
	tamper(t, path, func(log *bolt.Bucket, find func(eventstore.EventData) []byte) {
		log.Delete(find(target[2]))
	})
	one, all := verifyBoth(t, path, stream)
	wantBreak(t, one, stream, 3, "cannot read") // the stream index still names it
	wantBreak(t, all, stream, 4, "missing or out of order")
}

func TestVerifyFindsSwappedEvents(t *testing.T) {
	t.Parallel()
	path, stream, target, _ := chainedFile(t)
	tamper(t, path, func(log *bolt.Bucket, find func(eventstore.EventData) []byte) {
		a, b := find(target[1]), find(target[2])
		va, vb := bytes.Clone(log.Get(a)), bytes.Clone(log.Get(b))
		log.Put(a, vb)
		log.Put(b, va)
	})
	one, all := verifyBoth(t, path, stream)
	wantBreak(t, one, stream, 3, "missing or out of order") // version 3 read where 2 belongs
	wantBreak(t, all, stream, 3, "missing or out of order")
}

func TestVerifyFindsAReplacedChainOfOneStream(t *testing.T) {
	t.Parallel()
	// Re-hashing a forged event is not enough: the next event's prev_hash still
	// names the original.
	path, stream, target, c := chainedFile(t)
	id, _ := customer.Stream.ID(stream)
	subject := uuid.MustParse(id)
	forged, _, err := c.Encode(t.Context(), codec.Batch{Stream: stream, Subject: subject, NewSubject: true}, meta, events(subject.String())...)
	if err != nil {
		t.Fatal(err)
	}
	tamper(t, path, func(log *bolt.Bucket, find func(eventstore.EventData) []byte) {
		k := find(target[0])
		v := log.Get(k)
		v = bytes.Replace(v, target[0].Data, forged[0].Data, 1)
		v = bytes.Replace(v, target[0].Metadata, forged[0].Metadata, 1)
		log.Put(k, bytes.Replace(v, target[0].ID[:], forged[0].ID[:], 1))
	})
	one, _ := verifyBoth(t, path, stream)
	wantBreak(t, one, stream, 2, "is not the previous event's hash")
}
