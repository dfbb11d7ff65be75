// Package personal finds the personal fields of a value: those declared with the
// struct tag `personal:"true"`, which the event codec seals under the customer's
// data key so that destroying the key erases them. A tag may
// sit on a field of any type (a string, a slice, a pointer to a float), anywhere
// inside a value: in nested structs, behind pointers, in slice elements.
//
// Split cuts a value in two: a copy with every personal field zeroed, and its
// personal values in JSON, each with its path ("details.phones.1.number", from
// JSON names). Merge puts such values back. The event codec seals what Split returns; the aggregate uses
// Redact to forget an erased customer. Adding a personal field is one tag.
package personal

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/fieldservice/customer-service/internal/jsonform"
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
	plans         sync.Map // reflect.Type → *plan
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

// Value is one personal field's value, in JSON, and where it sits.
type Value struct {
	Path string
	JSON []byte
}

// Split returns a copy of v with every personal field zeroed, and calls emit with
// each non-zero personal value: its path and its JSON, both only valid during the
// call (the event codec seals them at once, so a split allocates no value). v
// itself is not modified.
func Split(v reflect.Value, emit func(path, json []byte)) (reflect.Value, error) {
	p := planOf(v.Type())
	if p == nil {
		return v, nil
	}
	cp := reflect.New(v.Type()).Elem()
	cp.Set(v)
	return cp, p.splitInto(cp, v, make([]byte, 0, 64), &collector{emit: emit, buf: make([]byte, 0, 128)})
}

// collector encodes values for emit in one reused buffer.
type collector struct {
	emit func(path, json []byte)
	buf  []byte
}

func (c *collector) add(path []byte, name string, v reflect.Value) error {
	if c.emit == nil {
		return nil
	}
	var err error
	if c.buf, err = appendValueJSON(c.buf[:0], v); err != nil {
		return err
	}
	c.emit(append(path, name...), c.buf)
	return nil
}

// Redact returns v with every personal field zeroed.
func Redact[T any](v T) T {
	p := planOf(reflect.TypeFor[T]())
	if p == nil {
		return v
	}
	cp := reflect.New(reflect.TypeFor[T]()).Elem()
	cp.Set(reflect.ValueOf(&v).Elem())
	p.splitInto(cp, reflect.ValueOf(v), nil, &collector{}) // without emit, nothing can fail
	return cp.Interface().(T)
}

// Merge sets personal values into the value dst points to. Only declared personal
// fields can be set: a path to a plain field is an error.
func Merge(dst any, values []Value) error {
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
			name := jsonform.FieldName(f)
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

// split returns a copy of v with every personal field zeroed, appending the
// non-zero personal values to out. v itself is never modified.
// splitInto makes dst, which holds a shallow copy of v, a copy without personal
// values: it copies whatever leads to a personal field, zeroes the field and, when
// out is not nil, appends its value.
func (p *plan) splitInto(dst, v reflect.Value, path []byte, out *collector) error {
	switch p.kind {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		cp := reflect.New(v.Type().Elem())
		cp.Elem().Set(v.Elem())
		dst.Set(cp)
		return p.elem.splitInto(cp.Elem(), v.Elem(), path, out)
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		cp := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(cp, v)
		dst.Set(cp)
		for i := range v.Len() {
			if err := p.elem.splitInto(cp.Index(i), v.Index(i), append(strconv.AppendInt(path, int64(i), 10), '.'), out); err != nil {
				return err
			}
		}
		return nil
	}
	for _, f := range p.fields {
		fv := v.Field(f.index)
		switch {
		case f.personal && !fv.IsZero():
			dst.Field(f.index).SetZero()
			if err := out.add(path, f.name, fv); err != nil {
				return err
			}
		case f.inner != nil:
			if err := f.inner.splitInto(dst.Field(f.index), fv, append(append(path, f.name...), '.'), out); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendValueJSON encodes a personal value, quickly for the common plain string.
func appendValueJSON(b []byte, v reflect.Value) ([]byte, error) {
	switch v.Type() {
	case stringType:
		return jsonform.AppendString(b, v.String()), nil
	case stringPtrType:
		return jsonform.AppendString(b, v.Elem().String()), nil
	}
	js, err := json.Marshal(v.Interface())
	return append(b, js...), err
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
func (p *plan) merge(v reflect.Value, values []Value) error {
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
