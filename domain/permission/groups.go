package permission

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/fieldservice/customer-service/domain/event"
)

// Group is a named set of permissions that tokens are issued for.
type Group struct {
	Name        string
	Description string
	Permissions Set
	// BuiltIn: one of the default groups, which can be changed (within their
	// rules) but not removed.
	BuiltIn bool
}

// Stream is the one stream of every change to the groups.
var Stream = event.Single("permission-groups", "permission groups")

// Event is a change to the groups.
type Event interface {
	event.Event
	groupEvent()
}

// Events declares the stream's event types.
func Events() []event.Type {
	return []event.Type{{Event: GroupSaved{}, SchemaVersion: 1}, {Event: GroupRemoved{}, SchemaVersion: 1}}
}

// GroupSaved defines a group or replaces its definition. Permissions are
// stored by name, so the catalogue may be reordered.
type GroupSaved struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Permissions []string `json:"permissions"`
}

// GroupRemoved removes a group: its tokens admit nobody from then on.
type GroupRemoved struct {
	Name string `json:"name"`
}

func (GroupSaved) EventType() string   { return "PermissionGroupSaved" }
func (GroupRemoved) EventType() string { return "PermissionGroupRemoved" }
func (GroupSaved) groupEvent()         {}
func (GroupRemoved) groupEvent()       {}

// Errors of the groups.
var (
	ErrUnknownPermission = errors.New("unknown permission")
	ErrGroupName         = errors.New("a group name is 2 to 32 lowercase letters, digits or dashes, starting with a letter")
	ErrGroupNotFound     = errors.New("no such group")
	ErrFixedGroup        = errors.New("the admin group always holds every permission")
	ErrAuditorReadOnly   = errors.New("the auditor group may only hold permissions that read, and never credentials.reveal")
	ErrBuiltIn           = errors.New("a default group cannot be removed")
	ErrDescription       = errors.New("a description is at most 200 characters")
)

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,31}$`)

// ValidName reports whether name can name a group (and so a token's role).
func ValidName(name string) bool { return namePattern.MatchString(name) && name != System }

// Groups is the aggregate of every group, rebuilt from the stream.
type Groups struct {
	version uint64
	byName  map[string]Group
}

// NewGroups is the state before any event: the default groups.
func NewGroups() *Groups {
	g := &Groups{byName: map[string]Group{}}
	for _, d := range Defaults() {
		g.byName[d.Name] = d
	}
	return g
}

// Replay rebuilds the groups from their events.
func Replay(events []Event) (*Groups, error) {
	g := NewGroups()
	for _, e := range events {
		if err := g.Apply(e); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// Version is how many events the groups' stream holds.
func (g *Groups) Version() uint64 { return g.version }

// Get returns a group by name.
func (g *Groups) Get(name string) (Group, bool) {
	x, ok := g.byName[name]
	return x, ok
}

// List returns every group, by name.
func (g *Groups) List() []Group {
	out := make([]Group, 0, len(g.byName))
	for _, x := range g.byName {
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Save defines a group or changes its description and permissions. Saving
// what is already there changes nothing (no event).
func (g *Groups) Save(name, description string, perms Set) ([]Event, error) {
	switch {
	case !ValidName(name):
		return nil, fmt.Errorf("%w: %q", ErrGroupName, name)
	case len([]rune(description)) > 200:
		return nil, ErrDescription
	case name == Admin && perms != Every():
		return nil, ErrFixedGroup
	case name == Auditor && perms&^readOnly != 0:
		return nil, fmt.Errorf("%w (not: %s)", ErrAuditorReadOnly, strings.Join((perms&^readOnly).Names(), ", "))
	}
	if old, ok := g.byName[name]; ok && old.Description == description && old.Permissions == perms {
		return nil, nil
	}
	return []Event{GroupSaved{Name: name, Description: description, Permissions: perms.Names()}}, nil
}

// Remove removes a group that is not a default one.
func (g *Groups) Remove(name string) ([]Event, error) {
	old, ok := g.byName[name]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %q", ErrGroupNotFound, name)
	case old.BuiltIn:
		return nil, fmt.Errorf("%w: %q", ErrBuiltIn, name)
	}
	return []Event{GroupRemoved{Name: name}}, nil
}

// Apply changes the state by one event.
func (g *Groups) Apply(e Event) error {
	switch e := e.(type) {
	case GroupSaved:
		perms, err := ParseSet(e.Permissions)
		if err != nil {
			return fmt.Errorf("group %s: %w", e.Name, err)
		}
		old := g.byName[e.Name]
		g.byName[e.Name] = Group{Name: e.Name, Description: e.Description, Permissions: perms, BuiltIn: old.BuiltIn}
	case GroupRemoved:
		delete(g.byName, e.Name)
	default:
		return fmt.Errorf("unknown group event %T", e)
	}
	g.version++
	return nil
}
