// Package permission is what an actor may do: a catalogue of permissions
// (view customers, reveal credentials, …) and the groups that grant them.
// Tokens are issued for a group; an admin defines groups through the API and
// every change is an event of the "permission-groups" stream (groups.go).
//
// The four groups every installation starts with, admin, coordinator,
// technician and auditor, are the roles the service had before groups existed,
// so events and tokens from then keep their meaning. Two of them are fixed by
// rule, not by configuration: admin holds every permission (so no change can
// lock the admins out), and auditor holds only permissions that read (so an
// auditor can never reveal a credential or change anything).
package permission

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
)

// Permission is one thing an actor may do.
type Permission uint8

// The catalogue. The numbers are not stored anywhere (events and the API use
// the names), so the list may be reordered.
const (
	CustomersView Permission = iota
	CustomersNew
	CustomersEdit
	CustomersArchive
	CustomersErase
	CustomersHistory
	NotesAdd
	AccountsView
	AccountsEdit
	AccountsHistory
	BalancesReport
	CredentialsView
	CredentialsNew
	CredentialsEdit
	CredentialsDelete
	CredentialsReveal
	CredentialsReport
	GroupsManage
	EventsStream
	EventsPersonal
	EventsRepublish
	AuditProofs
	count
)

var names = [count]string{
	CustomersView:     "customers.view",
	CustomersNew:      "customers.new",
	CustomersEdit:     "customers.edit",
	CustomersArchive:  "customers.archive",
	CustomersErase:    "customers.erase",
	CustomersHistory:  "customers.history",
	NotesAdd:          "notes.add",
	AccountsView:      "accounts.view",
	AccountsEdit:      "accounts.edit",
	AccountsHistory:   "accounts.history",
	BalancesReport:    "reports.unpaid-balances",
	CredentialsView:   "credentials.view",
	CredentialsNew:    "credentials.new",
	CredentialsEdit:   "credentials.edit",
	CredentialsDelete: "credentials.delete",
	CredentialsReveal: "credentials.reveal",
	CredentialsReport: "credentials.access-report",
	GroupsManage:      "groups.manage",
	EventsStream:      "events.stream",
	EventsPersonal:    "events.personal",
	EventsRepublish:   "events.republish",
	AuditProofs:       "audit.proofs",
}

// readOnly are the permissions that change nothing and reveal no secret: the
// only ones the auditor group may hold.
var readOnly = SetOf(CustomersView, CustomersHistory, AccountsView, AccountsHistory, BalancesReport,
	CredentialsView, CredentialsReport, EventsStream, AuditProofs)

func (p Permission) String() string {
	if p < count {
		return names[p]
	}
	return fmt.Sprintf("permission(%d)", p)
}

// Parse reads a permission by name.
func Parse(name string) (Permission, error) {
	for i, n := range names {
		if n == name {
			return Permission(i), nil
		}
	}
	return 0, fmt.Errorf("%w %q", ErrUnknownPermission, name)
}

// All is every permission, in catalogue order.
func All() []Permission {
	out := make([]Permission, count)
	for i := range out {
		out[i] = Permission(i)
	}
	return out
}

// Set is a set of permissions.
type Set uint64

// SetOf makes a set.
func SetOf(ps ...Permission) Set {
	var s Set
	for _, p := range ps {
		s |= 1 << p
	}
	return s
}

// Every is the set of every permission.
func Every() Set { return Set(1)<<count - 1 }

// Has reports whether s holds p.
func (s Set) Has(p Permission) bool { return s&(1<<p) != 0 }

// Len is how many permissions s holds.
func (s Set) Len() int { return bits.OnesCount64(uint64(s)) }

// List is s's permissions in catalogue order.
func (s Set) List() []Permission {
	var out []Permission
	for _, p := range All() {
		if s.Has(p) {
			out = append(out, p)
		}
	}
	return out
}

// Names is s's permissions by name, in catalogue order.
func (s Set) Names() []string {
	out := []string{}
	for _, p := range s.List() {
		out = append(out, p.String())
	}
	return out
}

// ParseSet reads permission names; it reports every unknown one at once.
func ParseSet(names []string) (Set, error) {
	var s Set
	var bad []string
	for _, n := range names {
		p, err := Parse(n)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%q", n))
			continue
		}
		s |= SetOf(p)
	}
	if len(bad) > 0 {
		return 0, fmt.Errorf("%w %s", ErrUnknownPermission, strings.Join(bad, ", "))
	}
	return s, nil
}

// The default groups' names: the roles tokens were issued for before groups.
const (
	Admin       = "admin"
	Coordinator = "coordinator"
	Technician  = "technician"
	Auditor     = "auditor"
	// System is the service itself (load tools, housekeeping): every
	// permission, and no token can be issued for it.
	System = "system"
)

// Defaults are the groups every installation starts with.
func Defaults() []Group {
	return []Group{
		{Name: Admin, Description: "Everything, including erasure, deleting credentials and managing groups.",
			Permissions: Every(), BuiltIn: true},
		{Name: Coordinator, Description: "The office: registers and edits customers, moves money, keeps credentials.",
			Permissions: SetOf(CustomersView, CustomersNew, CustomersEdit, CustomersArchive, CustomersHistory, NotesAdd,
				AccountsView, AccountsEdit, AccountsHistory, BalancesReport,
				CredentialsView, CredentialsNew, CredentialsEdit, CredentialsReveal), BuiltIn: true},
		{Name: Technician, Description: "On site: finds customers, adds notes, reads a balance, stores and reveals logins.",
			Permissions: SetOf(CustomersView, NotesAdd, AccountsView,
				CredentialsView, CredentialsNew, CredentialsEdit, CredentialsReveal), BuiltIn: true},
		{Name: Auditor, Description: "Reads everything that is not a secret, and the credential-access report; changes nothing.",
			Permissions: SetOf(CustomersView, CustomersHistory, AccountsView, AccountsHistory, BalancesReport,
				CredentialsView, CredentialsReport, AuditProofs), BuiltIn: true},
	}
}

// Default is a default group's permissions, for actors whose group is not
// looked up (commands run by tools and tests): every permission for System,
// none for a name that is not a default group.
func Default(group string) Set {
	if group == System {
		return Every()
	}
	i := slices.IndexFunc(Defaults(), func(g Group) bool { return g.Name == group })
	if i < 0 {
		return 0
	}
	return Defaults()[i].Permissions
}
