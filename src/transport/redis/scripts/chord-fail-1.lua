-- Fails a chord: the body never runs; its FAILURE record is stored and published.
-- KEYS[1] body queue key base
-- ARGV: id, recordPrefix (the record JSON without its closing brace and id), resultTtlMs
-- Returns the downstream JSON, or false when the chord is gone.
local key = K_CHORD .. ARGV[1]
local c = redis.call('HMGET', key, 'body', 'down')
if not c[1] then return false end
redis.call('DEL', key)
store_final(c[1], '{"id":"' .. c[1] .. '",' .. ARGV[2], tonumber(ARGV[3]))
return c[2]
