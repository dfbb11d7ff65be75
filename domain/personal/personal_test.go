package personal_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/fieldservice/customer-service/domain/personal"
)

type inner struct {
	Secret string   `json:"secret" personal:"true"`
	Plain  string   `json:"plain"`
	Where  *float64 `json:"where,omitempty" personal:"true"`
}

type outer struct {
	Name   string    `json:"name" personal:"true"`
	Code   int       `json:"code"`
	Items  []inner   `json:"items"`
	Maybe  *[]inner  `json:"maybe,omitempty"`
	Emails *[]string `json:"emails,omitempty" personal:"true"`
	Nested inner     `json:"nested"`
}

func ptr[T any](v T) *T { return &v }

func TestSplitThenMergeRestores(t *testing.T) {
	t.Parallel()
	in := outer{Name: "n", Code: 7, Items: []inner{{Secret: "s0", Plain: "p0", Where: ptr(1.5)}, {Plain: "p1"}},
		Maybe: &[]inner{{Secret: "m0"}}, Emails: &[]string{}, Nested: inner{Secret: "x"}}
	keep := in.Items[0].Secret
	var values []personal.Value
	plain, err := personal.Split(reflect.ValueOf(in), func(path, js []byte) {
		values = append(values, personal.Value{Path: string(path), JSON: append([]byte(nil), js...)})
	})
	if err != nil {
		t.Fatal(err)
	}
	if in.Items[0].Secret != keep || in.Name != "n" {
		t.Fatal("Split modified its input")
	}
	got := plain.Interface().(outer)
	want := outer{Code: 7, Items: []inner{{Plain: "p0"}, {Plain: "p1"}}, Maybe: &[]inner{{}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("plain part %#v, want %#v", got, want)
	}
	paths := map[string]string{}
	for _, v := range values {
		paths[v.Path] = string(v.JSON)
	}
	wantPaths := []string{"name", "items.0.secret", "items.0.where", "maybe.0.secret", "emails", "nested.secret"}
	if len(paths) != len(wantPaths) {
		t.Fatalf("personal paths %v, want %v", paths, wantPaths)
	}
	for _, p := range wantPaths {
		if _, ok := paths[p]; !ok {
			t.Fatalf("personal paths %v lack %s", paths, p)
		}
	}
	if paths["name"] != `"n"` || paths["items.0.where"] != `1.5` || paths["emails"] != `[]` {
		t.Fatalf("personal values in JSON: %v", paths)
	}
	if err := personal.Merge(&got, values); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("merged %#v, want %#v", got, in)
	}
}

func TestMergeRefusesPlainFields(t *testing.T) {
	t.Parallel()
	v := outer{Items: []inner{{}}}
	for _, path := range []string{"code", "items.0.plain", "items.9.secret", "nested", "nested.secret.deeper"} {
		if err := personal.Merge(&v, []personal.Value{{Path: path, JSON: []byte(`"x"`)}}); err == nil {
			t.Fatalf("Merge set %q", path)
		}
	}
}

func TestValuesAreEncodedAsEncodingJSONWould(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"plain", `say "hi"`, "a<b&c>", "Zoë", "\u2028", "tab\t", "\xff"} {
		var values []personal.Value
		_, err := personal.Split(reflect.ValueOf(outer{Name: name}), func(path, js []byte) {
			values = append(values, personal.Value{Path: string(path), JSON: append([]byte(nil), js...)})
		})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(name)
		if len(values) != 1 || string(values[0].JSON) != string(want) {
			t.Fatalf("JSON of %q: %s, want %s", name, values[0].JSON, want)
		}
		var back outer
		if err := personal.Merge(&back, values); err != nil || back.Name != strings.ToValidUTF8(name, "\uFFFD") {
			t.Fatalf("%q came back as %q (%v)", name, back.Name, err)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	got := personal.Redact(inner{Secret: "s", Plain: "p", Where: ptr(2.0)})
	if got != (inner{Plain: "p"}) {
		t.Fatalf("Redact gave %+v", got)
	}
}

func TestUnhonourableTagPanics(t *testing.T) {
	t.Parallel()
	type bad struct {
		//lint:ignore U1000 the field exists to be refused
		hidden string `personal:"true"`
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a personal tag on an unexported field was accepted")
		}
	}()
	personal.Check(reflect.TypeOf(bad{}))
}
