-- Creates or updates a periodic schedule (its state lives with its queue).
-- KEYS[1] the schedule's queue key base
-- ARGV[1] name, ARGV[2] definition JSON, ARGV[3] timing key (every / cron / timezone),
-- ARGV[4] now (ms), ARGV[5] paused when created ('1' or '0'), ARGV[6] new revision token
-- A changed timing sets since = now; an unchanged definition is left as it is.
-- Returns { changed (0/1), rev, since, paused, last, lastId }.
local k = base .. 'beat:' .. ARGV[1]
local cur = redis.call('HMGET', k, 'def', 'spec', 'rev')
local changed = 1
if cur[3] then
  if cur[1] == ARGV[2] and cur[2] == ARGV[3] then
    changed = 0
  else
    if cur[2] ~= ARGV[3] then redis.call('HSET', k, 'since', ARGV[4]) end
    redis.call('HSET', k, 'def', ARGV[2], 'spec', ARGV[3])
    redis.call('HSET', k, 'rev', ARGV[6])
  end
else
  redis.call('HSET', k, 'def', ARGV[2], 'spec', ARGV[3], 'since', ARGV[4], 'paused', ARGV[5], 'rev', ARGV[6])
end
local s = redis.call('HMGET', k, 'rev', 'since', 'paused', 'last', 'lastId')
return { changed, s[1], s[2], s[3], s[4], s[5] }
