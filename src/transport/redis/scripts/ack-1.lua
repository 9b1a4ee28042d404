-- Acknowledges held messages: removes each, stores its final record, wakes its
-- waiters; then, when max > 0, reserves the next messages in the same call.
-- KEYS[1] queue key base
-- ARGV: n, then n triples (id, record ('' = delete the result), resultTtlMs),
--       then now, max, startCount, leaseMs, workerId, maxRedeliveries, reserveTtl, deadCap
-- Returns the reserve reply, or false when max is 0.
local n = tonumber(ARGV[1])
local any_redeliv = redis.call('EXISTS', K_REDELIV) == 1
for i = 0, n - 1 do
  local id = ARGV[2 + i * 3]
  drop_held(id)
  if any_redeliv then redis.call('HDEL', K_REDELIV, id) end
  store_final(id, ARGV[3 + i * 3], tonumber(ARGV[4 + i * 3]))
end
local a = 2 + n * 3
local max = tonumber(ARGV[a + 1])
if max > 0 then
  return reserve(tonumber(ARGV[a]), max, tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), ARGV[a + 4], tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7]))
end
return false
