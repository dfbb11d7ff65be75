package commands

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fieldservice/customer-service/codec"
	"github.com/fieldservice/customer-service/domain/permission"
	"github.com/fieldservice/customer-service/eventstore"
)

// SaveGroup defines a permission group or replaces its definition.
type SaveGroup struct {
	Meta        Meta
	Name        string
	Description string
	Permissions permission.Set
	// SeenVersion is the groups' version the caller saw (If-Match); 0 skips the check.
	SeenVersion uint64
}

// RemoveGroup removes a group that is not a default one.
type RemoveGroup struct {
	Meta        Meta
	Name        string
	SeenVersion uint64
}

// GroupsResult is the groups' version after a change.
type GroupsResult struct {
	Version  uint64
	Position eventstore.Position
}

// GroupsHandler changes the permission groups and answers what a group may
// do. Every request asks the latter, so the groups are cached: a change made
// through this instance holds from its next request, one made through
// another within GroupsTTL.
type GroupsHandler struct {
	d *deps

	mu      sync.Mutex
	groups  *permission.Groups
	head    codec.Head
	fetched time.Time
}

// Groups returns the groups as they stand.
func (h *GroupsHandler) Groups(ctx context.Context) (*permission.Groups, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.groups != nil && time.Since(h.fetched) < h.d.cfg.GroupsTTL {
		return h.groups, nil
	}
	g, head, err := h.load(ctx)
	if err != nil {
		return nil, err
	}
	h.groups, h.head, h.fetched = g, head, time.Now()
	return g, nil
}

// Permissions is what the group named role grants; false when no such group
// exists (it was removed: its tokens admit nobody).
func (h *GroupsHandler) Permissions(ctx context.Context, role string) (permission.Set, bool, error) {
	if role == permission.System {
		return permission.Every(), true, nil
	}
	g, err := h.Groups(ctx)
	if err != nil {
		return 0, false, err
	}
	grp, ok := g.Get(role)
	return grp.Permissions, ok, nil
}

func (h *GroupsHandler) load(ctx context.Context) (*permission.Groups, codec.Head, error) {
	var events []permission.Event
	head, err := h.d.repo.read(ctx, permission.Stream.Name(""), eventstore.ReadOptions{},
		func(e codec.Event, rec eventstore.RecordedEvent, _ codec.Metadata) error {
			ge, ok := e.(permission.Event)
			if !ok {
				return fmt.Errorf("%s is not a permission group event", rec.Type)
			}
			events = append(events, ge)
			return nil
		})
	if err != nil {
		return nil, head, fmt.Errorf("load permission groups: %w", err)
	}
	g, err := permission.Replay(events)
	return g, head, err
}

// Save defines or redefines a group. Only actors holding groups.manage may.
func (h *GroupsHandler) Save(ctx context.Context, cmd SaveGroup) (GroupsResult, error) {
	return h.change(ctx, cmd.Meta, cmd.SeenVersion, func(g *permission.Groups) ([]permission.Event, error) {
		return g.Save(cmd.Name, cmd.Description, cmd.Permissions)
	})
}

// Remove removes a group.
func (h *GroupsHandler) Remove(ctx context.Context, cmd RemoveGroup) (GroupsResult, error) {
	return h.change(ctx, cmd.Meta, cmd.SeenVersion, func(g *permission.Groups) ([]permission.Event, error) {
		return g.Remove(cmd.Name)
	})
}

func (h *GroupsHandler) change(ctx context.Context, meta Meta, seen uint64, decide func(*permission.Groups) ([]permission.Event, error)) (GroupsResult, error) {
	if err := meta.authorize(permission.GroupsManage); err != nil {
		return GroupsResult{}, err
	}
	g, head, err := h.load(ctx)
	if err != nil {
		return GroupsResult{}, err
	}
	if seen != 0 && seen != g.Version() {
		return GroupsResult{}, &StaleVersionError{Record: "permission groups", Expected: seen, Actual: g.Version()}
	}
	events, err := decide(g)
	if err != nil || len(events) == 0 {
		return GroupsResult{Version: g.Version()}, err
	}
	stored := make([]codec.Event, len(events))
	for i, e := range events {
		stored[i] = e
	}
	_, ar, err := h.d.repo.append(ctx, codec.Batch{Stream: permission.Stream.Name(""), Head: head}, meta.metadata(h.d.cfg.Clock()), stored...)
	if errors.Is(err, eventstore.ErrWrongVersion) {
		return GroupsResult{}, fmt.Errorf("permission groups: %w: %w", ErrConflict, err)
	}
	if err != nil {
		return GroupsResult{}, err
	}
	h.mu.Lock()
	h.groups = nil // the next request reads the change
	h.mu.Unlock()
	return GroupsResult{Version: ar.Version, Position: ar.Position}, nil
}
