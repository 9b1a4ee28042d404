-- Acknowledges a held message: removes it, stores its final record, wakes waiters;
-- then, when ARGV[5] (max) > 0, reserves the next messages in the same call.
-- KEYS[1] queue key base
-- ARGV: id, record ('' = delete the result), resultTtlMs, now, max, startCount, leaseMs, workerId, maxRedeliveries, reserveTtl, deadCap
-- Returns the reserve reply, or false when max is 0.
local id = ARGV[1]
drop_held(id)
redis.call('HDEL', K_REDELIV, id)
store_final(id, ARGV[2], tonumber(ARGV[3]))
local max = tonumber(ARGV[5])
if max > 0 then
  return reserve(tonumber(ARGV[4]), max, tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]))
end
return false
