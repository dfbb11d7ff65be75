// Package actor names who did something: the person or system behind a command,
// recorded in every event's metadata and checked by permissions.
package actor

import (
	"errors"
	"fmt"
	"strings"
)

// Actor is who issued a command.
type Actor struct {
	ID   string
	Name string
	Role Role
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

// Role is what an actor may do. It is a struct so that no other package can make up
// a role: the zero Role is "none", and ParseRole is the only way in.
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

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range roles {
		if r.name == s {
			return r, nil
		}
	}
	return Role{}, fmt.Errorf("unknown role %q (want admin, coordinator, technician, auditor or system)", s)
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
