-- Records one header result; the call that completes the chord publishes the body.
-- KEYS[1] body queue key base
-- ARGV: id, index, resultJson
-- Returns 'complete', 'waiting', 'duplicate' or 'gone'.
local key = K_CHORD .. ARGV[1]
if redis.call('EXISTS', key) == 0 then return 'gone' end
if redis.call('HSETNX', key, 'r:' .. ARGV[2], ARGV[3]) == 0 then return 'duplicate' end
local n = redis.call('HINCRBY', key, 'n', 1)
local c = redis.call('HMGET', key, 'size', 'prio', 'insert', 'head', 'tail')
local size = tonumber(c[1])
if n < size then return 'waiting' end
local raw = c[4]
if c[3] == '1' then
  local parts = {}
  for i = 0, size - 1 do parts[i + 1] = redis.call('HGET', key, 'r:' .. i) end
  raw = c[4] .. '[' .. table.concat(parts, ',') .. ']' .. c[5]
end
redis.call('RPUSH', K_READY .. c[2], raw)
wake()
redis.call('DEL', key)
return 'complete'
