package codec

import (
	"encoding/base64"
	"encoding/binary"
	"errors"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/domain/personal"
)

// The sealed member of a payload, always its last member:
//
//	"_sealed":{"key":"<customer id>","data":"<base64: nonce (12) | AES-256-GCM ciphertext>"}
//
// The additional data of the seal is "customerd sealed v1" | event id (16 bytes) |
// event type, so sealed data moved to another event does not open. The plaintext
// is a list of personal values: uvarint(count), then for each value
// uvarint(len) path, uvarint(len) JSON value, where path names the field by JSON
// names and slice indexes ("details.phones.1.number").
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
	dst = append(dst, sealedKeyPrefix...)
	dst = append(dst, key.String()...)
	dst = append(dst, sealedDataPrefix...)
	dst = base64.StdEncoding.AppendEncode(dst, box)
	return append(dst, sealedSuffix...)
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

func encodePersonal(values []personal.Value) ([]byte, error) {
	out := binary.AppendUvarint(nil, uint64(len(values)))
	for _, v := range values {
		js, err := v.JSON()
		if err != nil {
			return nil, err
		}
		out = binary.AppendUvarint(out, uint64(len(v.Path)))
		out = append(out, v.Path...)
		out = binary.AppendUvarint(out, uint64(len(js)))
		out = append(out, js...)
	}
	return out, nil
}

func decodePersonal(b []byte) ([]personal.Raw, error) {
	next := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		field := b[k : k+int(n)]
		b = b[k+int(n):]
		return field, true
	}
	count, k := binary.Uvarint(b)
	if k <= 0 || count > uint64(len(b)) {
		return nil, errMalformed
	}
	b = b[k:]
	out := make([]personal.Raw, count)
	for i := range out {
		path, ok1 := next()
		js, ok2 := next()
		if !ok1 || !ok2 {
			return nil, errMalformed
		}
		out[i] = personal.Raw{Path: string(path), JSON: js}
	}
	if len(b) != 0 {
		return nil, errMalformed
	}
	return out, nil
}
