package codec_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/eventstore/embedded"
	"github.com/fieldservice/customer-service/eventstore/storetest"
	"github.com/fieldservice/customer-service/test/synthetic"
)

// benchEvent is a typical edit, about 400 bytes stored, half of it personal.
func benchEvent(i int) customer.DetailsChanged {
	return customer.DetailsChanged{Changes: customer.Patch{
		FirstName: ptr(fmt.Sprint("Margaret ", i)), LastName: ptr("Hamilton-Okafor"),
		Phones:      &[]customer.Phone{{Number: "+12125550134", Type: customer.Mobile, Primary: true}},
		Addresses:   &[]customer.Address{{Type: customer.Service, Street: "1600 Amphitheatre Parkway", City: "Mountain View", State: "CA", Postcode: "94043", Country: "US"}},
		ServiceZone: ptr("North-East"), Salesperson: ptr("jdoe"), Industry: ptr("Property management"),
		Description: ptr("Gate code changes monthly; call the site manager before arriving. Two dogs."),
	}}
}

// plainMetadata is what an unchained envelope would store: the codec's metadata
// without prev_hash and hash.
type plainMetadata struct {
	OccurredAt time.Time `json:"occurred_at"`
	Actor      struct {
		ID   string `json:"id"`
		Name string `json:"name,omitempty"`
		Role string `json:"role"`
	} `json:"actor"`
	CorrelationID string `json:"correlation_id,omitempty"`
	CausationID   string `json:"causation_id,omitempty"`
	SchemaVersion int    `json:"schema_version"`
}

func newPlainMetadata() plainMetadata {
	m := plainMetadata{OccurredAt: time.Now().UTC(), CorrelationID: meta.CorrelationID, CausationID: meta.CausationID, SchemaVersion: 1}
	m.Actor.ID, m.Actor.Name, m.Actor.Role = meta.Actor.ID, meta.Actor.Name, meta.Actor.Role.String()
	return m
}

// BenchmarkAppendEvents measures durable appends of one typical event each through
// the embedded store, each writer on a customer stream of its own, in two modes in
// the same run: "plain" marshals the event and its metadata to JSON as they are;
// "sealed" goes through the codec, which seals the personal fields under the
// customer's data key (cached) and chains the event's hash.
func BenchmarkAppendEvents(b *testing.B) {
	for _, writers := range []int{1, 16, 256} {
		for _, mode := range []string{"plain", "sealed"} {
			b.Run(fmt.Sprintf("writers=%d/mode=%s", writers, mode), func(b *testing.B) {
				s, err := embedded.Open(embedded.Config{Path: filepath.Join(b.TempDir(), "events.db")})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				c, ring := newCodec(b)
				ctx := context.Background()
				subjects := make([]uuid.UUID, writers)
				heads := make([]codec.Head, writers)
				for w := range subjects {
					subjects[w] = uuid.New()
					if _, err := ring.CreateDataKey(ctx, subjects[w]); err != nil {
						b.Fatal(err)
					}
				}
				op := func(w, i int) {
					stream := customer.Stream.Name(subjects[w].String())
					var data []eventstore.EventData
					if mode == "plain" {
						payload, _ := json.Marshal(benchEvent(i))
						md, _ := json.Marshal(newPlainMetadata())
						data = []eventstore.EventData{{ID: uuid.Must(uuid.NewV7()), Type: customer.TypeDetailsChanged, Data: payload, Metadata: md}}
					} else {
						data, heads[w], err = c.Encode(ctx, codec.Batch{Stream: stream, Head: heads[w], Subject: subjects[w]},
							codec.Metadata{OccurredAt: time.Now(), Actor: meta.Actor, CorrelationID: meta.CorrelationID, CausationID: meta.CausationID}, benchEvent(i))
						if err != nil {
							b.Error(err)
							return
						}
					}
					if _, err := s.Append(ctx, stream, eventstore.Exact(uint64(i)), data...); err != nil {
						b.Error(err)
					}
				}
				storetest.Writers(b, writers, op)
			})
		}
	}
}

// BenchmarkLoadEvents measures reading a customer of 1,000 events and replaying
// them into the aggregate, in three modes in the same run: "plain" stores and
// reads the events as plain JSON with plain metadata; "sealed-warm" goes through
// the codec with the data key in the cache; "sealed-cold" starts each load with
// an empty cache, so the key is read from the key file and unwrapped first. It
// reports p50 and p99, and the key cache's hit rate of the warm mode.
func BenchmarkLoadEvents(b *testing.B) {
	for _, mode := range []string{"plain", "sealed-warm", "sealed-cold"} {
		b.Run("events=1000/mode="+mode, func(b *testing.B) {
			s, err := embedded.Open(embedded.Config{Path: filepath.Join(b.TempDir(), "events.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			kf := newKeyFile(b)
			c, ring := kf.codec(b)
			ctx := context.Background()
			subject := uuid.New()
			stream := customer.Stream.Name(subject.String())
			evs := []codec.Event{customer.Registered{CustomerID: subject.String(), Number: 1, Details: customer.Details{Kind: customer.Person, FirstName: "M"}}}
			for i := 1; i < 1000; i++ {
				evs = append(evs, benchEvent(i))
			}
			var data []eventstore.EventData
			if mode == "plain" {
				for _, e := range evs {
					payload, _ := json.Marshal(e)
					md, _ := json.Marshal(newPlainMetadata())
					data = append(data, eventstore.EventData{ID: uuid.Must(uuid.NewV7()), Type: e.EventType(), Data: payload, Metadata: md})
				}
			} else if data, _, err = c.Encode(ctx, codec.Batch{Stream: stream, Subject: subject, NewSubject: true}, meta, evs...); err != nil {
				b.Fatal(err)
			}
			for i := 0; i < len(data); i += 100 {
				if _, err := s.Append(ctx, stream, eventstore.Exact(uint64(i)), data[i:i+100]...); err != nil {
					b.Fatal(err)
				}
			}
			decode := func(dec *codec.Codec, rec eventstore.RecordedEvent) (customer.Recorded, error) {
				if dec == nil {
					var m plainMetadata
					var e codec.Event
					if rec.Type == customer.TypeRegistered {
						var r customer.Registered
						err = json.Unmarshal(rec.Data, &r)
						e = r
					} else {
						var d customer.DetailsChanged
						err = json.Unmarshal(rec.Data, &d)
						e = d
					}
					if err == nil {
						err = json.Unmarshal(rec.Metadata, &m)
					}
					return customer.Recorded{Event: e.(customer.Event), At: m.OccurredAt}, err
				}
				e, m, err := dec.Decode(ctx, rec)
				if err != nil {
					return customer.Recorded{}, err
				}
				return customer.Recorded{Event: e.(customer.Event), At: m.OccurredAt, By: m.Actor}, nil
			}
			var took []time.Duration
			h0, m0 := ring.CacheStats()
			b.ResetTimer()
			for b.Loop() {
				var dec *codec.Codec
				switch mode {
				case "sealed-warm":
					dec = c
				case "sealed-cold":
					dec, _ = kf.codec(b)
				}
				t0 := time.Now()
				var history []customer.Recorded
				for rec, err := range s.ReadStream(ctx, stream, eventstore.ReadOptions{}) {
					if err != nil {
						b.Fatal(err)
					}
					r, err := decode(dec, rec)
					if err != nil {
						b.Fatal(err)
					}
					history = append(history, r)
				}
				if _, err := customer.Replay(subject.String(), history); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
			if mode == "sealed-warm" {
				h, m := ring.CacheStats()
				b.ReportMetric(100*float64(h-h0)/float64(h-h0+m-m0), "hit-%")
			}
		})
	}
}

// BenchmarkDecodeRegistration measures what a rebuild does for every customer:
// decoding one stored, sealed registration (data key cached).
func BenchmarkDecodeRegistration(b *testing.B) {
	c, _ := newCodec(b)
	ctx := context.Background()
	subject := uuid.New()
	stream := customer.Stream.Name(subject.String())
	reg := customer.Registered{CustomerID: subject.String(), Number: 42, Details: synthetic.NewGenerator(1).Customer(41)}
	data, _, err := c.Encode(ctx, codec.Batch{Stream: stream, Subject: subject, NewSubject: true}, meta, reg)
	if err != nil {
		b.Fatal(err)
	}
	rec := record(stream, 1, data[0])
	b.SetBytes(int64(len(rec.Data) + len(rec.Metadata)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Decode(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
}
