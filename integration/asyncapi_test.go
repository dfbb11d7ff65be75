package integration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/pb33f/jsonschema/v6"

	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/commands/commandstest"
	"github.com/fieldservice/customer-service/domain/account"
	"github.com/fieldservice/customer-service/domain/credential"
	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/integration"
	"github.com/fieldservice/customer-service/projections/projectionstest"
	"github.com/fieldservice/customer-service/projections/redistest"
)

// everyKind runs each kind of command once or more, so every integration type
// is published, personal fields and all.
func everyKind(t *testing.T, app *commands.App) eventstore.Position {
	t.Helper()
	ctx := context.Background()
	must := func(pos eventstore.Position, err error) eventstore.Position {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return pos
	}
	res, err := app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: office, Details: customer.Details{
		Kind: customer.Company, BusinessName: "Quennell Alarms", ContactName: "Ida " + lastName, Email: "ida@quennell.example",
		Phones:    []customer.Phone{{Number: "+14155550100", Type: customer.Mobile, Primary: true}},
		Addresses: []customer.Address{{Type: customer.Service, Street: "9 Elm Row", City: "Leith", Country: "GB"}},
		Source:    "referral", Salesperson: "sam", PaymentTerm: "net_30", TaxRate: 200_000}})
	must(res.Position, err)
	id := res.CustomerID
	street := []customer.Address{{Type: customer.Billing, Street: "1 Dock St", City: "Leith"}}
	acct := func(r commands.Result, err error) { t.Helper(); must(r.Position, err) }
	acct(app.UpdateCustomer.Handle(ctx, commands.UpdateCustomer{Meta: office, CustomerID: id, Patch: customer.Patch{
		Addresses: &street, ServiceZone: ptr("north"), LastName: ptr(lastName)}}))
	acct(app.AddNote.Handle(ctx, commands.AddNote{Meta: office, CustomerID: id, Text: "gate code 4411"}))
	acct(app.Account.IssueInvoice(ctx, commands.IssueInvoice{Meta: office, CustomerID: id,
		Invoice: account.InvoiceInput{Number: "INV-1", Currency: "GBP", Subtotal: 10_000}}))
	acct(app.Account.IssueInvoice(ctx, commands.IssueInvoice{Meta: office, CustomerID: id,
		Invoice: account.InvoiceInput{Number: "INV-2", Currency: "GBP", Subtotal: 500}}))
	acct(app.Account.VoidInvoice(ctx, commands.VoidInvoice{Meta: office, CustomerID: id, Number: "INV-2", Reason: "billed twice"}))
	acct(app.Account.ReceivePayment(ctx, commands.ReceivePayment{Meta: office, CustomerID: id, Payment: account.PaymentInput{
		PaymentID: "PAY-1", Amount: 15_000, Currency: "GBP", Method: account.Check,
		Allocations: []account.Allocation{{Invoice: "INV-1", Amount: 12_000}}}}))
	acct(app.Account.RefundPayment(ctx, commands.RefundPayment{Meta: office, CustomerID: id, Refund: account.RefundInput{
		PaymentID: "PAY-1", Amount: 1_000, Reason: "overpaid"}}))
	acct(app.Account.AddStoreCredit(ctx, commands.AddStoreCredit{Meta: office, CustomerID: id,
		Credit: account.CreditInput{Amount: 700, Currency: "GBP", Message: "sorry, Ida"}}))
	acct(app.Account.IssueInvoice(ctx, commands.IssueInvoice{Meta: office, CustomerID: id,
		Invoice: account.InvoiceInput{Number: "INV-3", Currency: "GBP", Subtotal: 300}}))
	acct(app.Account.ApplyStoreCredit(ctx, commands.ApplyStoreCredit{Meta: office, CustomerID: id, Invoice: "INV-3"}))
	acct(app.Account.SetCreditLimit(ctx, commands.SetCreditLimit{Meta: office, CustomerID: id, Limit: ptr[int64](50_000), Currency: "GBP"}))
	c, err := app.Credentials.Create(ctx, commands.CreateCredential{Meta: office, CustomerID: id,
		Credential: credential.Input{Name: "Panel", Username: "installer", Password: password, Notes: "pin 0000"}})
	must(c.Position, err)
	newPw := password + "2"
	cr, err := app.Credentials.Change(ctx, commands.ChangeCredential{Meta: office, CredentialID: c.CredentialID,
		Patch: credential.Patch{Name: ptr("Alarm panel"), Password: &newPw}})
	must(cr.Position, err)
	s, err := app.Credentials.Reveal(ctx, commands.RevealCredential{Meta: office, CredentialID: c.CredentialID})
	must(s.Position, err)
	cr, err = app.Credentials.Remove(ctx, commands.RemoveCredential{Meta: commandstest.Admin, CredentialID: c.CredentialID})
	must(cr.Position, err)
	acct(app.ArchiveCustomer.Handle(ctx, commands.ArchiveCustomer{Meta: office, CustomerID: id, Reason: "closed"}))
	acct(app.ReenableCustomer.Handle(ctx, commands.ReenableCustomer{Meta: office, CustomerID: id}))
	// Erasure needs an account with nothing open: another customer, without one.
	gone, err := app.RegisterCustomer.Handle(ctx, commands.RegisterCustomer{Meta: office, Details: customer.Details{
		Kind: customer.Person, FirstName: "Ida", LastName: lastName, Email: "gone@quennell.example"}})
	must(gone.Position, err)
	acct(app.ArchiveCustomer.Handle(ctx, commands.ArchiveCustomer{Meta: office, CustomerID: gone.CustomerID, Reason: "asked to be forgotten"}))
	r, err := app.EraseCustomer.Handle(ctx, commands.EraseCustomer{Meta: commandstest.Admin, CustomerID: gone.CustomerID, Reason: customer.SubjectRequest})
	return must(r.Position, err)
}

// schemas compiles, from the AsyncAPI document, the payload schema of each
// message of each channel, by channel address and event type.
func schemas(t *testing.T) map[string]map[string]*jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(integration.AsyncAPI))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		AsyncAPI string `json:"asyncapi"`
		Channels map[string]struct {
			Address  string                       `json:"address"`
			Messages map[string]map[string]string `json:"messages"`
		} `json:"channels"`
		Components struct {
			Messages map[string]struct {
				Name string `json:"name"`
			} `json:"messages"`
		} `json:"components"`
	}
	if err := json.Unmarshal(integration.AsyncAPI, &spec); err != nil {
		t.Fatal(err)
	}
	if spec.AsyncAPI != "3.0.0" {
		t.Fatalf("asyncapi %q", spec.AsyncAPI)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("asyncapi.json", doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]*jsonschema.Schema{}
	for _, ch := range spec.Channels {
		out[ch.Address] = map[string]*jsonschema.Schema{}
		for _, ref := range ch.Messages {
			name := ref["$ref"][len("#/components/messages/"):]
			s, err := c.Compile("asyncapi.json#/components/messages/" + name + "/payload")
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out[ch.Address][spec.Components.Messages[name].Name] = s
		}
	}
	return out
}

// Every message the relay publishes, on both topics, matches its schema in
// the AsyncAPI document, and every type of the contract is in it.
func TestEveryMessageMatchesTheAsyncAPIDocument(t *testing.T) {
	sch := schemas(t)
	for _, typ := range integration.Types() {
		if sch[integration.Public][typ] == nil {
			t.Errorf("the AsyncAPI document lacks %s on %s", typ, integration.Public)
		}
	}
	w := commandstest.New(t)
	bus, err := integration.NewBus(integration.BusConfig{Kind: integration.Channel})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string][]*message.Message{}
	for _, topic := range []string{integration.Public, integration.Personal} {
		msgs, err := bus.Subscriber.Subscribe(context.Background(), topic)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for m := range msgs {
				mu.Lock()
				got[topic] = append(got[topic], m)
				mu.Unlock()
				m.Ack()
			}
		}()
	}
	t.Cleanup(func() { bus.Close() })
	srv := redistest.Start(t)
	runner := projectionstest.Runner(t, w, srv.Client(t), integration.Relay{Publisher: bus, Personal: true}, 4)
	projectionstest.Start(t, runner)
	last := everyKind(t, w.App)
	projectionstest.Sync(t, runner, last)
	want := len(expected(t, w).ids)
	waitFor(t, "every public message", func() bool { mu.Lock(); defer mu.Unlock(); return len(got[integration.Public]) >= want })

	mu.Lock()
	defer mu.Unlock()
	types := map[string]bool{}
	for topic, msgs := range got {
		for _, m := range msgs {
			var e event.Event
			if err := json.Unmarshal(m.Payload, &e); err != nil {
				t.Fatal(err)
			}
			types[topic+" "+e.Type()] = true
			s := sch[topic][e.Type()]
			if s == nil {
				t.Errorf("%s on %s is not in the AsyncAPI document", e.Type(), topic)
				continue
			}
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.Payload))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(v); err != nil {
				t.Errorf("%s on %s does not match its schema: %v\n%s", e.Type(), topic, err, m.Payload)
			}
			if bytes.Contains(m.Payload, []byte(password)) || bytes.Contains(m.Payload, []byte("installer")) || bytes.Contains(m.Payload, []byte("pin 0000")) {
				t.Errorf("%s on %s carries a credential's secret or username", e.Type(), topic)
			}
			if topic == integration.Public && bytes.Contains(m.Payload, []byte(lastName)) {
				t.Errorf("%s on the public topic carries a personal value: %s", e.Type(), m.Payload)
			}
		}
	}
	for _, typ := range integration.Types() {
		if !types[integration.Public+" "+typ] {
			t.Errorf("the test published no %s: it proves nothing about it", typ)
		}
	}
	for _, typ := range []string{"customer.registered.v1", "customer.changed.v1", "customer.erased.v1", "invoice.voided.v1"} {
		if !types[integration.Personal+" "+typ] {
			t.Errorf("no %s on the personal topic", typ)
		}
	}
	// The schemas are strict: a personal field slipped into a public event fails.
	var leaked map[string]any
	_ = json.Unmarshal(got[integration.Public][0].Payload, &leaked)
	leaked["data"].(map[string]any)["last_name"] = lastName
	if err := sch[integration.Public][leaked["type"].(string)].Validate(leaked); err == nil {
		t.Error("a public event with a last name matches its schema: the check above proves nothing")
	}
	personal := fmt.Sprint(len(got[integration.Personal]))
	if !slices.ContainsFunc(got[integration.Personal], func(m *message.Message) bool { return bytes.Contains(m.Payload, []byte(lastName)) }) {
		t.Errorf("the personal topic (%s messages) never carries the last name", personal)
	}
}
