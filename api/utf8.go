package api

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// Bad bytes are refused, never repaired: encoding/json would turn invalid
// UTF-8 in a string into U+FFFD, silently storing something other than what
// the client sent.

// badUTF8 names the first JSON string (a member's value, or the member name
// itself) of body that is not valid UTF-8: its field path, or "body" when it
// cannot tell. body is known not to be valid UTF-8.
func badUTF8(body []byte) string {
	s := utf8Scanner{b: body}
	if path, found := s.value(""); found {
		return orBody(path)
	}
	return "body"
}

// utf8Scanner walks a JSON document just far enough to name where bad bytes
// are; anything it does not understand ends the walk (the caller then says
// "body", and the JSON check that follows says what is wrong).
type utf8Scanner struct {
	b []byte
	i int
}

func (s *utf8Scanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// str reads a string at s.i (its opening quote) and reports its raw bytes.
func (s *utf8Scanner) str() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			j++
		case '"':
			s.i = j + 1
			return s.b[start:j], true
		}
	}
	return nil, false
}

// value walks one value at path, and reports the path of the first bad string.
func (s *utf8Scanner) value(path string) (string, bool) {
	s.space()
	if s.i >= len(s.b) {
		return "", false
	}
	switch s.b[s.i] {
	case '"':
		raw, ok := s.str()
		return path, ok && !utf8.Valid(raw)
	case '{':
		s.i++
		for {
			s.space()
			if s.i < len(s.b) && s.b[s.i] == '}' {
				s.i++
				return "", false
			}
			key, ok := s.str()
			if !ok {
				return "", false
			}
			name := join(path, string(key))
			if !utf8.Valid(key) {
				return name, true
			}
			s.space()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return "", false
			}
			s.i++
			if p, found := s.value(name); found {
				return p, true
			}
			s.space()
			if s.i < len(s.b) && s.b[s.i] == ',' {
				s.i++
			}
		}
	case '[':
		s.i++
		for n := 0; ; n++ {
			s.space()
			if s.i < len(s.b) && s.b[s.i] == ']' {
				s.i++
				return "", false
			}
			at := s.i
			if p, found := s.value(path + "[" + strconv.Itoa(n) + "]"); found {
				return p, true
			}
			if s.i == at {
				return "", false // not JSON here: no progress
			}
			s.space()
			if s.i < len(s.b) && s.b[s.i] == ',' {
				s.i++
			}
		}
	}
	// A number, true, false or null: skip to the next delimiter.
	for s.i < len(s.b) && !containsByte(",]} \t\n\r", s.b[s.i]) {
		s.i++
	}
	return "", false
}

func containsByte(set string, c byte) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}

// queryUTF8 refuses a request whose query parameters (names or values) are not
// valid UTF-8, before any handler reads them.
func queryUTF8(c *gin.Context) {
	var fields []FieldProblem
	for k, vs := range c.Request.URL.Query() {
		bad := !utf8.ValidString(k)
		for _, v := range vs {
			bad = bad || !utf8.ValidString(v)
		}
		if bad {
			fields = append(fields, FieldProblem{Field: "query." + strings.ToValidUTF8(k, "\uFFFD"), Message: "is not valid UTF-8"})
		}
	}
	if len(fields) > 0 {
		_ = c.Error(invalid(fields...))
		c.Abort()
	}
}
