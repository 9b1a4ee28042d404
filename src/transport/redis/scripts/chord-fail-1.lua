-- Fails a chord: the body never runs; its FAILURE record is stored and published.
-- KEYS[1] body queue key base
-- ARGV: id, recordPrefix (the record JSON without its opening brace and id), resultTtlMs
-- Returns the body's message (with null for the header results it would have
-- received), or false when the chord is gone.
local key = K_CHORD .. ARGV[1]
local c = redis.call('HMGET', key, 'body', 'insert', 'head', 'tail')
if not c[1] then return false end
redis.call('DEL', key)
store_final(c[1], '{"id":"' .. c[1] .. '",' .. ARGV[2], tonumber(ARGV[3]))
if c[2] == '1' then return c[3] .. 'null' .. c[4] end
return c[3]
