-- Runs one tick of a periodic schedule, exactly once: records the tick as the
-- schedule's last run and publishes its message in one atomic step.
-- KEYS[1] the schedule's queue key base (the message goes to that queue)
-- ARGV[1] name, ARGV[2] rev the caller computed the tick from, ARGV[3] tick (ms),
-- ARGV[4] message id, ARGV[5] priority, ARGV[6] raw message
-- Returns 'published', 'duplicate' (tick not after since / the last run), 'stale'
-- (the schedule changed: reload), 'paused' or 'gone'.
local k = base .. 'beat:' .. ARGV[1]
local s = redis.call('HMGET', k, 'rev', 'paused', 'since', 'last')
if not s[1] then return 'gone' end
if s[1] ~= ARGV[2] then return 'stale' end
if s[2] == '1' then return 'paused' end
local tick = tonumber(ARGV[3])
if tick <= tonumber(s[3]) or (s[4] and tick <= tonumber(s[4])) then return 'duplicate' end
redis.call('HSET', k, 'last', ARGV[3], 'lastId', ARGV[4])
redis.call('RPUSH', K_READY .. ARGV[5], ARGV[6])
wake()
return 'published'
