-- The candidate script: its arguments and reply are described at candidateScript in query.go.
local gen = redis.call('GET', ARGV[3] .. 'gen')
if not gen then return {-1} end
local prefix = ARGV[3] .. gen .. ':'
local meta = redis.call('HMGET', prefix .. 'm', 'top', 'bits')
local top, bits = tonumber(meta[1]), tonumber(meta[2])
local filters, extra = tonumber(ARGV[1]), tonumber(ARGV[2])
local span = top and 2 ^ bits
local function number(s, i) -- the number at index i (from 0) of s
  local a, b, c, d = string.byte(s, i * 4 + 1, i * 4 + 4)
  return ((a * 256 + b) * 256 + c) * 256 + d
end
local function chunk(after, want, grams) -- one chunk's reply: {end, ranges...}
  local bases, order, present = {}, {}, {}
  for _, name in ipairs(grams) do
    bases[#bases + 1] = prefix .. name
    order[#order + 1] = #bases
    present[#present + 1] = redis.call('GET', prefix .. 'p' .. name) or ''
  end
  local out = {0}
  local function everywhere(r) -- every posting has entries in range r (its presence bit is set)
    local at, bit = math.floor(r / 8) + 1, 7 - r % 8
    for i = 1, #present do
      local b = string.byte(present[i], at)
      if not b or math.floor(b / 2 ^ bit) % 2 == 0 then return false end
    end
    return true
  end
  local first = math.floor((after + 1) / span)
  local sized = false -- once one range has sized every posting, later ones size the shortest few
  local sizes = {}
  for r = first, math.floor(top / span) do
    if everywhere(r) then -- else no posting of this range holds every gram: no probe
      local suffix = string.char(math.floor(r / 256), r % 256)
      local names = {}
      local function key(i) -- posting i's key in range r, built once
        local k = names[i]
        if not k then
          k = bases[i] .. suffix
          names[i] = k
        end
        return k
      end
      local n = #order
      if sized then n = math.min(n, 1 + filters) end
      local empty = false
      for j = 1, n do
        local i = order[j]
        sizes[i] = redis.call('STRLEN', key(i)) / 4
        if sizes[i] == 0 then
          -- No candidates in this range. A posting empty here is likely empty in
          -- the next ranges too: size it first there.
          table.remove(order, j)
          table.insert(order, 1, i)
          empty = true
          break
        end
      end
      if not empty then
        local head = {}
        for j = 1, n do head[j] = order[j] end
        table.sort(head, function(a, b) return sizes[a] < sizes[b] end)
        for j = 1, n do order[j] = head[j] end
        sized = true
        local function above(i) -- the index in range r of the first number above after
          local lo, hi = 0, sizes[i]
          if r > first or after == 0 then return 0 end
          while lo < hi do
            local mid = math.floor((lo + hi) / 2)
            if number(redis.call('GETRANGE', key(i), mid * 4, mid * 4 + 3), 0) <= after then lo = mid + 1 else hi = mid end
          end
          return lo
        end
        local driver = order[1]
        local from = above(driver)
        local to = sizes[driver]
        if to - from > 4 * want then to = from + want end
        if from < to then
          local part = redis.call('GETRANGE', key(driver), from * 4, to * 4 - 1)
          local group, stop = {part}, nil
          if to < sizes[driver] then stop = number(part, to - from - 1) end
          local read = to - from
          for j = 2, math.min(#order, 1 + filters) do
            local i = order[j]
            -- Enough of the filter to span the driver's numbers if both are spread
            -- alike, twice over, and extra more; a filter that would need more
            -- than 16 KiB filters little, and is left out with the longer ones.
            local n = math.ceil(2 * read * sizes[i] / sizes[driver]) + extra
            if n > 4096 then break end
            local f = above(i)
            local t = math.min(sizes[i], f + n)
            if f >= t then group, stop = nil, nil break end -- nothing above holds that gram here: the range is done
            local fpart = redis.call('GETRANGE', key(i), f * 4, t * 4 - 1)
            group[#group + 1] = fpart
            if t < sizes[i] then
              local last = number(fpart, t - f - 1)
              if not stop or last < stop then stop = last end
            end
          end
          if group then
            out[#out + 1] = group
            want = want - read
          end
          if stop then out[1] = stop return out end
          if want <= 0 then
            out[1] = math.min(top, (r + 1) * span - 1)
            if out[1] == top then out[1] = 0 end
            return out
          end
        end
      end
    end
  end
  return out
end
local reply = {gen}
local a = 4
while a <= #ARGV do
  local after, want, n = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local grams = {}
  for i = 1, n do grams[i] = ARGV[a + 2 + i] end
  if top then reply[#reply + 1] = chunk(after, want, grams) else reply[#reply + 1] = {0} end
  a = a + 3 + n
end
return reply
