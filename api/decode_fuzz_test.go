package api

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/fieldservice/customer-service/domain/customer"
)

// FuzzDecodeJSON checks request decoding on any body: it never panics; every
// problem names a field and says what is wrong; and a body it accepts is one the
// standard decoder, refusing unknown fields, accepts too, with the same result.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"kind":"person","first_name":"A"}`, `{"phones":[{"number":"5","type":"pager"}]}`,
		`{"kind":null,"email":null}`, `[]`, `{"addresses":[{"lat":"x"}]}`, `{"tax_rate_millionths":1e99}`, `{"email_preferences":{"billing":1}}`, ` `, `{`} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, patch bool) {
		var got, want any
		var problems []FieldProblem
		if patch {
			var p customer.Patch
			problems, got = decodeJSON(body, &p, false), &p
			want = &customer.Patch{}
		} else {
			var d customer.Details
			problems, got = decodeJSON(body, &d, false), &d
			want = &customer.Details{}
		}
		for _, p := range problems {
			if p.Field == "" || p.Message == "" {
				t.Fatalf("problem without field or message: %+v", p)
			}
		}
		if len(problems) > 0 {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(want); err != nil {
			t.Fatalf("decodeJSON accepted %q, encoding/json refuses it: %v", body, err)
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(want)
		if !bytes.Equal(a, b) {
			t.Fatalf("decodeJSON gave %s, encoding/json %s", a, b)
		}
	})
}

// FuzzBadUTF8 feeds the bad-bytes scanner broken JSON: it must end, and
// never accept what encoding/json would repair.
func FuzzBadUTF8(f *testing.F) {
	for _, s := range []string{"[}\xff", "{\"a\":[1,\"\xff\"]}", "{\"\xff\":1}", "[[[", "{\"a\"", "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if utf8.Valid(body) {
			return
		}
		var d details
		if fields := decodeJSON(body, &d, false); len(fields) == 0 {
			t.Fatalf("%q was accepted", body)
		}
	})
}
