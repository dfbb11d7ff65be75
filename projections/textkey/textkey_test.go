package textkey_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fieldservice/customer-service/projections/textkey"
)

func TestFold(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Müller":              "muller",
		"  José   Ñúñez ":     "jose nunez",
		"Straße":              "strasse",
		"Łódź Søren Ærø":      "lodz soren aero",
		"ACME Plumbing, Inc.": "acme plumbing, inc.",
		"":                    "",
	} {
		if got := textkey.Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFoldASCIIIsFieldsAndLower(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := "aZ 9.\t\n\v\f\r@-"
	for range 20_000 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		s := string(b)
		if got, want := textkey.Fold(s), strings.Join(strings.Fields(strings.ToLower(s)), " "); got != want {
			t.Fatalf("Fold(%q) = %q, want %q", s, got, want)
		}
	}
}
