-- Replays or deletes parked entries (dead letters or rejected messages) of one queue.
-- Replay moves each entry's message back to the end of its ready list (by its
-- priority) as a fresh delivery: its retry count reset to 0 ("retries":0, so it
-- gets its whole retry budget again), its `expires` dropped (the operator asked
-- for it to run now), its redelivery count and its stored result (FAILURE)
-- cleared, so it reads PENDING until it runs again; idle workers are woken.
-- Oldest entries go first. Entries are matched by id; 'all' takes every entry,
-- those without an id (unparsable messages) included.
-- KEYS[1] queue key base
-- ARGV: op ('replay' | 'delete'), kind ('dead' | 'rejected'), mode ('all' | 'ids'), ids...
-- Returns the number of entries replayed or deleted.
local op, kind, mode = ARGV[1], ARGV[2], ARGV[3]
local key = K_DEAD
if kind == 'rejected' then key = K_REJECTED end
local wanted = {}
for i = 4, #ARGV do wanted[ARGV[i]] = true end
local entries = redis.call('LRANGE', key, 0, -1)
local kept = {}
local n = 0
local woke = false
-- newest first in the list: walk from the end to replay the oldest first
for i = #entries, 1, -1 do
  local entry = entries[i]
  local ok, e = pcall(cjson.decode, entry)
  local id = nil
  if ok and type(e) == 'table' and type(e.id) == 'string' then id = e.id end
  if mode == 'all' or (id ~= nil and wanted[id]) then
    n = n + 1
    if op == 'replay' and ok and type(e) == 'table' and type(e.raw) == 'string' then
      local raw = e.raw
      local h = head(raw)
      local rest = string.sub(raw, #h + 1)
      h = string.gsub(h, ',"retries":%d+,', ',"retries":0,', 1)
      h = string.gsub(h, ',"expires":%d+,', ',', 1)
      raw = h .. rest
      redis.call('RPUSH', K_READY .. msg_priority(h), raw)
      if id ~= nil then
        redis.call('DEL', K_RESULT .. id)
        redis.call('HDEL', K_REDELIV, id)
      end
      if not woke then wake(); woke = true end
    end
  else
    table.insert(kept, 1, entry)
  end
end
if n > 0 then
  redis.call('DEL', key)
  for i = 1, #kept, 500 do
    redis.call('RPUSH', key, unpack(kept, i, math.min(i + 499, #kept)))
  end
end
return n
