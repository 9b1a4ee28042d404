-- Records one header result; the call that completes the chord publishes the body.
-- KEYS[1] body queue key base
-- ARGV: id, index, resultJson
-- Returns 'complete', 'waiting', 'duplicate' or 'gone'.
local key = K_CHORD .. ARGV[1]
if redis.call('EXISTS', key) == 0 then return 'gone' end
if redis.call('HSETNX', key, 'r:' .. ARGV[2], ARGV[3]) == 0 then return 'duplicate' end
local n = redis.call('HINCRBY', key, 'n', 1)
local size = tonumber(redis.call('HGET', key, 'size'))
if n < size then return 'waiting' end
local c = redis.call('HMGET', key, 'size', 'prio', 'insert', 'head', 'tail')
local raw = c[4]
if c[3] == '1' then
  -- the results in header order, read 1000 fields per HMGET
  local parts = {}
  for from = 0, size - 1, 1000 do
    local fields = {}
    for i = from, math.min(from + 999, size - 1) do fields[#fields + 1] = 'r:' .. i end
    local vals = redis.call('HMGET', key, unpack(fields))
    for j = 1, #fields do parts[#parts + 1] = vals[j] end
  end
  raw = c[4] .. '[' .. table.concat(parts, ',') .. ']' .. c[5]
end
redis.call('RPUSH', K_READY .. c[2], raw)
wake()
redis.call('DEL', key)
return 'complete'
