// Package textkey makes the keys read models sort and search text by: lower
// case, accents removed ("Müller" → "muller"), spaces collapsed, so that "mull"
// finds Müller and names sort as people expect.
package textkey

import (
	"strings"
	"sync"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Letters that do not decompose into a base and an accent.
var extra = strings.NewReplacer("ß", "ss", "ø", "o", "Ø", "o", "đ", "d", "Đ", "d", "ł", "l", "Ł", "l",
	"æ", "ae", "Æ", "ae", "œ", "oe", "Œ", "oe")

// A transformer holds state: one per goroutine at a time.
var unaccent = sync.Pool{New: func() any { return transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC) }}

// Fold returns s lower-cased, without accents, with runs of white space as one
// space and none at the ends.
//
// Read models store folded keys and recompute them to remove stale ones: a
// change here must come with new read-model names (a rebuild).
func Fold(s string) string {
	if ascii(s) { // most names, every email and phone: no Unicode work
		return foldASCII(s)
	}
	// Invalid bytes become U+FFFD first, as ToLower would make them below: the
	// transformer refuses them, and folding the result again must change
	// nothing (a query is folded once more when it is searched).
	s = strings.ToValidUTF8(s, "\uFFFD")
	t := unaccent.Get().(transform.Transformer)
	folded, _, err := transform.String(t, s)
	unaccent.Put(t)
	if err != nil {
		folded = s
	}
	return strings.Join(strings.Fields(strings.ToLower(extra.Replace(folded))), " ")
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// foldASCII is Fold for ASCII text in one pass, without a copy when s is folded
// already (most emails): searches fold the values of every candidate they verify.
func foldASCII(s string) string {
	if foldedASCII(s) {
		return s
	}
	b := make([]byte, 0, len(s))
	gap := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if asciiSpace(c) {
			gap = len(b) > 0
			continue
		}
		if gap {
			b, gap = append(b, ' '), false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

func foldedASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z':
			return false
		case c == ' ':
			if i == 0 || i == len(s)-1 || s[i+1] == ' ' {
				return false
			}
		case asciiSpace(c):
			return false
		}
	}
	return true
}

// asciiSpace is unicode.IsSpace for ASCII, where strings.Fields splits.
func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}
