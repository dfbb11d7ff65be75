package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/eventstore"
)

// recordFormat is the first byte of every stored record, so that a later layout can
// be told apart from this one.
const recordFormat = 1

// The file holds four buckets:
//
//	log:     seq (8 bytes, big-endian)      → record
//	ids:     event id (16 bytes)            → seq, for seq ≤ meta/indexed
//	streams: stream 0x00 first version (8)  → seqs of a run of versions (8 bytes each),
//	         for seq ≤ meta/indexed
//	meta:    "indexed"                      → the highest seq in streams and ids
//
// Events are stored once, in log order; the other buckets are indexes into it.
// Big-endian keys make bbolt's byte order the numeric order. The stream index
// and the id index lag the log (see recentIndex).
var (
	bucketLog     = []byte("log")
	bucketStreams = []byte("streams")
	bucketIDs     = []byte("ids")
	bucketMeta    = []byte("meta")
	keyIndexed    = []byte("indexed")
)

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func streamKey(stream string, version uint64) []byte {
	k := make([]byte, 0, len(stream)+9)
	k = append(k, stream...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, version)
}

// encodeRecord lays out an event as:
// format | id (16) | version (8) | recorded unix nanos (8) | stream | type | data | metadata,
// where the last four are uvarint-length-prefixed.
func encodeRecord(e eventstore.RecordedEvent) []byte {
	n := 1 + 16 + 8 + 8 + 4*binary.MaxVarintLen32 + len(e.Stream) + len(e.Type) + len(e.Data) + len(e.Metadata)
	b := make([]byte, 0, n)
	b = append(b, recordFormat)
	b = append(b, e.ID[:]...)
	b = binary.BigEndian.AppendUint64(b, e.Version)
	b = binary.BigEndian.AppendUint64(b, uint64(e.RecordedAt.UnixNano()))
	for _, f := range [][]byte{[]byte(e.Stream), []byte(e.Type), e.Data, e.Metadata} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

var errCorrupt = errors.New("corrupt record")

// decodeRecord reads a record stored under seq. The returned slices are copies:
// bbolt's memory is only valid inside its transaction.
func decodeRecord(seq uint64, b []byte) (eventstore.RecordedEvent, error) {
	var e eventstore.RecordedEvent
	if len(b) < 33 || b[0] != recordFormat {
		return e, fmt.Errorf("record %d: %w", seq, errCorrupt)
	}
	copy(e.ID[:], b[1:17])
	e.Version = binary.BigEndian.Uint64(b[17:25])
	e.RecordedAt = time.Unix(0, int64(binary.BigEndian.Uint64(b[25:33]))).UTC()
	e.Position = eventstore.Position{Commit: seq, Prepare: seq}
	rest := b[33:]
	var fields [4][]byte
	for i := range fields {
		l, n := binary.Uvarint(rest)
		if n <= 0 || uint64(len(rest)-n) < l {
			return e, fmt.Errorf("record %d field %d: %w", seq, i, errCorrupt)
		}
		fields[i] = append([]byte(nil), rest[n:n+int(l)]...)
		rest = rest[n+int(l):]
	}
	e.Stream, e.Type, e.Data, e.Metadata = string(fields[0]), string(fields[1]), fields[2], fields[3]
	if len(e.Metadata) == 0 {
		e.Metadata = nil
	}
	return e, nil
}

func validateAppend(stream string, expected eventstore.ExpectedVersion, events []eventstore.EventData) error {
	var problems []error
	if stream == "" || len(stream) > 255 {
		problems = append(problems, errors.New("stream name must be 1 to 255 bytes"))
	}
	for i := 0; i < len(stream); i++ {
		if stream[i] == 0 {
			problems = append(problems, errors.New("stream name must not contain NUL"))
			break
		}
	}
	if !expected.IsValid() {
		problems = append(problems, errors.New("expected version is unset: use Any, NoStream, StreamExists or Exact"))
	}
	if len(events) == 0 {
		problems = append(problems, errors.New("no events to append"))
	}
	seen := make(map[uuid.UUID]bool, len(events))
	for i, e := range events {
		switch {
		case e.ID == uuid.Nil:
			problems = append(problems, fmt.Errorf("event %d: missing id", i))
		case seen[e.ID]:
			problems = append(problems, fmt.Errorf("event %d: id %s repeated within the append", i, e.ID))
		}
		seen[e.ID] = true
		if e.Type == "" {
			problems = append(problems, fmt.Errorf("event %d: missing type", i))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %w", eventstore.ErrInvalidEvent, errors.Join(problems...))
	}
	return nil
}
