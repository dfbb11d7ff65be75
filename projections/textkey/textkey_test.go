package textkey_test

import (
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
