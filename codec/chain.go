package codec

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/google/uuid"
)

// The hash chain. Every stored event's metadata
// carries prev_hash and hash, lowercase hex. An event's hash is SHA-256 over this
// encoding, where str(x) is x's length as a 4-byte big-endian integer followed by
// its bytes, and u64(n) is n as 8 bytes big-endian:
//
//	"customerd-chain-v1"            the 18 ASCII bytes, unprefixed
//	str(stream)                     the stream's name
//	u64(version)                    the event's place in its stream, from 1
//	event id                        the 16 bytes of the UUID
//	str(type)                       e.g. "CustomerRegistered"
//	u64(schema_version)
//	str(occurred_at)                the metadata's string, exactly as stored
//	str(actor.id) str(actor.name) str(actor.role)
//	str(correlation_id) str(causation_id)
//	str(data)                       the stored payload: JSON with its personal fields sealed
//	prev_hash                       32 bytes: the previous event's hash in the stream,
//	                                or 32 zero bytes (the genesis value) for version 1
//
// Absent metadata strings are empty. The global position and the store's recorded
// time are not covered: the store assigns them after the hash is made. Hashing the
// sealed payload, not the personal values, keeps the chain verifiable after the
// data key of an erased customer is destroyed.

const chainDomain = "customerd-chain-v1"

// Hash is a SHA-256 link of the chain.
type Hash [sha256.Size]byte

// Genesis is the prev_hash of every stream's first event.
var Genesis Hash

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// appendJSON writes h as a JSON string of hex digits.
func (h Hash) appendJSON(b []byte) []byte {
	b = append(b, '"')
	b = hex.AppendEncode(b, h[:])
	return append(b, '"')
}

// ParseHash reads a hash written by Hash.String.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("hash %q: want %d hex digits", s, 2*len(h))
	}
	return Hash(b), nil
}

// Head is where a stream's chain ends: its version and its last event's hash. The
// zero Head is a stream with no events.
type Head struct {
	Version uint64
	Hash    Hash
}

// link is what an event's hash covers.
type link struct {
	stream  string
	version uint64
	id      uuid.UUID
	typ     string
	meta    *wireMetadata // its hashes are not read
	data    []byte
	prev    Hash
}

func (l link) hash() Hash {
	m := l.meta
	h := sha256.New()
	// Everything before the payload, in one write; then the payload, unbuffered.
	b := make([]byte, 0, 160+len(l.stream)+len(l.typ)+len(m.OccurredAt)+len(m.Actor.ID)+len(m.Actor.Name)+
		len(m.Actor.Role)+len(m.CorrelationID)+len(m.CausationID))
	b = append(b, chainDomain...)
	b = str(b, l.stream)
	b = binary.BigEndian.AppendUint64(b, l.version)
	b = append(b, l.id[:]...)
	b = str(b, l.typ)
	b = binary.BigEndian.AppendUint64(b, uint64(m.SchemaVersion))
	for _, f := range []string{m.OccurredAt, m.Actor.ID, m.Actor.Name, m.Actor.Role, m.CorrelationID, m.CausationID} {
		b = str(b, f)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(l.data)))
	h.Write(b)
	h.Write(l.data)
	h.Write(l.prev[:])
	return Hash(h.Sum(b[:0]))
}

func str(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
