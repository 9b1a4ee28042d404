-- Replaces a held message by its next attempt and stores the RETRY record.
-- KEYS[1] queue key base
-- ARGV: id, record, resultTtlMs, newRaw, priority, dueAt, now
local id = ARGV[1]
drop_held(id)
redis.call('HDEL', K_REDELIV, id)
store(id, ARGV[2], tonumber(ARGV[3]))
local due, now = tonumber(ARGV[6]), tonumber(ARGV[7])
if due > now then
  local first = redis.call('ZRANGE', K_DELAYED, 0, 0, 'WITHSCORES')
  redis.call('ZADD', K_DELAYED, due, id)
  redis.call('HSET', K_DMSG, id, ARGV[4])
  if first[2] == nil or due < tonumber(first[2]) then wake() end
else
  redis.call('RPUSH', K_READY .. ARGV[5], ARGV[4])
  wake()
end
return 1
