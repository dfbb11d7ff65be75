package commands_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/actor"
	"github.com/fieldservice/customer-service/domain/credential"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/domain/permission"
	"github.com/fieldservice/customer-service/domain/personal"
	"github.com/fieldservice/customer-service/domain/reservation"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/eventstore/embedded"
	"github.com/fieldservice/customer-service/keystore"
	keyfile "github.com/fieldservice/customer-service/keystore/embedded"
)

// The golden events pin the stored form of every event type and schema version.
// testdata/events holds, for each, the bytes of one stored event as the codec
// wrote it when that version was current; it must decode to the Go value below
// forever. Renaming a JSON tag, a type name or a sealed path would make old
// events decode with fields silently empty: this test fails instead. A new
// schema version adds a file (go test ./commands -run Golden -update-golden
// writes the missing ones) and keeps the old ones with an upcaster.

var updateGolden = flag.Bool("update-golden", false, "write golden files for event types that have none")

var (
	goldenSubject = uuid.MustParse("0193a4b2-7c1d-7e2f-8a3b-4c5d6e7f8091")
	goldenAt      = time.Date(2026, 3, 3, 9, 30, 15, 123456789, time.UTC)
	goldenMeta    = codec.Metadata{OccurredAt: goldenAt, CorrelationID: "corr-1", CausationID: "req-1",
		Actor: actor.Actor{ID: "u-7", Name: "Dana Clerk", Role: actor.Coordinator}}
	lat, lng = 51.5072, -0.1276
)

// golden is the expected value of each stored type at each version, as a Go
// literal: independent of the JSON tags it pins.
var golden = map[string]codec.Event{
	"CustomerRegistered.v1": customer.Registered{CustomerID: goldenSubject.String(), Number: 1042, Details: customer.Details{
		Kind: customer.Company, FirstName: "Ada", LastName: "Lovelace", BusinessName: "Analytical Engines Ltd",
		ContactName: "Charles Babbage", UseCompanyName: true, Email: "ada@example.org",
		NotificationEmails: []string{"ops@example.org"}, InvoiceCCEmails: []string{"ap@example.org", "cfo@example.org"},
		StatementEmail: "statements@example.org",
		Phones: []customer.Phone{{Number: "+442071234567", Type: customer.Work, Primary: true},
			{Number: "+447700900123", Type: customer.Mobile}},
		SMSDisabled: true,
		Addresses: []customer.Address{{Type: customer.Service, Street: "12 Marylebone Rd", City: "London", State: "Greater London",
			Postcode: "NW1 5LR", Country: "GB", Lat: &lat, Lng: &lng, Default: true},
			{Type: customer.Billing, Street: "PO Box 7", City: "London", Country: "GB"}},
		CustomerType: "commercial", Industry: "manufacturing", Sector: "private", Category: "key account", CategoryCode: "KA",
		Source: "referral", ServiceZone: "north", Area: "NW1", Salesperson: "sam", Representative: "rita", Employees: 42,
		Website: "https://example.org", Description: "Makes difference engines", ReferenceNo: "REF-9", ExternalID: "ext-1",
		ExternalID2: "ext-2", PaymentTerm: "net30", TaxRate: 200000, TaxExempt: true, TaxExemptReason: "charity",
		EmailPrefs: customer.EmailPreferences{Billing: true, Reports: true}, TicketWarning: "Dog on site", Kilometres: 12.5,
	}},
	"CustomerDetailsChanged.v1": customer.DetailsChanged{Changes: customer.Patch{
		Kind: ptr(customer.Person), FirstName: ptr("Augusta"), LastName: ptr(""), Email: ptr("augusta@example.org"),
		NotificationEmails: &[]string{}, Phones: &[]customer.Phone{{Number: "+15550101", Type: customer.Home}},
		SMSDisabled: ptr(false), Addresses: &[]customer.Address{{Type: customer.Shipping, Street: "1 Dock St", City: "Leith"}},
		ServiceZone: ptr("south"), Employees: ptr(0), TaxRate: ptr(customer.TaxRate(87500)),
		EmailPrefs: &customer.EmailPreferences{Marketing: true}, TicketWarning: ptr("Call ahead"), Kilometres: ptr(3.25),
	}},
	"CustomerArchived.v1":  customer.Archived{Reason: "moved away, says Mrs Lovelace"},
	"CustomerReenabled.v1": customer.Reenabled{},
	"CustomerNoteAdded.v1": customer.NoteAdded{NoteID: "0193a4b2-0000-7000-8000-000000000001", Text: "gate code 1234",
		AuthorID: "u-7", AuthorName: "Dana Clerk", At: goldenAt},
	"CustomerErased.v1":             customer.Erased{Reason: customer.SubjectRequest, Reference: "DSR-2026-17"},
	"EmailReserved.v1":              reservation.EmailReserved{CustomerID: goldenSubject.String()},
	"EmailReleased.v1":              reservation.EmailReleased{CustomerID: goldenSubject.String()},
	"CustomerNumberAssigned.v1":     reservation.NumberAssigned{CustomerID: goldenSubject.String(), Number: 1042},
	"IdempotencyKeyClaimed.v1":      reservation.CommandClaimed{RequestHash: "9f86d081884c7d65", Command: "RegisterCustomer", CustomerID: goldenSubject.String()},
	"IdempotentCommandCompleted.v1": reservation.CommandCompleted{CustomerID: goldenSubject.String(), Number: 1042, Version: 3, Position: "981/977"},
	"IdempotentCommandFailed.v1":    reservation.CommandFailed{Reason: "customer already registered"},
	"InvoiceIssued.v1": account.InvoiceIssued{Number: "INV-1042", IssuedOn: goldenDay, DueOn: goldenDay + 30, Term: "net_30",
		Currency: "GBP", Subtotal: 10_000, Tax: 2_000, Total: 12_000, TaxRate: 200_000, BillToCompany: true, Reference: "JOB-7"},
	"InvoiceVoided.v1": account.InvoiceVoided{Number: "INV-1042", VoidedOn: goldenDay + 1, Reason: "billed twice, says Mrs Lovelace",
		CreditReturned: 500},
	"PaymentReceived.v1": account.PaymentReceived{PaymentID: "PAY-1", Amount: 15_000, Currency: "GBP", Method: account.Check,
		Reference: "chq 100234", ReceivedOn: goldenDay + 2, Allocations: []account.Allocation{{Invoice: "INV-1042", Amount: 12_000}},
		ToCredit: 3_000},
	"PaymentRefunded.v1": account.PaymentRefunded{PaymentID: "PAY-1", Amount: 4_000, RefundedOn: goldenDay + 3, Reason: "overpaid",
		Invoices: []account.Allocation{{Invoice: "INV-1042", Amount: 1_000}}, FromCredit: 3_000},
	"StoreCreditAdded.v1": account.StoreCreditAdded{Amount: 2_500, Currency: "GBP", AddedOn: goldenDay, Reference: "GC-9",
		Message: "sorry for the late visit, Ada"},
	"StoreCreditApplied.v1": account.StoreCreditApplied{Invoice: "INV-1042", Amount: 2_500, AppliedOn: goldenDay + 4},
	"CreditLimitSet.v1":     account.CreditLimitSet{Limit: ptr[int64](500_000), Currency: "GBP"},
	"CredentialCreated.v1": credential.Created{CustomerID: goldenSubject.String(), ContactID: "c-1", Name: "Office router",
		Username: "ada@example.org", URL: "http://192.168.1.1", Password: credential.Sealed{1, 2, 3, 4}, Notes: credential.Sealed{5, 6},
		Public: true},
	"CredentialChanged.v1": credential.Changed{Name: ptr("Back-office router"), Username: ptr("admin"), URL: ptr("https://10.0.0.1"),
		ContactID: ptr(""), Password: credential.Sealed{7, 8, 9}, NotesCleared: true, Public: ptr(false)},
	"CredentialRevealed.v1":     credential.Revealed{ClientAddress: "203.0.113.7", UserAgent: "curl/8.5.0", Reason: "ticket 4411"},
	"CredentialRemoved.v1":      credential.Removed{Reason: "router replaced"},
	"CredentialAttached.v1":     credential.Attached{CredentialID: goldenSubject.String()},
	"PermissionGroupSaved.v1":   permission.GroupSaved{Name: "field-leads", Description: "Leads", Permissions: []string{"customers.view", "credentials.reveal"}},
	"PermissionGroupRemoved.v1": permission.GroupRemoved{Name: "field-leads"},
}

var goldenDay = account.DateOf(goldenAt)

// goldenKeys is the test master key and the subject's wrapped data key, so that
// sealed golden events open.
type goldenKeys struct {
	Master  string `json:"master_key"`
	Wrapped []byte `json:"wrapped_data_key"`
}

// goldenRecord is a stored event's bytes as the store holds them.
type goldenRecord struct {
	ID       uuid.UUID `json:"id"`
	Stream   string    `json:"stream"`
	Version  uint64    `json:"version"`
	Type     string    `json:"type"`
	Data     string    `json:"data"`
	Metadata string    `json:"metadata"`
}

func TestGoldenEventsDecodeForever(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "events")
	ring := goldenKeyring(t, dir)
	cdc, err := codec.New(commands.Events, ring)
	if err != nil {
		t.Fatal(err)
	}
	for name, version := range commands.Events.Types() {
		if _, ok := golden[fmt.Sprintf("%s.v%d", name, version)]; !ok {
			t.Errorf("%s v%d has no golden value: add one to this test", name, version)
		}
	}
	tmp := t.TempDir()
	records := map[string]eventstore.RecordedEvent{}
	for file, want := range golden {
		path := filepath.Join(dir, file+".json")
		if *updateGolden {
			writeGolden(t, cdc, path, want)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (run with -update-golden to write it once, then commit it)", file, err)
			continue
		}
		var g goldenRecord
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		rec := eventstore.RecordedEvent{ID: g.ID, Stream: g.Stream, Version: g.Version, Type: g.Type,
			Data: []byte(g.Data), Metadata: []byte(g.Metadata)}
		records[file] = rec
		got, meta, err := cdc.Decode(t.Context(), rec)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s decodes to\n%#v\nwant\n%#v", file, got, want)
		}
		if !meta.OccurredAt.Equal(goldenAt) || meta.Actor != goldenMeta.Actor || meta.CorrelationID != goldenMeta.CorrelationID ||
			meta.CausationID != goldenMeta.CausationID || meta.SchemaVersion != 1 || meta.Erased {
			t.Errorf("%s: metadata %+v", file, meta)
		}
		// The hash chain covers the stored bytes: they still verify (each file is
		// the first event of its stream).
		store, err := embedded.Open(embedded.Config{Path: filepath.Join(tmp, file+".db")})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		if _, err := store.Append(t.Context(), rec.Stream, eventstore.NoStream(),
			eventstore.EventData{ID: rec.ID, Type: rec.Type, Data: rec.Data, Metadata: rec.Metadata}); err != nil {
			t.Fatal(err)
		}
		if r, err := codec.Verify(t.Context(), store, rec.Stream); err != nil || r.Break != nil {
			t.Errorf("%s: chain: %v %v", file, err, r.Break)
		}
	}

	// Erased: the data key is gone. Personal fields read as empty, the rest
	// stays, and only events that had personal data say Erased.
	if err := ring.Destroy(t.Context(), goldenSubject); err != nil {
		t.Fatal(err)
	}
	for file, rec := range records {
		got, meta, err := cdc.Decode(t.Context(), rec)
		if err != nil {
			t.Errorf("%s erased: %v", file, err)
			continue
		}
		want := redacted(golden[file])
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s erased decodes to\n%#v\nwant\n%#v", file, got, want)
		}
		if hadPersonal := !reflect.DeepEqual(want, golden[file]); meta.Erased != hadPersonal {
			t.Errorf("%s erased: Erased = %v, want %v", file, meta.Erased, hadPersonal)
		}
	}
}

// redacted is e with its personal fields zeroed.
func redacted(e codec.Event) codec.Event {
	switch e := e.(type) {
	case customer.Registered:
		return personal.Redact(e)
	case customer.DetailsChanged:
		return personal.Redact(e)
	case customer.Archived:
		return personal.Redact(e)
	case customer.NoteAdded:
		return personal.Redact(e)
	case account.InvoiceVoided:
		return personal.Redact(e)
	case account.PaymentRefunded:
		return personal.Redact(e)
	case account.StoreCreditAdded:
		return personal.Redact(e)
	case credential.Created:
		return personal.Redact(e)
	case credential.Changed:
		return personal.Redact(e)
	}
	return e
}

// goldenKeyring opens a key store in a temporary directory holding the golden
// subject's data key, wrapped by the test master key, both from testdata (made
// on the first -update-golden run).
func goldenKeyring(t *testing.T, dir string) *keystore.Keyring {
	t.Helper()
	ks, err := keyfile.Open(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ks.Close() })
	path := filepath.Join(dir, "keys.json")
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) && *updateGolden {
		raw = newGoldenKeys(t, path)
	} else if err != nil {
		t.Fatal(err)
	}
	var gk goldenKeys
	if err := json.Unmarshal(raw, &gk); err != nil {
		t.Fatal(err)
	}
	master, err := keystore.ParseMasterKey(gk.Master)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Create(t.Context(), goldenSubject, gk.Wrapped); err != nil {
		t.Fatal(err)
	}
	ring, err := keystore.NewKeyring(ks, master, keystore.KeyringOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

// newGoldenKeys makes the test master key and the subject's data key, once.
func newGoldenKeys(t *testing.T, path string) []byte {
	t.Helper()
	raw := keystore.GenerateMasterKey()
	master, err := keystore.NewMasterKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keyfile.Open(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	ring, err := keystore.NewKeyring(ks, master, keystore.KeyringOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ring.CreateDataKey(t.Context(), goldenSubject); err != nil {
		t.Fatal(err)
	}
	wrapped, err := ks.Get(t.Context(), goldenSubject)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(goldenKeys{Master: keystore.EncodeMasterKey(raw), Wrapped: wrapped}, "", "  ")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// writeGolden stores e as the codec writes it now, unless its file exists: a
// golden file, once committed, is never rewritten.
func writeGolden(t *testing.T, cdc *codec.Codec, path string, e codec.Event) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	stream := customer.Stream.Name(goldenSubject.String())
	if _, ok := e.(account.Event); ok {
		stream = account.Stream.Name(goldenSubject.String())
	}
	data, _, err := cdc.Encode(t.Context(), codec.Batch{Stream: stream, Subject: goldenSubject}, goldenMeta, e)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(goldenRecord{ID: data[0].ID, Stream: stream, Version: 1, Type: data[0].Type,
		Data: string(data[0].Data), Metadata: string(data[0].Metadata)}, "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
