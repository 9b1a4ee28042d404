-- Beat heartbeat and leader lease.
-- KEYS[1] the beat key base, "<prefix>:{@beat}:"
-- ARGV[1] 'lease' or 'release', ARGV[2] beat id, ARGV[3] lease ms, ARGV[4] now (ms),
-- ARGV[5] heartbeat JSON, ARGV[6] '1' to campaign for the lease, ARGV[7] heartbeat TTL ms
-- Returns { 1 when this beat holds the lease else 0, leader id or '', version }.
local K_LEADER = base .. 'leader'        -- STRING id of the leader, PX lease
local K_HEARTBEAT = base .. 'heartbeat'  -- STRING the leader's heartbeat JSON, PX heartbeat TTL
local K_BEATS = base .. 'beats'          -- HASH id -> heartbeat JSON
local K_SEEN = base .. 'seen'            -- ZSET id -> last heartbeat ms
local K_VERSION = base .. 'version'      -- STRING counter of schedule changes
local id = ARGV[2]
if ARGV[1] == 'release' then
  if redis.call('GET', K_LEADER) == id then
    redis.call('DEL', K_LEADER)
    redis.call('DEL', K_HEARTBEAT)
  end
  redis.call('HDEL', K_BEATS, id)
  redis.call('ZREM', K_SEEN, id)
  return { 0, redis.call('GET', K_LEADER) or '', tonumber(redis.call('GET', K_VERSION) or '0') }
end
local now = tonumber(ARGV[4])
local ttl = tonumber(ARGV[7])
local leader = 0
if ARGV[6] == '1' then
  local cur = redis.call('GET', K_LEADER)
  if not cur then
    redis.call('SET', K_LEADER, id, 'PX', ARGV[3])
    leader = 1
  elseif cur == id then
    redis.call('PEXPIRE', K_LEADER, ARGV[3])
    leader = 1
  end
end
if leader == 1 or ARGV[6] ~= '1' then redis.call('SET', K_HEARTBEAT, ARGV[5], 'PX', ttl) end
redis.call('HSET', K_BEATS, id, ARGV[5])
redis.call('ZADD', K_SEEN, now, id)
-- forget beats not heard from within the heartbeat TTL (bounded per call)
local gone = redis.call('ZRANGEBYSCORE', K_SEEN, '-inf', now - ttl, 'LIMIT', 0, 100)
for _, old in ipairs(gone) do
  redis.call('HDEL', K_BEATS, old)
  redis.call('ZREM', K_SEEN, old)
end
return { leader, redis.call('GET', K_LEADER) or '', tonumber(redis.call('GET', K_VERSION) or '0') }
