package jsonform_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/fieldservice/customer-service/internal/jsonform"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "<b>&", "tab\t", "é ß 🚀", "\x7f", "bad \xff utf-8", "\u2028"} {
		want, _ := json.Marshal(s)
		if got := jsonform.AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("%q: got %s, want %s", s, got[1:], want)
		}
	}
}

func TestFieldName(t *testing.T) {
	t.Parallel()
	type s struct {
		A int `json:"a,omitempty"`
		B int `json:",omitempty"`
		C int `json:"-"`
		D int
	}
	want := []string{"a", "B", "", "D"}
	typ := reflect.TypeFor[s]()
	for i, w := range want {
		if got := jsonform.FieldName(typ.Field(i)); got != w {
			t.Errorf("%s: %q, want %q", typ.Field(i).Name, got, w)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("hello <world> \"&\" \u00e9")
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := jsonform.AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}
