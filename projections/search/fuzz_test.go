package search

import (
	"testing"
	"unicode/utf8"

	"github.com/fieldservice/customer-service/projections/textkey"
)

// FuzzParseQuery checks the query normaliser on any input: it never panics, a
// query it accepts has at least MinQuery characters of valid UTF-8, normalising
// is idempotent (the index folds stored values the same way), and a phone-like
// query becomes its digits.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"mull", "Müller", "(555) 0134", "+1 555-0134", "ab", "ǅemal", "\xff\xfe", "İstanbul", "ß", "ＡＢＣＤ", "a\x00bcd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, ok := ParseQuery(s)
		if !ok {
			return
		}
		text := q.Text()
		if utf8.RuneCountInString(text) < MinQuery || len(text) < MinQuery {
			t.Fatalf("ParseQuery(%q) accepted %q, shorter than %d", s, text, MinQuery)
		}
		if !utf8.ValidString(text) {
			t.Fatalf("ParseQuery(%q) gave invalid UTF-8 %q", s, text)
		}
		again, ok := ParseQuery(text)
		if !ok || again.Text() != text {
			t.Fatalf("not idempotent: %q → %q → %q (%v)", s, text, again.Text(), ok)
		}
		if textkey.Fold(text) != text && digits(text) != text {
			t.Fatalf("%q is neither folded nor digits", text)
		}
	})
}
