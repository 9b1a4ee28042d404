-- Reserves the next start slot of a rate-limited task: starts are spaced by
-- interval / limit, so no window of the interval holds more than `limit`.
-- Uses the server's clock, so every worker agrees on it.
-- KEYS[1] the task's rate key
-- ARGV: spacingMs (interval / limit)
-- Returns how many ms from now the slot is (0: start now).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local spacing = tonumber(ARGV[1])
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = next_free
if slot < now then slot = now end
redis.call('SET', KEYS[1], slot + spacing, 'PX', math.ceil(slot + spacing - now) + 1000)
return math.ceil(slot - now)
