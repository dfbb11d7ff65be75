package codec_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	gojson "github.com/goccy/go-json"
	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/customer"
)

// FuzzDecodeMatchesStdlib holds the codec's JSON decoder (go-json) to
// encoding/json on what the codec stores: events marshalled by encoding/json,
// with any strings and numbers in them. Both must read the same values, and the
// codec must give the event back whole after sealing and unsealing it.
func FuzzDecodeMatchesStdlib(f *testing.F) {
	f.Add("Ada", "Lövelace", "ada@example.org", "+1 212 555 0134", "12 St James\n\"Sq\"", int64(7), 12)
	f.Add("", "\u2028\x00<>&", "\xff\xfe", "", "\\u00e9", int64(-1), -3)
	c, _ := newCodec(f)
	ctx := context.Background()
	// One customer's data key for every input: creating one syncs the key file.
	subject := uuid.New()
	stream := customer.Stream.Name(subject.String())
	if _, _, err := c.Encode(ctx, codec.Batch{Stream: stream, Subject: subject, NewSubject: true}, meta, customer.Registered{CustomerID: "c"}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, first, last, email, phone, street string, number int64, employees int) {
		events := []codec.Event{
			customer.Registered{CustomerID: "c", Number: number, Details: customer.Details{Kind: customer.Person, FirstName: first, LastName: last,
				Email: email, NotificationEmails: []string{street, ""}, Phones: []customer.Phone{{Number: phone, Type: customer.Mobile}},
				Addresses: []customer.Address{{Type: customer.Service, Street: street, City: first}}, Employees: employees}},
			customer.DetailsChanged{Changes: customer.Patch{FirstName: &first, Email: &email, Employees: &employees,
				Addresses: &[]customer.Address{{Type: customer.Billing, Street: street}}}},
		}
		for _, e := range events {
			js, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			std := reflect.New(reflect.TypeOf(e))
			fast := reflect.New(reflect.TypeOf(e))
			if err := json.Unmarshal(js, std.Interface()); err != nil {
				t.Fatal(err)
			}
			if err := gojson.Unmarshal(js, fast.Interface()); err != nil {
				t.Fatalf("go-json refuses what encoding/json wrote (%s): %v", js, err)
			}
			if !reflect.DeepEqual(std.Interface(), fast.Interface()) {
				t.Fatalf("%s:\nencoding/json %#v\ngo-json       %#v", js, std.Elem().Interface(), fast.Elem().Interface())
			}
			data, _, err := c.Encode(ctx, codec.Batch{Stream: stream, Subject: subject}, meta, e)
			if err != nil {
				continue // refused by the codec: nothing was stored to read back
			}
			got, _, err := c.Decode(ctx, record(stream, 1, data[0]))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, std.Elem().Interface()) {
				t.Fatalf("through the codec:\ngot  %#v\nwant %#v", got, std.Elem().Interface())
			}
		}
	})
}
