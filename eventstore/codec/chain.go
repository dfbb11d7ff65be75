package codec

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"

	"github.com/google/uuid"
)

// The hash chain (DESIGN.md, "Tamper evidence"). Every stored event's metadata
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
	h := sha256.New()
	h.Write([]byte(chainDomain))
	str(h, l.stream)
	u64(h, l.version)
	h.Write(l.id[:])
	str(h, l.typ)
	u64(h, uint64(l.meta.SchemaVersion))
	str(h, l.meta.OccurredAt)
	str(h, l.meta.Actor.ID)
	str(h, l.meta.Actor.Name)
	str(h, string(l.meta.Actor.Role))
	str(h, l.meta.CorrelationID)
	str(h, l.meta.CausationID)
	str(h, string(l.data))
	h.Write(l.prev[:])
	return Hash(h.Sum(nil))
}

func str(h hash.Hash, s string) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

func u64(h hash.Hash, v uint64) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], v)
	h.Write(n[:])
}
