package personal_test

import (
	"reflect"
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
	plain, values := personal.Split(reflect.ValueOf(in))
	if in.Items[0].Secret != keep || in.Name != "n" {
		t.Fatal("Split modified its input")
	}
	got := plain.Interface().(outer)
	want := outer{Code: 7, Items: []inner{{Plain: "p0"}, {Plain: "p1"}}, Maybe: &[]inner{{}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("plain part %#v, want %#v", got, want)
	}
	paths := map[string]bool{}
	var raws []personal.Raw
	for _, v := range values {
		b, err := v.JSON()
		if err != nil {
			t.Fatal(err)
		}
		paths[v.Path] = true
		raws = append(raws, personal.Raw{Path: v.Path, JSON: b})
	}
	wantPaths := []string{"name", "items.0.secret", "items.0.where", "maybe.0.secret", "emails", "nested.secret"}
	if len(paths) != len(wantPaths) {
		t.Fatalf("personal paths %v, want %v", paths, wantPaths)
	}
	for _, p := range wantPaths {
		if !paths[p] {
			t.Fatalf("personal paths %v lack %s", paths, p)
		}
	}
	if err := personal.Merge(&got, raws); err != nil {
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
		if err := personal.Merge(&v, []personal.Raw{{Path: path, JSON: []byte(`"x"`)}}); err == nil {
			t.Fatalf("Merge set %q", path)
		}
	}
}

func TestJSONOfValues(t *testing.T) {
	t.Parallel()
	for v, want := range map[any]string{"plain": `"plain"`, `say "hi"`: `"say \"hi\""`, "a<b": `"a\u003cb"`, 1.5: `1.5`} {
		got, err := personal.Value{Value: v}.JSON()
		if err != nil || string(got) != want {
			t.Fatalf("JSON of %v: %s, %v; want %s", v, got, err, want)
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
