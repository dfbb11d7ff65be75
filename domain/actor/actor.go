// Package actor names who did something: the person or system behind a command,
// recorded in every event's metadata and checked by permissions.
package actor

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fieldservice/customer-service/domain/permission"
)

// Actor is who issued a command.
type Actor struct {
	ID   string
	Name string
	// Role is the permission group the actor acts in; events record it.
	Role Role
	// Permissions are what the group grants now, as the API looked them up.
	// Nil means the default group's permissions: tools and tests that make
	// an actor by hand need no lookup. They are never stored.
	Permissions *permission.Set
}

// Can reports whether a may do p.
func (a Actor) Can(p permission.Permission) bool {
	if a.Permissions != nil {
		return a.Permissions.Has(p)
	}
	return permission.Default(a.Role.String()).Has(p)
}

// Validate reports whether a is complete enough to be recorded.
func (a Actor) Validate() error {
	var errs []error
	if strings.TrimSpace(a.ID) == "" {
		errs = append(errs, errors.New("actor id is required"))
	}
	if a.Role.IsZero() {
		errs = append(errs, errors.New("actor role is required"))
	}
	return errors.Join(errs...)
}

// Role names the permission group an actor acts in: one of the default groups,
// System, or a group an admin defined. It is a struct so that only a
// well-formed name gets in: the zero Role is "none", and ParseRole is the only
// way in. Whether a group by that name exists is the API's lookup, not this.
type Role struct{ name string }

var (
	Admin       = Role{"admin"}
	Coordinator = Role{"coordinator"}
	Technician  = Role{"technician"}
	Auditor     = Role{"auditor"}
	// System is the service itself (migrations, reservations' housekeeping).
	System = Role{"system"}
)

var roles = []Role{Admin, Coordinator, Technician, Auditor, System}

// ParseRole reads a role name: a default group, system, or the name of a group.
func ParseRole(s string) (Role, error) {
	for _, r := range roles {
		if r.name == s {
			return r, nil
		}
	}
	if permission.ValidName(s) {
		return Role{s}, nil
	}
	return Role{}, fmt.Errorf("role %q is not a group name (admin, coordinator, technician, auditor, or a group of 2 to 32 lowercase letters, digits and dashes)", s)
}

func (r Role) String() string { return r.name }

// IsZero reports whether r is unset.
func (r Role) IsZero() bool { return r.name == "" }

// MarshalText encodes the role by name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.name), nil }

// UnmarshalText decodes a role name.
func (r *Role) UnmarshalText(b []byte) error {
	p, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}
