-- Pauses or resumes a periodic schedule.
-- KEYS[1] the schedule's queue key base
-- ARGV[1] name, ARGV[2] '1' to pause or '0' to resume, ARGV[3] now (ms), ARGV[4] new revision token
-- Resuming sets since = now: ticks that fell due while paused are not run.
-- Returns 0 when the schedule does not exist, 1 when unchanged, 2 when changed.
local k = base .. 'beat:' .. ARGV[1]
local cur = redis.call('HGET', k, 'paused')
if not cur then return 0 end
if cur == ARGV[2] then return 1 end
if ARGV[2] == '0' then redis.call('HSET', k, 'since', ARGV[3]) end
redis.call('HSET', k, 'paused', ARGV[2])
redis.call('HSET', k, 'rev', ARGV[4])
return 2
