// Package personal finds the personal fields of a value: those declared with the
// struct tag `personal:"true"` (DESIGN.md, "Personal data and erasure"). A tag may
// sit on a field of any type (a string, a slice, a pointer to a float), anywhere
// inside a value: in nested structs, behind pointers, in slice elements.
//
// Split cuts a value in two: a copy with every personal field zeroed, and the
// personal values by path ("details.phones.1.number", from JSON names). Merge puts
// such values back. The event codec seals what Split returns; the aggregate uses
// Redact to forget an erased customer. Adding a personal field is one tag.
package personal

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

const personalTag = "personal"

// plan says where a type holds personal fields; nil means nowhere.
type plan struct {
	kind   reflect.Kind   // Struct, Pointer or Slice
	fields []fieldPlan    // of a struct: only those that are or hold personal fields
	byName map[string]int // json name → index in fields
	elem   *plan          // of a pointer or slice
}

type fieldPlan struct {
	index    int
	name     string // the field's JSON name
	personal bool
	inner    *plan // of a plain field whose type holds personal fields
}

var (
	plans      sync.Map // reflect.Type → *plan
	stringType    = reflect.TypeOf("")
	stringPtrType = reflect.TypeOf((*string)(nil))
)

func planOf(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	p := planFor(t)
	plans.Store(t, p)
	return p
}

// Check panics when t declares a personal field that cannot be honoured (one that
// is unexported or not stored in JSON): registries call it at start, so the first
// test run catches such a tag. It reports whether t has personal fields.
func Check(t reflect.Type) bool { return planOf(t) != nil }

// Value is one personal field's value and where it sits.
type Value struct {
	Path  string
	Value any
}

// Split returns a copy of v with every personal field zeroed, and the non-zero
// personal values it held. v itself is not modified.
func Split(v reflect.Value) (reflect.Value, []Value) {
	p := planOf(v.Type())
	if p == nil {
		return v, nil
	}
	var out []Value
	return p.split(v, "", &out), out
}

// Redact returns v with every personal field zeroed.
func Redact[T any](v T) T {
	cp, _ := Split(reflect.ValueOf(v))
	return cp.Interface().(T)
}

// Raw is a personal value in JSON and where it goes.
type Raw struct {
	Path string
	JSON []byte
}

// Merge sets personal values into the value dst points to. Only declared personal
// fields can be set: a path to a plain field is an error.
func Merge(dst any, values []Raw) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("personal.Merge: want a non-nil pointer, got %T", dst)
	}
	p := planOf(v.Type().Elem())
	if p == nil {
		if len(values) > 0 {
			return fmt.Errorf("%s has no personal fields", v.Type().Elem())
		}
		return nil
	}
	return p.merge(v.Elem(), values)
}

// planFor finds the personal fields of t. It panics on a tag it cannot honour.
func planFor(t reflect.Type) *plan {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice:
		if elem := planFor(t.Elem()); elem != nil {
			return &plan{kind: t.Kind(), elem: elem}
		}
	case reflect.Struct:
		p := &plan{kind: reflect.Struct, byName: map[string]int{}}
		for i := range t.NumField() {
			f := t.Field(i)
			name := jsonName(f)
			personal := f.Tag.Get(personalTag) == "true"
			if personal && (name == "" || !f.IsExported()) {
				panic(fmt.Sprintf("personal: field %s.%s must be exported and stored in JSON", t, f.Name))
			}
			var inner *plan
			if !personal && f.IsExported() && name != "" {
				inner = planFor(f.Type)
			}
			if personal || inner != nil {
				p.byName[name] = len(p.fields)
				p.fields = append(p.fields, fieldPlan{index: i, name: name, personal: personal, inner: inner})
			}
		}
		if len(p.fields) > 0 {
			return p
		}
	}
	return nil
}

func jsonName(f reflect.StructField) string {
	tag := f.Tag.Get("json")
	if tag == "-" {
		return ""
	}
	if name, _, _ := strings.Cut(tag, ","); name != "" {
		return name
	}
	return f.Name
}

// split returns a copy of v with every personal field zeroed, appending the
// non-zero personal values to out. v itself is never modified.
func (p *plan) split(v reflect.Value, path string, out *[]Value) reflect.Value {
	switch p.kind {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		cp := reflect.New(v.Type().Elem())
		cp.Elem().Set(p.elem.split(v.Elem(), path, out))
		return cp
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		cp := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			cp.Index(i).Set(p.elem.split(v.Index(i), path+strconv.Itoa(i)+".", out))
		}
		return cp
	}
	cp := reflect.New(v.Type()).Elem()
	cp.Set(v)
	for _, f := range p.fields {
		fv := v.Field(f.index)
		switch {
		case f.personal && !fv.IsZero():
			*out = append(*out, Value{Path: path + f.name, Value: fv.Interface()})
			cp.Field(f.index).SetZero()
		case f.inner != nil:
			cp.Field(f.index).Set(f.inner.split(fv, path+f.name+".", out))
		}
	}
	return cp
}

// field finds the personal field at path inside v (addressable), allocating
// pointers on the way. Only declared personal fields can be found: sealed data
// never overwrites a plain field.
func (p *plan) field(v reflect.Value, path string) (reflect.Value, error) {
	switch p.kind {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return p.elem.field(v.Elem(), path)
	case reflect.Slice:
		if path == "" {
			break
		}
		head, rest, _ := strings.Cut(path, ".")
		i, err := strconv.Atoi(head)
		if err != nil || i < 0 || i >= v.Len() {
			return reflect.Value{}, fmt.Errorf("no element %s", head)
		}
		return p.elem.field(v.Index(i), rest)
	case reflect.Struct:
		if path == "" {
			break
		}
		head, rest, more := strings.Cut(path, ".")
		at, ok := p.byName[head]
		if !ok {
			return reflect.Value{}, fmt.Errorf("no personal field %s", head)
		}
		f := p.fields[at]
		if f.personal && !more {
			return v.Field(f.index), nil
		}
		if f.inner != nil && more {
			return f.inner.field(v.Field(f.index), rest)
		}
	}
	return reflect.Value{}, fmt.Errorf("path ends early")
}

// merge sets the personal values of sealed (path → JSON value) into v.
func (p *plan) merge(v reflect.Value, values []Raw) error {
	for _, r := range values {
		f, err := p.field(v, r.Path)
		if err != nil {
			return fmt.Errorf("sealed field %q: %w", r.Path, err)
		}
		// Most personal values are strings (or, in edits, pointers to strings) that
		// need no decoder.
		if isPlainJSONString(r.JSON) {
			switch f.Type() {
			case stringType:
				f.SetString(string(r.JSON[1 : len(r.JSON)-1]))
				continue
			case stringPtrType:
				s := string(r.JSON[1 : len(r.JSON)-1])
				f.Set(reflect.ValueOf(&s))
				continue
			}
		}
		if err := json.Unmarshal(r.JSON, f.Addr().Interface()); err != nil {
			return fmt.Errorf("sealed field %q: %w", r.Path, err)
		}
	}
	return nil
}

// JSON encodes a personal value, quickly for the common case of a plain string.
func (v Value) JSON() ([]byte, error) {
	if s, ok := v.Value.(string); ok && isPlainJSONString([]byte(`"`+s+`"`)) && !strings.ContainsAny(s, "<>&") {
		return []byte(`"` + s + `"`), nil
	}
	return json.Marshal(v.Value)
}

// isPlainJSONString reports whether raw is a JSON string with no escapes, whose
// contents are then its value.
func isPlainJSONString(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' || c == '"' || c < 0x20 {
			return false
		}
	}
	return true
}
