-- Publishes messages to one queue.
-- KEYS[1] queue key base
-- ARGV[1] now (ms); ARGV[2] once TTL (ms; 0 = off); then quadruples: id, priority, dueAt (0 = now), raw
-- With a once TTL, a message whose id was published with one before (within
-- the TTL) is skipped: publishing the same id twice puts it in the queue once.
-- A unique task (its head has "uniqueKey") is enqueued only if no task holds its
-- key: SET NX of the key to its id, with its uniqueTtl; otherwise it is skipped
-- and the id holding the key is returned for it.
-- Returns { number published, { skipped id, id holding its key, ... } }.
local now = tonumber(ARGV[1])
local once = tonumber(ARGV[2])
local K_PUB = base .. 'pub:'         -- STRING per id published with a once TTL
local n = 0
local woke = false
local dupes = {}
for i = 3, #ARGV, 4 do
  local id, prio, due, raw = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  local uk = nil
  local h = head(raw)
  if string.find(h, '"uniqueKey":"', 1, true) then uk = unique_of(h) end
  local holder = nil
  local uttl = tonumber(string.match(h, '"uniqueTtl":(%d+)') or '0')
  if uk and uttl > 0 and not redis.call('SET', K_UNIQ .. uk, id, 'NX', 'PX', uttl) then
    holder = redis.call('GET', K_UNIQ .. uk)
  end
  if holder then
    table.insert(dupes, id); table.insert(dupes, holder)
  elseif once > 0 and not redis.call('SET', K_PUB .. id, '1', 'NX', 'PX', once) then
    -- published before: skip
  elseif due > now then
    local first = redis.call('ZRANGE', K_DELAYED, 0, 0, 'WITHSCORES')
    redis.call('ZADD', K_DELAYED, due, id)
    redis.call('HSET', K_DMSG, id, raw)
    -- wake a sleeping worker when this is due before whatever it sleeps for
    if not woke and (first[2] == nil or due < tonumber(first[2])) then wake(); woke = true end
    n = n + 1
  else
    redis.call('RPUSH', K_READY .. prio, raw)
    if not woke then wake(); woke = true end
    n = n + 1
  end
end
return { n, dupes }
