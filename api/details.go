package api

import (
	"time"

	"github.com/fieldservice/customer-service/domain/customer"
	"github.com/fieldservice/customer-service/projections/customerview"
)

// The bodies the API reads and writes for a customer. They are the
// API's own: the stored events (customer.Details, pinned by the golden event
// tests) and the HTTP contract (openapi.json) evolve apart, and this file is
// where they meet. The JSON names are the API's; the value types (kind, phone
// and address types, tax rate) are the domain's, whose JSON form is their
// canonical name.

// details is a customer's details as the API reads (POST) and shows them.
type details struct {
	Kind               customer.Kind    `json:"kind"`
	FirstName          string           `json:"first_name,omitempty"`
	LastName           string           `json:"last_name,omitempty"`
	BusinessName       string           `json:"business_name,omitempty"`
	ContactName        string           `json:"contact_name,omitempty"`
	UseCompanyName     bool             `json:"use_company_name,omitempty"`
	Email              string           `json:"email,omitempty"`
	NotificationEmails []string         `json:"notification_emails,omitempty"`
	InvoiceCCEmails    []string         `json:"invoice_cc_emails,omitempty"`
	StatementEmail     string           `json:"statement_email,omitempty"`
	Phones             []phone          `json:"phones,omitempty"`
	SMSDisabled        bool             `json:"sms_disabled,omitempty"`
	Addresses          []address        `json:"addresses,omitempty"`
	CustomerType       string           `json:"customer_type,omitempty"`
	Industry           string           `json:"industry,omitempty"`
	Sector             string           `json:"sector,omitempty"`
	Category           string           `json:"category,omitempty"`
	CategoryCode       string           `json:"category_code,omitempty"`
	Source             string           `json:"source,omitempty"`
	ServiceZone        string           `json:"service_zone,omitempty"`
	Area               string           `json:"area,omitempty"`
	Salesperson        string           `json:"salesperson,omitempty"`
	Representative     string           `json:"representative,omitempty"`
	Employees          int              `json:"employees,omitempty"`
	Website            string           `json:"website,omitempty"`
	Description        string           `json:"description,omitempty"`
	ReferenceNo        string           `json:"reference_no,omitempty"`
	ExternalID         string           `json:"external_id,omitempty"`
	ExternalID2        string           `json:"external_id_2,omitempty"`
	PaymentTerm        string           `json:"payment_term,omitempty"`
	TaxRate            customer.TaxRate `json:"tax_rate_millionths,omitempty"`
	TaxExempt          bool             `json:"tax_exempt,omitempty"`
	TaxExemptReason    string           `json:"tax_exempt_reason,omitempty"`
	EmailPrefs         emailPreferences `json:"email_preferences"`
	TicketWarning      string           `json:"ticket_warning,omitempty"`
	Kilometres         float64          `json:"kilometres,omitempty"`
}

// patch is a merge patch of details (PATCH): a member left out is left alone.
type patch struct {
	Kind               *customer.Kind    `json:"kind,omitempty"`
	FirstName          *string           `json:"first_name,omitempty"`
	LastName           *string           `json:"last_name,omitempty"`
	BusinessName       *string           `json:"business_name,omitempty"`
	ContactName        *string           `json:"contact_name,omitempty"`
	UseCompanyName     *bool             `json:"use_company_name,omitempty"`
	Email              *string           `json:"email,omitempty"`
	NotificationEmails *[]string         `json:"notification_emails,omitempty"`
	InvoiceCCEmails    *[]string         `json:"invoice_cc_emails,omitempty"`
	StatementEmail     *string           `json:"statement_email,omitempty"`
	Phones             *[]phone          `json:"phones,omitempty"`
	SMSDisabled        *bool             `json:"sms_disabled,omitempty"`
	Addresses          *[]address        `json:"addresses,omitempty"`
	CustomerType       *string           `json:"customer_type,omitempty"`
	Industry           *string           `json:"industry,omitempty"`
	Sector             *string           `json:"sector,omitempty"`
	Category           *string           `json:"category,omitempty"`
	CategoryCode       *string           `json:"category_code,omitempty"`
	Source             *string           `json:"source,omitempty"`
	ServiceZone        *string           `json:"service_zone,omitempty"`
	Area               *string           `json:"area,omitempty"`
	Salesperson        *string           `json:"salesperson,omitempty"`
	Representative     *string           `json:"representative,omitempty"`
	Employees          *int              `json:"employees,omitempty"`
	Website            *string           `json:"website,omitempty"`
	Description        *string           `json:"description,omitempty"`
	ReferenceNo        *string           `json:"reference_no,omitempty"`
	ExternalID         *string           `json:"external_id,omitempty"`
	ExternalID2        *string           `json:"external_id_2,omitempty"`
	PaymentTerm        *string           `json:"payment_term,omitempty"`
	TaxRate            *customer.TaxRate `json:"tax_rate_millionths,omitempty"`
	TaxExempt          *bool             `json:"tax_exempt,omitempty"`
	TaxExemptReason    *string           `json:"tax_exempt_reason,omitempty"`
	EmailPrefs         *emailPreferences `json:"email_preferences,omitempty"`
	TicketWarning      *string           `json:"ticket_warning,omitempty"`
	Kilometres         *float64          `json:"kilometres,omitempty"`
}

func (d details) domain() customer.Details {
	return customer.Details{
		Kind:               d.Kind,
		FirstName:          d.FirstName,
		LastName:           d.LastName,
		BusinessName:       d.BusinessName,
		ContactName:        d.ContactName,
		UseCompanyName:     d.UseCompanyName,
		Email:              d.Email,
		NotificationEmails: d.NotificationEmails,
		InvoiceCCEmails:    d.InvoiceCCEmails,
		StatementEmail:     d.StatementEmail,
		Phones:             toPhones(d.Phones),
		SMSDisabled:        d.SMSDisabled,
		Addresses:          toAddresses(d.Addresses),
		CustomerType:       d.CustomerType,
		Industry:           d.Industry,
		Sector:             d.Sector,
		Category:           d.Category,
		CategoryCode:       d.CategoryCode,
		Source:             d.Source,
		ServiceZone:        d.ServiceZone,
		Area:               d.Area,
		Salesperson:        d.Salesperson,
		Representative:     d.Representative,
		Employees:          d.Employees,
		Website:            d.Website,
		Description:        d.Description,
		ReferenceNo:        d.ReferenceNo,
		ExternalID:         d.ExternalID,
		ExternalID2:        d.ExternalID2,
		PaymentTerm:        d.PaymentTerm,
		TaxRate:            d.TaxRate,
		TaxExempt:          d.TaxExempt,
		TaxExemptReason:    d.TaxExemptReason,
		EmailPrefs:         customer.EmailPreferences(d.EmailPrefs),
		TicketWarning:      d.TicketWarning,
		Kilometres:         d.Kilometres,
	}
}

func detailsOf(d customer.Details) details {
	return details{
		Kind:               d.Kind,
		FirstName:          d.FirstName,
		LastName:           d.LastName,
		BusinessName:       d.BusinessName,
		ContactName:        d.ContactName,
		UseCompanyName:     d.UseCompanyName,
		Email:              d.Email,
		NotificationEmails: d.NotificationEmails,
		InvoiceCCEmails:    d.InvoiceCCEmails,
		StatementEmail:     d.StatementEmail,
		Phones:             fromPhones(d.Phones),
		SMSDisabled:        d.SMSDisabled,
		Addresses:          fromAddresses(d.Addresses),
		CustomerType:       d.CustomerType,
		Industry:           d.Industry,
		Sector:             d.Sector,
		Category:           d.Category,
		CategoryCode:       d.CategoryCode,
		Source:             d.Source,
		ServiceZone:        d.ServiceZone,
		Area:               d.Area,
		Salesperson:        d.Salesperson,
		Representative:     d.Representative,
		Employees:          d.Employees,
		Website:            d.Website,
		Description:        d.Description,
		ReferenceNo:        d.ReferenceNo,
		ExternalID:         d.ExternalID,
		ExternalID2:        d.ExternalID2,
		PaymentTerm:        d.PaymentTerm,
		TaxRate:            d.TaxRate,
		TaxExempt:          d.TaxExempt,
		TaxExemptReason:    d.TaxExemptReason,
		EmailPrefs:         emailPreferences(d.EmailPrefs),
		TicketWarning:      d.TicketWarning,
		Kilometres:         d.Kilometres,
	}
}

func (p patch) domain() customer.Patch {
	return customer.Patch{
		Kind:               p.Kind,
		FirstName:          p.FirstName,
		LastName:           p.LastName,
		BusinessName:       p.BusinessName,
		ContactName:        p.ContactName,
		UseCompanyName:     p.UseCompanyName,
		Email:              p.Email,
		NotificationEmails: p.NotificationEmails,
		InvoiceCCEmails:    p.InvoiceCCEmails,
		StatementEmail:     p.StatementEmail,
		Phones:             mapPtr(p.Phones, toPhones),
		SMSDisabled:        p.SMSDisabled,
		Addresses:          mapPtr(p.Addresses, toAddresses),
		CustomerType:       p.CustomerType,
		Industry:           p.Industry,
		Sector:             p.Sector,
		Category:           p.Category,
		CategoryCode:       p.CategoryCode,
		Source:             p.Source,
		ServiceZone:        p.ServiceZone,
		Area:               p.Area,
		Salesperson:        p.Salesperson,
		Representative:     p.Representative,
		Employees:          p.Employees,
		Website:            p.Website,
		Description:        p.Description,
		ReferenceNo:        p.ReferenceNo,
		ExternalID:         p.ExternalID,
		ExternalID2:        p.ExternalID2,
		PaymentTerm:        p.PaymentTerm,
		TaxRate:            p.TaxRate,
		TaxExempt:          p.TaxExempt,
		TaxExemptReason:    p.TaxExemptReason,
		EmailPrefs:         mapPtr(p.EmailPrefs, func(e emailPreferences) customer.EmailPreferences { return customer.EmailPreferences(e) }),
		TicketWarning:      p.TicketWarning,
		Kilometres:         p.Kilometres,
	}
}

// phone is one of a customer's numbers.
type phone struct {
	Number  string             `json:"number,omitempty"`
	Type    customer.PhoneType `json:"type"`
	Primary bool               `json:"primary,omitempty"`
}

// address is a postal address, optionally with coordinates.
type address struct {
	Type     customer.AddressType `json:"type"`
	Street   string               `json:"street,omitempty"`
	City     string               `json:"city,omitempty"`
	State    string               `json:"state,omitempty"`
	Postcode string               `json:"postcode,omitempty"`
	Country  string               `json:"country,omitempty"`
	Lat      *float64             `json:"lat,omitempty"`
	Lng      *float64             `json:"lng,omitempty"`
	Default  bool                 `json:"default,omitempty"`
}

// emailPreferences says which emails the customer accepts.
type emailPreferences struct {
	Billing   bool `json:"billing"`
	Marketing bool `json:"marketing"`
	Reports   bool `json:"reports"`
}

func toPhones(ps []phone) []customer.Phone {
	return mapSlice(ps, func(p phone) customer.Phone { return customer.Phone(p) })
}

func fromPhones(ps []customer.Phone) []phone {
	return mapSlice(ps, func(p customer.Phone) phone { return phone(p) })
}

func toAddresses(as []address) []customer.Address {
	return mapSlice(as, func(a address) customer.Address { return customer.Address(a) })
}

func fromAddresses(as []customer.Address) []address {
	return mapSlice(as, func(a customer.Address) address { return address(a) })
}

// mapSlice maps each element; nil stays nil (an absent list), empty stays empty.
func mapSlice[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// mapPtr maps a patch member: nil (left alone) stays nil.
func mapPtr[T, U any](p *T, f func(T) U) *U {
	if p == nil {
		return nil
	}
	u := f(*p)
	return &u
}

// customerBody is one customer as the API shows it (GET, lists).
type customerBody struct {
	ID            string       `json:"id"`
	Number        int64        `json:"number"`
	Version       uint64       `json:"version"`
	DisplayName   string       `json:"display_name"`
	Details       details      `json:"details"`
	Archived      bool         `json:"archived"`
	ArchiveReason string       `json:"archive_reason,omitempty"`
	Notes         []noteItem   `json:"notes,omitempty"`
	CreatedAt     time.Time    `json:"created_at"`
	CreatedBy     actorBody    `json:"created_by"`
	ModifiedAt    time.Time    `json:"modified_at"`
	ModifiedBy    actorBody    `json:"modified_by"`
	Erased        *erasureBody `json:"erased,omitempty"`
	// CreditHold is set while the customer is on credit hold.
	CreditHold *holdBody `json:"credit_hold,omitempty"`
}

// actorBody is who made a change.
type actorBody struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Role string `json:"role,omitempty"`
}

// noteItem is an office note.
type noteItem struct {
	ID     string    `json:"id"`
	Text   string    `json:"text"`
	Author actorBody `json:"author"`
	At     time.Time `json:"at"`
}

// erasureBody says when, by whom and why personal data was erased.
type erasureBody struct {
	At        time.Time `json:"at"`
	By        actorBody `json:"by"`
	Reason    string    `json:"reason"`
	Reference string    `json:"reference,omitempty"`
}

func customerOf(v customerview.View) customerBody {
	b := customerBody{ID: v.ID, Number: v.Number, Version: v.Version, DisplayName: v.DisplayName, Details: detailsOf(v.Details),
		Archived: v.Archived, ArchiveReason: v.ArchiveReason, CreatedAt: v.CreatedAt, CreatedBy: actorBody(v.CreatedBy),
		ModifiedAt: v.ModifiedAt, ModifiedBy: actorBody(v.ModifiedBy)}
	for _, n := range v.Notes {
		b.Notes = append(b.Notes, noteItem{ID: n.ID, Text: n.Text, Author: actorBody(n.Author), At: n.At})
	}
	if e := v.Erased; e != nil {
		b.Erased = &erasureBody{At: e.At, By: actorBody(e.By), Reason: e.Reason, Reference: e.Reference}
	}
	return b
}
