package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fieldservice/customer-service/commands"
	"github.com/fieldservice/customer-service/domain/permission"
	"github.com/fieldservice/customer-service/projections/search"
)

// searchItem is one search result: a customer at one of its addresses.
type searchItem struct {
	CustomerID   string   `json:"customer_id"`
	Number       int64    `json:"number"`
	DisplayName  string   `json:"display_name"`
	Kind         string   `json:"kind"`
	Archived     bool     `json:"archived"`
	Email        string   `json:"email,omitempty"`
	Phone        string   `json:"phone,omitempty"`
	Address      *address `json:"address,omitempty"`
	AddressIndex *int     `json:"address_index,omitempty"`
	// MatchedField names what matched (name, email, phone, street), Match how
	// well (exact, prefix, infix): the order of the results.
	MatchedField string `json:"matched_field"`
	Match        string `json:"match"`
	// CreditHold is set while the customer is on credit hold.
	CreditHold *holdBody `json:"credit_hold,omitempty"`
}

type searchPage struct {
	Query string       `json:"query"`
	Items []searchItem `json:"items"`
	Next  string       `json:"next,omitempty"`
}

func (s *server) search(c *gin.Context) {
	req := search.Request{Query: c.Query("q"), After: c.Query("after")}
	err := unknownParams(c, "q", "include_archived", "after", "limit", "min_position")
	if err == nil {
		req.Limit, err = queryLimit(c)
	}
	var archived *bool
	if err == nil {
		archived, err = queryBool(c, "include_archived")
	}
	if err == nil {
		err = s.minPosition(c, s.cfg.Search)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	req.IncludeArchived = archived != nil && *archived
	res, err := search.Search(c, s.cfg.Redis, req)
	if err != nil {
		_ = c.Error(err)
		return
	}
	page := searchPage{Query: req.Query, Items: make([]searchItem, 0, len(res.Entries)), Next: res.Next}
	for _, e := range res.Entries {
		it := searchItem{CustomerID: e.CustomerID, Number: e.Number, DisplayName: e.DisplayName, Kind: e.Kind.String(),
			Archived: e.Archived, Email: e.Email, Phone: e.Phone,
			MatchedField: string(e.Field), Match: e.Class.String()}
		if e.Address != nil {
			a := address(*e.Address)
			it.Address = &a
		}
		if e.AddressIndex >= 0 {
			it.AddressIndex = &e.AddressIndex
		}
		page.Items = append(page.Items, it)
	}
	ids := make([]string, len(page.Items))
	for i, it := range page.Items {
		ids[i] = it.CustomerID
	}
	holds, err := s.holds(c, ids)
	if err != nil {
		_ = c.Error(err)
		return
	}
	for i := range page.Items {
		page.Items[i].CreditHold = holds[page.Items[i].CustomerID]
	}
	respond(c, http.StatusOK, page)
}

// historyEvent is one event of a customer's history, as an auditor reads it.
type historyEvent struct {
	Version    uint64    `json:"version"`
	Position   string    `json:"position"`
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurred_at"`
	RecordedAt time.Time `json:"recorded_at"`
	Actor      actorBody `json:"actor"`
	// Data is the event's payload; its personal fields are empty once erased.
	Data          json.RawMessage `json:"data,omitempty"`
	Erased        bool            `json:"erased,omitempty"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	Hash          string          `json:"hash"`
	PrevHash      string          `json:"prev_hash"`
	// Changes is what the event changed, field by field: old → new.
	Changes []changeBody `json:"changes"`
}

// changeBody is one field an event changed. Personal values are shown only
// to groups that may view customers; to others the field is named, masked.
type changeBody struct {
	Field    string          `json:"field"`
	Old      json.RawMessage `json:"old,omitempty"`
	New      json.RawMessage `json:"new,omitempty"`
	Personal bool            `json:"personal,omitempty"`
	Masked   bool            `json:"masked,omitempty"`
}

type historyPage struct {
	CustomerID string         `json:"customer_id"`
	Events     []historyEvent `json:"events"`
}

// history answers a customer's events from the record itself (the event store).
func (s *server) history(c *gin.Context) {
	id, err := customerID(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	events, err := s.cfg.App.CustomerHistory.Handle(c, commands.CustomerHistory{CustomerID: id})
	if err != nil {
		_ = c.Error(err)
		return
	}
	page := historyPage{CustomerID: id, Events: make([]historyEvent, 0, len(events))}
	seesPersonal := actorOf(c).Can(permission.CustomersView)
	for _, e := range events {
		var data json.RawMessage
		if seesPersonal { // the payload holds personal values
			if data, err = json.Marshal(e.Event); err != nil {
				_ = c.Error(err)
				return
			}
		}
		changes := make([]changeBody, 0, len(e.Changes))
		for _, ch := range e.Changes {
			b := changeBody{Field: ch.Field, Old: ch.Old, New: ch.New, Personal: ch.Personal}
			if ch.Personal && !seesPersonal {
				b.Old, b.New, b.Masked = nil, nil, true
			}
			changes = append(changes, b)
		}
		page.Events = append(page.Events, historyEvent{Version: e.Version, Position: e.Position.String(), Type: e.Type,
			OccurredAt: e.OccurredAt, RecordedAt: e.RecordedAt,
			Actor: actorBody{ID: e.Actor.ID, Name: e.Actor.Name, Role: e.Actor.Role.String()},
			Data:  data, Erased: e.Erased, CorrelationID: e.CorrelationID, Hash: e.Hash.String(), PrevHash: e.PrevHash.String(),
			Changes: changes})
	}
	respond(c, http.StatusOK, page)
}
