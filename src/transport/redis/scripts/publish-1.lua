-- Publishes messages to one queue.
-- KEYS[1] queue key base
-- ARGV[1] now (ms); then triples: id, priority, dueAt (0 = now), raw
-- Returns the number published.
local now = tonumber(ARGV[1])
local n = 0
local woke = false
for i = 2, #ARGV, 4 do
  local id, prio, due, raw = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  if due > now then
    local first = redis.call('ZRANGE', K_DELAYED, 0, 0, 'WITHSCORES')
    redis.call('ZADD', K_DELAYED, due, id)
    redis.call('HSET', K_DMSG, id, raw)
    -- wake a sleeping worker when this is due before whatever it sleeps for
    if not woke and (first[2] == nil or due < tonumber(first[2])) then wake(); woke = true end
  else
    redis.call('RPUSH', K_READY .. prio, raw)
    if not woke then wake(); woke = true end
  end
  n = n + 1
end
return n
