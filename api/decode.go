package api

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fieldservice/customer-service/internal/jsonform"
)

// decodeBody reads a JSON request body into dst, refusing what a careless client
// might send by mistake: another content type (415), a body over the limit (413),
// unknown fields, wrong types and trailing data (400, every problem at once, each
// with its field path). With mergePatch, a null member sets the field to its zero
// value, as RFC 7396 merge patches remove a member.
func decodeBody(r *http.Request, w http.ResponseWriter, limit int64, dst any, mergePatch bool) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !(mergePatch && mt == "application/merge-patch+json")) {
		want := "application/json"
		if mergePatch {
			want += " or application/merge-patch+json"
		}
		return &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported-media-type",
			title: "The body must be JSON", detail: "send Content-Type: " + want}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &apiError{status: http.StatusRequestEntityTooLarge, code: "body-too-large",
			title: "The body is too large", detail: fmt.Sprintf("a body may have at most %d bytes", limit)}
	}
	if err != nil {
		return &apiError{status: http.StatusBadRequest, code: "unreadable-body", title: "The body could not be read"}
	}
	if fields := decodeJSON(body, dst, mergePatch); len(fields) > 0 {
		return invalid(fields...)
	}
	return nil
}

// decodeJSON decodes body into dst (a pointer to a struct) and returns every
// problem found, or none.
func decodeJSON(body []byte, dst any, mergePatch bool) []FieldProblem {
	if len(bytes.TrimSpace(body)) == 0 {
		return []FieldProblem{{Field: "body", Message: "a JSON object is required"}}
	}
	if !utf8.Valid(body) {
		return []FieldProblem{{Field: badUTF8(body), Message: "is not valid UTF-8"}}
	}
	if !json.Valid(body) {
		return []FieldProblem{{Field: "body", Message: syntaxMessage(body)}}
	}
	var out []FieldProblem
	walk(json.RawMessage(body), reflect.TypeOf(dst).Elem(), "", &out)
	if len(out) > 0 {
		return out
	}
	if err := json.Unmarshal(body, dst); err != nil { // walk accepted it: this cannot fail
		return []FieldProblem{{Field: "body", Message: err.Error()}}
	}
	if mergePatch {
		zeroNulls(body, reflect.ValueOf(dst).Elem())
	}
	return nil
}

func syntaxMessage(body []byte) string {
	var v any
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("is not valid JSON (at byte %d: %s)", se.Offset, strings.TrimPrefix(se.Error(), "invalid character "))
	}
	return "is not valid JSON"
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// walk checks raw against type t, recording each problem under its path. It
// descends into objects and arrays so that one bad member does not hide others.
func walk(raw json.RawMessage, t reflect.Type, path string, out *[]FieldProblem) {
	if string(raw) == "null" {
		return // null leaves a field unset; required fields are the domain's call
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	leaf := reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler)
	switch {
	case !leaf && t.Kind() == reflect.Struct:
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			*out = append(*out, FieldProblem{Field: orBody(path), Message: "must be an object"})
			return
		}
		fields := jsonFields(t)
		for _, k := range sortedKeys(m) {
			f, ok := fields[k]
			if !ok {
				*out = append(*out, FieldProblem{Field: join(path, k), Message: "is not a known field"})
				continue
			}
			walk(m[k], f.Type, join(path, k), out)
		}
	case !leaf && t.Kind() == reflect.Slice:
		var a []json.RawMessage
		if err := json.Unmarshal(raw, &a); err != nil {
			*out = append(*out, FieldProblem{Field: orBody(path), Message: "must be an array"})
			return
		}
		for i, e := range a {
			walk(e, t.Elem(), path+"["+strconv.Itoa(i)+"]", out)
		}
	default:
		if err := json.Unmarshal(raw, reflect.New(t).Interface()); err != nil {
			*out = append(*out, FieldProblem{Field: orBody(path), Message: leafMessage(err, t)})
		}
	}
}

func leafMessage(err error, t reflect.Type) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		switch t.Kind() {
		case reflect.String:
			return "must be a string"
		case reflect.Bool:
			return "must be true or false"
		case reflect.Int, reflect.Int64, reflect.Int32:
			return "must be a whole number"
		case reflect.Float64, reflect.Float32:
			return "must be a number"
		}
		return "has the wrong type (" + te.Value + ")"
	}
	return err.Error() // the value types' own messages ("unknown phone type …")
}

// jsonFields maps the JSON names of t's exported fields to the fields.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	m := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if name := jsonform.FieldName(f); name != "" {
			m[name] = f
		}
	}
	return m
}

// zeroNulls sets each top-level pointer field that the body gave as null to a
// pointer to its zero value: "remove" in a merge patch.
func zeroNulls(body []byte, v reflect.Value) {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return
	}
	for name, f := range jsonFields(v.Type()) {
		if raw, ok := m[name]; ok && string(raw) == "null" && f.Type.Kind() == reflect.Pointer {
			v.FieldByIndex(f.Index).Set(reflect.New(f.Type.Elem()))
		}
	}
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// join appends a member name to a path; a name that would make the path
// ambiguous (empty, or holding . [ ] ") is quoted in brackets.
func join(path, name string) string {
	if name == "" || strings.ContainsAny(name, `.[]"`) {
		return path + "[" + strconv.Quote(name) + "]"
	}
	if path == "" {
		return name
	}
	return path + "." + name
}

func orBody(path string) string {
	if path == "" {
		return "body"
	}
	return path
}
