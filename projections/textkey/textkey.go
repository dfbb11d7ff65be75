// Package textkey makes the keys read models sort and search text by: lower
// case, accents removed ("Müller" → "muller"), spaces collapsed, so that "mull"
// finds Müller and names sort as people expect.
package textkey

import (
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Fold returns s lower-cased, without accents, with runs of white space as one
// space and none at the ends.
func Fold(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	folded, _, err := transform.String(t, s)
	if err != nil {
		folded = s
	}
	// Letters that do not decompose into a base and an accent.
	folded = strings.NewReplacer("ß", "ss", "ø", "o", "Ø", "o", "đ", "d", "Đ", "d", "ł", "l", "Ł", "l", "æ", "ae", "Æ", "ae", "œ", "oe", "Œ", "oe").Replace(folded)
	return strings.Join(strings.Fields(strings.ToLower(folded)), " ")
}
