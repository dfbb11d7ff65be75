package accessreport

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/fieldservice/customer-service/projections"
)

// Errors of the queries.
var (
	ErrNotReady  = errors.New("the credential-access report is not built yet")
	ErrBadCursor = errors.New("invalid cursor")
	ErrBadFilter = errors.New("invalid filter")
)

// Filter selects entries; zero fields do not filter. From and To bound the
// time, both inclusive.
type Filter struct {
	CustomerID   string
	CredentialID string
	ActorID      string
	From, To     time.Time
	// After is the Next of the page before.
	After string
	// Limit is the page size: default 50, at most 1,000.
	Limit int
}

// Page is a page of entries, newest first. Next, when not empty, continues
// it; a page can be short of Limit and still have a Next when the filters
// had to skip many entries.
type Page struct {
	Entries []Entry
	Next    string
}

// MaxLimit is the largest page.
const MaxLimit = 1000

// scanCap bounds how many entries one call checks against a second filter.
const scanCap = 5000

// pageScript walks one index newest first from a rank, keeping the entries
// that pass the other filters. The index's range is found by rank, so a
// filter on one dimension and a time range cost O(log n) plus the page.
//
// KEYS[1] index. ARGV: prefix of the bucket hashes, cursor member or "",
// from ms or "-inf", to ms or "+inf", limit, scan cap, credential (16 bytes
// or ""), customer (16 bytes or ""), actor id, "1" when the actor filters.
// Returns {next member or "", member, entry, member, entry, …}.
var pageScript = redis.NewScript(`
local key = KEYS[1]
local prefix, cursor, from, to = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local limit, cap = tonumber(ARGV[5]), tonumber(ARGV[6])
local cred, cust, actor, useActor = ARGV[7], ARGV[8], ARGV[9], ARGV[10] == "1"
local start
if cursor ~= '' then
  local r = redis.call('ZREVRANK', key, cursor)
  if not r then return {'!'} end
  start = r + 1
elseif to == '+inf' then
  start = 0
else
  start = redis.call('ZCOUNT', key, '(' .. to, '+inf')
end
local last = redis.call('ZCOUNT', key, from, '+inf') - 1
local out = {''}
local found, scanned, pos = 0, 0, start
local lastSeen = nil
while found < limit and pos <= last and scanned < cap do
  local n = math.min(limit - found, last - pos + 1, cap - scanned)
  if cred ~= '' or cust ~= '' or useActor then n = math.min(last - pos + 1, cap - scanned, 200) end
  local members = redis.call('ZRANGE', key, pos, pos + n - 1, 'REV')
  if #members == 0 then break end
  for _, m in ipairs(members) do
    scanned = scanned + 1
    lastSeen = m
    local b1, b2, b3, b4 = string.byte(m, 1, 4)
    local e = redis.call('HGET', prefix .. string.format('%02x%02x%02x%02x', b1, b2, b3, b4), m)
    local ok = e ~= false
    if ok and cred ~= '' and string.sub(e, 1, 16) ~= cred then ok = false end
    if ok and cust ~= '' and string.sub(e, 17, 32) ~= cust then ok = false end
    if ok and useActor then
      local l = string.byte(e, 42)
      if string.sub(e, 43, 42 + l) ~= actor then ok = false end
    end
    if ok then
      out[#out + 1] = m
      out[#out + 1] = e
      found = found + 1
      if found == limit then break end
    end
  end
  pos = start + scanned
end
if lastSeen and start + scanned <= last then out[1] = lastSeen end
return out
`)

func currentKeys(ctx context.Context, rdb redis.Cmdable) (projections.Keys, error) {
	keys, ok, err := projections.CurrentKeys(ctx, rdb, Name)
	if err != nil {
		return keys, err
	}
	if !ok {
		return keys, ErrNotReady
	}
	return keys, nil
}

// Query answers a page of the report.
func Query(ctx context.Context, rdb redis.Cmdable, f Filter) (Page, error) {
	if f.Limit == 0 {
		f.Limit = 50
	}
	if f.Limit < 1 || f.Limit > MaxLimit {
		return Page{}, fmt.Errorf("%w: limit must be 1 to %d", ErrBadFilter, MaxLimit)
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return Page{}, fmt.Errorf("%w: to is before from", ErrBadFilter)
	}
	var cred, cust [16]byte
	for _, x := range []struct {
		id  string
		dst *[16]byte
	}{{f.CredentialID, &cred}, {f.CustomerID, &cust}} {
		if x.id == "" {
			continue
		}
		u, err := uuid.Parse(x.id)
		if err != nil {
			return Page{}, fmt.Errorf("%w: %q is not an id", ErrBadFilter, x.id)
		}
		*x.dst = u
	}
	cursor := ""
	if f.After != "" {
		b, err := hex.DecodeString(f.After)
		if err != nil || len(b) != 5 {
			return Page{}, ErrBadCursor
		}
		cursor = string(b)
	}
	keys, err := currentKeys(ctx, rdb)
	if err != nil {
		return Page{}, err
	}
	// The most selective index leads; the script checks the others.
	index, custArg, actorArg, useActor := keys.Key("all"), "", "", "0"
	switch {
	case f.CredentialID != "":
		index = keys.Key("k", uuid.UUID(cred).String())
		custArg = ifSet(f.CustomerID, cust)
		actorArg, useActor = f.ActorID, flag(f.ActorID != "")
	case f.CustomerID != "":
		index = keys.Key("c", uuid.UUID(cust).String())
		actorArg, useActor = f.ActorID, flag(f.ActorID != "")
	case f.ActorID != "":
		index = keys.Key("u", f.ActorID)
	}
	res, err := pageScript.Run(ctx, rdb, []string{index}, keys.Key("r", ""), cursor, bound(f.From, "-inf"), bound(f.To, "+inf"),
		f.Limit, scanCap, "", custArg, actorArg, useActor).StringSlice()
	if err != nil {
		return Page{}, fmt.Errorf("access report: %w", err)
	}
	if len(res) == 1 && res[0] == "!" {
		return Page{}, ErrBadCursor
	}
	page := Page{Entries: make([]Entry, 0, (len(res)-1)/2)}
	if res[0] != "" {
		page.Next = hex.EncodeToString([]byte(res[0]))
	}
	for i := 1; i+1 < len(res); i += 2 {
		seq, ok := seqOf(res[i])
		if !ok {
			return Page{}, errMalformed
		}
		e, err := decode(seq, []byte(res[i+1]))
		if err != nil {
			return Page{}, err
		}
		page.Entries = append(page.Entries, e)
	}
	return page, nil
}

func ifSet(id string, u [16]byte) string {
	if id == "" {
		return ""
	}
	return string(u[:])
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func bound(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}
