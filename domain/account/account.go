// Package account will be a customer's account with the business: invoices,
// payments, refunds, store credit and the credit limit, in one stream per
// customer. For now it declares only the account stream's kind, so that the store,
// the commands and the projections know the name before the first event exists.
package account

import "github.com/fieldservice/customer-service/domain/event"

// Stream is the kind of a customer's account stream, "account-<customer id>".
var Stream = event.ByID("account-", "account", event.UUID)

// Events declares every event type of an account stream with its schema version.
// There are none yet.
func Events() []event.Type { return nil }
