package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/permission"
)

// The permission groups: what each group may do, changed by admins, every
// change an event. Tokens name their group as their role.

type groupBody struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Permissions []string `json:"permissions"`
	BuiltIn     bool     `json:"built_in"`
}

type groupInput struct {
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
}

type groupsBody struct {
	Version uint64      `json:"version"`
	Groups  []groupBody `json:"groups"`
	// Permissions is the catalogue a group can grant.
	Permissions []string `json:"permissions"`
}

func groupOf(g permission.Group) groupBody {
	return groupBody{Name: g.Name, Description: g.Description, Permissions: g.Permissions.Names(), BuiltIn: g.BuiltIn}
}

func (s *server) listGroups(c *gin.Context) {
	gs, err := s.cfg.App.Groups.Groups(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	body := groupsBody{Version: gs.Version(), Permissions: permission.Every().Names()}
	for _, g := range gs.List() {
		body.Groups = append(body.Groups, groupOf(g))
	}
	c.Header("ETag", etag(gs.Version()))
	respond(c, http.StatusOK, body)
}

func (s *server) saveGroup(c *gin.Context) {
	var in groupInput
	seen, err := ifMatch(c, false)
	var m commands.Meta
	if err == nil {
		m, err = meta(c)
	}
	if err == nil {
		err = decodeBody(c.Request, c.Writer, s.cfg.MaxBody, &in, false)
	}
	var perms permission.Set
	if err == nil {
		if in.Permissions == nil {
			err = invalid(FieldProblem{Field: "permissions", Message: "is required: the list of permissions the group grants (it may be empty)"})
		} else if perms, err = permission.ParseSet(in.Permissions); err != nil {
			err = invalid(FieldProblem{Field: "permissions", Message: err.Error()})
		}
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	res, err := s.cfg.App.Groups.Save(c, commands.SaveGroup{Meta: m, Name: c.Param("name"), Description: in.Description,
		Permissions: perms, SeenVersion: seen})
	s.answerGroups(c, res, err, true)
}

func (s *server) removeGroup(c *gin.Context) {
	seen, err := ifMatch(c, false)
	var m commands.Meta
	if err == nil {
		m, err = meta(c)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	res, err := s.cfg.App.Groups.Remove(c, commands.RemoveGroup{Meta: m, Name: c.Param("name"), SeenVersion: seen})
	s.answerGroups(c, res, err, false)
}

// answerGroups answers a change with the group as it now stands (or 204 for
// a removal), the groups' version as the ETag.
func (s *server) answerGroups(c *gin.Context, res commands.GroupsResult, err error, withGroup bool) {
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("ETag", etag(res.Version))
	if !withGroup {
		c.Status(http.StatusNoContent)
		return
	}
	gs, err := s.cfg.App.Groups.Groups(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	g, _ := gs.Get(c.Param("name"))
	respond(c, http.StatusOK, groupOf(g))
}
