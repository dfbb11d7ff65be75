package accessreport

import (
	"encoding/binary"
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Entry is one line of the report: something done to a credential.
type Entry struct {
	// Seq numbers the entries in log order; a page's cursor names it.
	Seq            uint64
	At             time.Time
	Action         Action
	CredentialID   string
	CredentialName string
	CustomerID     string
	ActorID        string
	ActorName      string
	ActorRole      string
	ClientAddress  string
	UserAgent      string
	Reason         string
	// Changed names the fields an edit changed ("name, password").
	Changed string
	// Version is the credential's version after the event.
	Version uint64
}

// Action is what was done.
type Action byte

const (
	Created Action = iota + 1
	Changed
	Revealed
	Removed
)

var actionNames = [...]string{Created: "created", Changed: "changed", Revealed: "revealed", Removed: "removed"}

func (a Action) String() string {
	if int(a) < len(actionNames) && a != 0 {
		return actionNames[a]
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// A stored entry, in the bucket hashes:
//
//	credential id (16) | customer id (16) | unix ms (8, big-endian) | action (1) |
//	len(actor id) (1) | actor id | then, each as uvarint(len) bytes: actor name,
//	role, credential name, client address, user agent, reason, changed; then
//	uvarint(version)
//
// The ids and the actor sit at fixed places so that the query script can
// filter on them without decoding the rest.
const fixedLen = 16 + 16 + 8 + 1

var errMalformed = errors.New("malformed access entry")

func (e Entry) encode() []byte {
	b := make([]byte, 0, 160)
	cred, cust := uuid.MustParse(e.CredentialID), uuid.MustParse(e.CustomerID)
	b = append(b, cred[:]...)
	b = append(b, cust[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.At.UnixMilli()))
	b = append(b, byte(e.Action))
	actor := e.ActorID
	if len(actor) > 255 {
		actor = actor[:255]
	}
	b = append(b, byte(len(actor)))
	b = append(b, actor...)
	for _, s := range []string{e.ActorName, e.ActorRole, e.CredentialName, e.ClientAddress, e.UserAgent, e.Reason, e.Changed} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return binary.AppendUvarint(b, e.Version)
}

func decode(seq uint64, b []byte) (Entry, error) {
	if len(b) < fixedLen+1 {
		return Entry{}, errMalformed
	}
	e := Entry{Seq: seq}
	e.CredentialID = uuid.UUID(b[:16]).String()
	e.CustomerID = uuid.UUID(b[16:32]).String()
	e.At = time.UnixMilli(int64(binary.BigEndian.Uint64(b[32:40]))).UTC()
	e.Action = Action(b[40])
	n := int(b[41])
	b = b[42:]
	if len(b) < n {
		return Entry{}, errMalformed
	}
	e.ActorID, b = string(b[:n]), b[n:]
	for _, dst := range []*string{&e.ActorName, &e.ActorRole, &e.CredentialName, &e.ClientAddress, &e.UserAgent, &e.Reason, &e.Changed} {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return Entry{}, errMalformed
		}
		*dst, b = string(b[k:k+int(l)]), b[k+int(l):]
	}
	v, k := binary.Uvarint(b)
	if k <= 0 {
		return Entry{}, errMalformed
	}
	e.Version = v
	return e, nil
}

// member is an entry's member in the indexes: its sequence number in 5
// big-endian bytes (a trillion entries), so members of one millisecond sort in
// log order.
func member(seq uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return string(b[3:])
}

func seqOf(m string) (uint64, bool) {
	if len(m) != 5 {
		return 0, false
	}
	var b [8]byte
	copy(b[3:], m)
	return binary.BigEndian.Uint64(b[:]), true
}

// bucket is the hash that holds an entry: 256 per hash, named by the hex of
// the member's first four bytes (the query script computes the same).
func bucket(m string) string {
	const hex = "0123456789abcdef"
	out := make([]byte, 8)
	for i := range 4 {
		out[2*i], out[2*i+1] = hex[m[i]>>4], hex[m[i]&15]
	}
	return string(out)
}
