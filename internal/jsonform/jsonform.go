// Package jsonform writes and reads JSON names the way encoding/json does, for
// the code that handles JSON by hand on hot paths (the event codec, the personal
// field finder) or walks types by their JSON names (the API's body checks).
package jsonform

import (
	"encoding/json"
	"reflect"
	"strings"
)

// FieldName is the member name encoding/json uses for f: its json tag's name,
// else the field's name; "" when the tag is "-" (never encoded).
func FieldName(f reflect.StructField) string {
	tag := f.Tag.Get("json")
	if tag == "-" {
		return ""
	}
	if name, _, _ := strings.Cut(tag, ","); name != "" {
		return name
	}
	return f.Name
}

// AppendString appends s quoted exactly as encoding/json quotes it: plain
// printable ASCII as is (the common case, without allocating), anything else
// through the encoder itself.
func AppendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
