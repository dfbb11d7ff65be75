package commands

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/fieldservice/customer-service/domain/customer"
)

// normalizePhones turns the numbers as typed ("(555) 010-0134", "+44 20 7946 0958")
// into E.164 using libphonenumber's numbering plans; a number without a country
// code is read in the default region. Bad numbers are left as typed and reported
// as problems, to be merged with the domain's (see withProblems).
func normalizePhones(phones []customer.Phone, region string) ([]customer.Phone, []customer.FieldError) {
	if len(phones) == 0 {
		return phones, nil
	}
	out := make([]customer.Phone, len(phones))
	var problems []customer.FieldError
	for i, p := range phones {
		out[i] = p
		raw := strings.TrimSpace(p.Number)
		num, err := phonenumbers.Parse(raw, region)
		if err != nil || !phonenumbers.IsPossibleNumber(num) {
			problems = append(problems, customer.FieldError{
				Path:    fmt.Sprintf("phones[%d].number", i),
				Message: fmt.Sprintf("%q is not a phone number (numbers without a country code are read as %s)", raw, region),
			})
			continue
		}
		out[i].Number = phonenumbers.Format(num, phonenumbers.E164)
	}
	return out, problems
}

// withProblems merges problems found before the domain decided with the domain's
// own, so the caller sees every problem at once; the domain's complaint about a
// path already reported is dropped as a repeat.
func withProblems(before []customer.FieldError, err error) error {
	if len(before) == 0 {
		return err
	}
	merged := append([]customer.FieldError(nil), before...)
	var ve *customer.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			if !slices.ContainsFunc(before, func(b customer.FieldError) bool { return b.Path == p.Path }) {
				merged = append(merged, p)
			}
		}
	} else if err != nil {
		return err
	}
	return &customer.ValidationError{Problems: merged}
}
