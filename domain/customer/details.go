package customer

import (
	"slices"
	"strings"
)

// Details is everything the office records about a customer. It is the payload of
// CustomerRegistered and the state that CustomerDetailsChanged edits.
type Details struct {
	Kind           Kind   `json:"kind"`
	FirstName      string `json:"first_name,omitempty" personal:"true"`
	LastName       string `json:"last_name,omitempty" personal:"true"`
	BusinessName   string `json:"business_name,omitempty" personal:"true"`
	ContactName    string `json:"contact_name,omitempty" personal:"true"`
	UseCompanyName bool   `json:"use_company_name,omitempty"` // estimates and invoices show the company name

	Email              string   `json:"email,omitempty" personal:"true"` // primary; unique across customers
	NotificationEmails []string `json:"notification_emails,omitempty" personal:"true"`
	InvoiceCCEmails    []string `json:"invoice_cc_emails,omitempty" personal:"true"`
	StatementEmail     string   `json:"statement_email,omitempty" personal:"true"`
	Phones             []Phone  `json:"phones,omitempty"`
	SMSDisabled        bool     `json:"sms_disabled,omitempty"`

	Addresses []Address `json:"addresses,omitempty"`

	CustomerType   string `json:"customer_type,omitempty"`
	Industry       string `json:"industry,omitempty"`
	Sector         string `json:"sector,omitempty"`
	Category       string `json:"category,omitempty"`
	CategoryCode   string `json:"category_code,omitempty"`
	Source         string `json:"source,omitempty"` // origin / lead source
	ServiceZone    string `json:"service_zone,omitempty"`
	Area           string `json:"area,omitempty"`
	Salesperson    string `json:"salesperson,omitempty"`
	Representative string `json:"representative,omitempty"`
	Employees      int    `json:"employees,omitempty"`
	Website        string `json:"website,omitempty"`
	Description    string `json:"description,omitempty" personal:"true"`
	ReferenceNo    string `json:"reference_no,omitempty"`
	ExternalID     string `json:"external_id,omitempty"`
	ExternalID2    string `json:"external_id_2,omitempty"`
	PaymentTerm    string `json:"payment_term,omitempty"`

	TaxRate         TaxRate          `json:"tax_rate_millionths,omitempty"`
	TaxExempt       bool             `json:"tax_exempt,omitempty"`
	TaxExemptReason string           `json:"tax_exempt_reason,omitempty"`
	EmailPrefs      EmailPreferences `json:"email_preferences"`
	TicketWarning   string           `json:"ticket_warning,omitempty" personal:"true"` // shown on every job of the customer
	Kilometres      float64          `json:"kilometres,omitempty"`                     // travel distance from the depot
}

// DisplayName is the name screens and documents show: the business name for a
// company that has one, else the person's first and last name.
func (d Details) DisplayName() string {
	if d.Kind == Company && d.BusinessName != "" {
		return d.BusinessName
	}
	return strings.TrimSpace(d.FirstName + " " + d.LastName)
}

// SMSNumber is the primary mobile number texts go to, or "" when there is none or
// texts are disabled.
func (d Details) SMSNumber() string {
	if d.SMSDisabled {
		return ""
	}
	var first string
	for _, p := range d.Phones {
		if p.Type == Mobile {
			if p.Primary {
				return p.Number
			}
			if first == "" {
				first = p.Number
			}
		}
	}
	return first
}

// Patch is a partial edit of Details: a nil field is left alone, a non-nil one is
// set (to empty, too). It is both what an edit asks for and, reduced to the fields
// that really change, what CustomerDetailsChanged records.
type Patch struct {
	Kind           *Kind   `json:"kind,omitempty"`
	FirstName      *string `json:"first_name,omitempty" personal:"true"`
	LastName       *string `json:"last_name,omitempty" personal:"true"`
	BusinessName   *string `json:"business_name,omitempty" personal:"true"`
	ContactName    *string `json:"contact_name,omitempty" personal:"true"`
	UseCompanyName *bool   `json:"use_company_name,omitempty"`

	Email              *string    `json:"email,omitempty" personal:"true"`
	NotificationEmails *[]string  `json:"notification_emails,omitempty" personal:"true"`
	InvoiceCCEmails    *[]string  `json:"invoice_cc_emails,omitempty" personal:"true"`
	StatementEmail     *string    `json:"statement_email,omitempty" personal:"true"`
	Phones             *[]Phone   `json:"phones,omitempty"`
	SMSDisabled        *bool      `json:"sms_disabled,omitempty"`
	Addresses          *[]Address `json:"addresses,omitempty"`

	CustomerType   *string `json:"customer_type,omitempty"`
	Industry       *string `json:"industry,omitempty"`
	Sector         *string `json:"sector,omitempty"`
	Category       *string `json:"category,omitempty"`
	CategoryCode   *string `json:"category_code,omitempty"`
	Source         *string `json:"source,omitempty"`
	ServiceZone    *string `json:"service_zone,omitempty"`
	Area           *string `json:"area,omitempty"`
	Salesperson    *string `json:"salesperson,omitempty"`
	Representative *string `json:"representative,omitempty"`
	Employees      *int    `json:"employees,omitempty"`
	Website        *string `json:"website,omitempty"`
	Description    *string `json:"description,omitempty" personal:"true"`
	ReferenceNo    *string `json:"reference_no,omitempty"`
	ExternalID     *string `json:"external_id,omitempty"`
	ExternalID2    *string `json:"external_id_2,omitempty"`
	PaymentTerm    *string `json:"payment_term,omitempty"`

	TaxRate         *TaxRate          `json:"tax_rate_millionths,omitempty"`
	TaxExempt       *bool             `json:"tax_exempt,omitempty"`
	TaxExemptReason *string           `json:"tax_exempt_reason,omitempty"`
	EmailPrefs      *EmailPreferences `json:"email_preferences,omitempty"`
	TicketWarning   *string           `json:"ticket_warning,omitempty" personal:"true"`
	Kilometres      *float64          `json:"kilometres,omitempty"`
}

// applyTo returns d with the patch's fields set.
func (p Patch) applyTo(d Details) Details {
	set(&d.Kind, p.Kind)
	set(&d.FirstName, p.FirstName)
	set(&d.LastName, p.LastName)
	set(&d.BusinessName, p.BusinessName)
	set(&d.ContactName, p.ContactName)
	set(&d.UseCompanyName, p.UseCompanyName)
	set(&d.Email, p.Email)
	set(&d.NotificationEmails, p.NotificationEmails)
	set(&d.InvoiceCCEmails, p.InvoiceCCEmails)
	set(&d.StatementEmail, p.StatementEmail)
	set(&d.Phones, p.Phones)
	set(&d.SMSDisabled, p.SMSDisabled)
	set(&d.Addresses, p.Addresses)
	set(&d.CustomerType, p.CustomerType)
	set(&d.Industry, p.Industry)
	set(&d.Sector, p.Sector)
	set(&d.Category, p.Category)
	set(&d.CategoryCode, p.CategoryCode)
	set(&d.Source, p.Source)
	set(&d.ServiceZone, p.ServiceZone)
	set(&d.Area, p.Area)
	set(&d.Salesperson, p.Salesperson)
	set(&d.Representative, p.Representative)
	set(&d.Employees, p.Employees)
	set(&d.Website, p.Website)
	set(&d.Description, p.Description)
	set(&d.ReferenceNo, p.ReferenceNo)
	set(&d.ExternalID, p.ExternalID)
	set(&d.ExternalID2, p.ExternalID2)
	set(&d.PaymentTerm, p.PaymentTerm)
	set(&d.TaxRate, p.TaxRate)
	set(&d.TaxExempt, p.TaxExempt)
	set(&d.TaxExemptReason, p.TaxExemptReason)
	set(&d.EmailPrefs, p.EmailPrefs)
	set(&d.TicketWarning, p.TicketWarning)
	set(&d.Kilometres, p.Kilometres)
	return d
}

// diff returns the patch that turns old into new, holding only what differs.
func diff(old, new Details) Patch {
	return Patch{
		Kind:               changed(old.Kind, new.Kind),
		FirstName:          changed(old.FirstName, new.FirstName),
		LastName:           changed(old.LastName, new.LastName),
		BusinessName:       changed(old.BusinessName, new.BusinessName),
		ContactName:        changed(old.ContactName, new.ContactName),
		UseCompanyName:     changed(old.UseCompanyName, new.UseCompanyName),
		Email:              changed(old.Email, new.Email),
		NotificationEmails: changedSlice(old.NotificationEmails, new.NotificationEmails, func(a, b string) bool { return a == b }),
		InvoiceCCEmails:    changedSlice(old.InvoiceCCEmails, new.InvoiceCCEmails, func(a, b string) bool { return a == b }),
		StatementEmail:     changed(old.StatementEmail, new.StatementEmail),
		Phones:             changedSlice(old.Phones, new.Phones, func(a, b Phone) bool { return a == b }),
		SMSDisabled:        changed(old.SMSDisabled, new.SMSDisabled),
		Addresses:          changedSlice(old.Addresses, new.Addresses, Address.Equal),
		CustomerType:       changed(old.CustomerType, new.CustomerType),
		Industry:           changed(old.Industry, new.Industry),
		Sector:             changed(old.Sector, new.Sector),
		Category:           changed(old.Category, new.Category),
		CategoryCode:       changed(old.CategoryCode, new.CategoryCode),
		Source:             changed(old.Source, new.Source),
		ServiceZone:        changed(old.ServiceZone, new.ServiceZone),
		Area:               changed(old.Area, new.Area),
		Salesperson:        changed(old.Salesperson, new.Salesperson),
		Representative:     changed(old.Representative, new.Representative),
		Employees:          changed(old.Employees, new.Employees),
		Website:            changed(old.Website, new.Website),
		Description:        changed(old.Description, new.Description),
		ReferenceNo:        changed(old.ReferenceNo, new.ReferenceNo),
		ExternalID:         changed(old.ExternalID, new.ExternalID),
		ExternalID2:        changed(old.ExternalID2, new.ExternalID2),
		PaymentTerm:        changed(old.PaymentTerm, new.PaymentTerm),
		TaxRate:            changed(old.TaxRate, new.TaxRate),
		TaxExempt:          changed(old.TaxExempt, new.TaxExempt),
		TaxExemptReason:    changed(old.TaxExemptReason, new.TaxExemptReason),
		EmailPrefs:         changed(old.EmailPrefs, new.EmailPrefs),
		TicketWarning:      changed(old.TicketWarning, new.TicketWarning),
		Kilometres:         changed(old.Kilometres, new.Kilometres),
	}
}

// IsEmpty reports whether p changes nothing.
func (p Patch) IsEmpty() bool { return p == Patch{} }

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func changed[T comparable](old, new T) *T {
	if old == new {
		return nil
	}
	return &new
}

func changedSlice[T any](old, new []T, eq func(a, b T) bool) *[]T {
	if slices.EqualFunc(old, new, eq) {
		return nil
	}
	return &new
}

// EmailKey is what identifies an email address among customers: primary emails
// are unique up to case and surrounding space ("Ada@Example.org " and
// "ada@example.org" are one address). The address itself is kept as typed.
func EmailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// SameEmail reports whether a and b are one address (EmailKey).
func SameEmail(a, b string) bool { return EmailKey(a) == EmailKey(b) }
