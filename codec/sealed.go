package codec

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/domain/personal"
)

// The sealed member of a payload, always its last member:
//
//	"_sealed":{"key":"<customer id>","data":"<base64: nonce (12) | AES-256-GCM ciphertext>"}
//
// The additional data of the seal is "customerd sealed v1" | event id (16 bytes) |
// event type, so sealed data moved to another event does not open. The plaintext
// is the personal values, one after another to its end, each as uvarint(len)
// path, uvarint(len) JSON value, where path names the field by JSON names and
// slice indexes ("details.phones.1.number").
//
// The codec writes the member in exactly this shape and reads it back without a
// JSON decoder: it is on the path of every load.

var errMalformed = errors.New("sealed data is malformed")

const (
	sealedKeyPrefix  = `{"key":"`
	sealedDataPrefix = `","data":"`
	sealedSuffix     = `"}`
)

func appendSealed(dst []byte, key uuid.UUID, box []byte) []byte {
	dst = slices.Grow(dst, len(sealedKeyPrefix)+36+len(sealedDataPrefix)+base64.StdEncoding.EncodedLen(len(box))+len(sealedSuffix))
	dst = append(dst, sealedKeyPrefix...)
	dst = appendUUID(dst, key)
	dst = append(dst, sealedDataPrefix...)
	dst = base64.StdEncoding.AppendEncode(dst, box)
	return append(dst, sealedSuffix...)
}

// appendUUID writes id in its canonical form without allocating.
func appendUUID(dst []byte, id uuid.UUID) []byte {
	dst = hex.AppendEncode(dst, id[:4])
	for _, part := range [][]byte{id[4:6], id[6:8], id[8:10], id[10:]} {
		dst = hex.AppendEncode(append(dst, '-'), part)
	}
	return dst
}

func parseSealed(member []byte) (uuid.UUID, []byte, error) {
	const idLen = 36
	n := len(sealedKeyPrefix) + idLen + len(sealedDataPrefix)
	if len(member) < n+len(sealedSuffix) || string(member[:len(sealedKeyPrefix)]) != sealedKeyPrefix ||
		string(member[len(sealedKeyPrefix)+idLen:n]) != sealedDataPrefix || string(member[len(member)-len(sealedSuffix):]) != sealedSuffix {
		return uuid.Nil, nil, errMalformed
	}
	key, err := uuid.ParseBytes(member[len(sealedKeyPrefix) : len(sealedKeyPrefix)+idLen])
	if err != nil {
		return uuid.Nil, nil, errMalformed
	}
	box, err := base64.StdEncoding.AppendDecode(nil, member[n:len(member)-len(sealedSuffix)])
	if err != nil {
		return uuid.Nil, nil, errMalformed
	}
	return key, box, nil
}

func appendPersonal(out, path, js []byte) []byte {
	out = binary.AppendUvarint(out, uint64(len(path)))
	out = append(out, path...)
	out = binary.AppendUvarint(out, uint64(len(js)))
	return append(out, js...)
}

func decodePersonal(b []byte) ([]personal.Value, error) {
	next := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		field := b[k : k+int(n)]
		b = b[k+int(n):]
		return field, true
	}
	out := make([]personal.Value, 0, 8)
	for len(b) > 0 {
		path, ok1 := next()
		js, ok2 := next()
		if !ok1 || !ok2 {
			return nil, errMalformed
		}
		out = append(out, personal.Value{Path: string(path), JSON: js})
	}
	return out, nil
}
