/**
 * The two Lua scripts of the Celery protocol mode. Every other transition is
 * one of the shared scripts (scripts/*.lua) on our own keys. These two move a
 * message from kombu's lists into our keys without a window where a crash
 * loses it: `take` moves it into an inbox (with a claim deadline), the worker
 * converts it, and `admit` replaces it, exactly once, by our message.
 *
 * Key suffixes mirror keys.ts and celery-keys.ts.
 */

/**
 * KEYS[1] queue key base; KEYS[2..] the queue's kombu lists, most urgent first.
 * ARGV now, max, claimMs.
 * Returns { tag, envelope, ... }: entries whose taker died first, then fresh ones.
 */
export const TAKE_LUA = `
local base = KEYS[1]
local K_IN, K_INL = base .. 'celery:in', base .. 'celery:inl'
local now, max, claim = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out, n = {}, 0
for _, tag in ipairs(redis.call('ZRANGEBYSCORE', K_INL, '-inf', now, 'LIMIT', 0, max)) do
  local raw = redis.call('HGET', K_IN, tag)
  if raw then
    redis.call('ZADD', K_INL, now + claim, tag)
    out[#out + 1] = tag; out[#out + 1] = raw; n = n + 1
  else
    redis.call('ZREM', K_INL, tag)
  end
end
for i = 2, #KEYS do
  while n < max do
    local raw = redis.call('RPOP', KEYS[i])
    if not raw then break end
    local ok, env = pcall(cjson.decode, raw)
    local tag
    if ok and type(env) == 'table' and type(env.properties) == 'table' and type(env.properties.delivery_tag) == 'string' then
      tag = env.properties.delivery_tag
    else
      tag = redis.sha1hex(raw)
    end
    if redis.call('HEXISTS', K_IN, tag) == 1 then tag = tag .. ':' .. redis.sha1hex(raw .. now .. n) end
    redis.call('HSET', K_IN, tag, raw)
    redis.call('ZADD', K_INL, now + claim, tag)
    out[#out + 1] = tag; out[#out + 1] = raw; n = n + 1
  end
end
return out
`;

/**
 * KEYS[1] queue key base.
 * ARGV now, parkedCap, then quintuples: tag, id, priority, dueAt (0 now, -1 park), raw
 * (our message, or the parked entry). An entry already admitted by another
 * worker (its claim had run out) is skipped.
 * Returns the number admitted.
 */
export const ADMIT_LUA = `
local base = KEYS[1]
local K_IN, K_INL = base .. 'celery:in', base .. 'celery:inl'
local K_READY, K_DELAYED, K_DMSG, K_WAKE, K_REJECTED = base .. 'ready:', base .. 'delayed', base .. 'dmsg', base .. 'wake', base .. 'rejected'
local now, cap = tonumber(ARGV[1]), tonumber(ARGV[2])
local n = 0
for i = 3, #ARGV, 5 do
  local tag, id, prio, due, raw = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), ARGV[i + 4]
  if redis.call('ZREM', K_INL, tag) == 1 then
    redis.call('HDEL', K_IN, tag)
    if due < 0 then
      redis.call('LPUSH', K_REJECTED, raw)
      redis.call('LTRIM', K_REJECTED, 0, cap - 1)
    elseif due > now then
      redis.call('ZADD', K_DELAYED, due, id)
      redis.call('HSET', K_DMSG, id, raw)
    else
      redis.call('RPUSH', K_READY .. prio, raw)
    end
    n = n + 1
  end
end
return n
`;

/**
 * Publish-if-absent on kombu's lists (the outbox relay's `onceTtlMs`).
 * KEYS: pairs of (once key, kombu list); ARGV[1] once TTL ms, then one envelope per pair.
 * A message whose id was published with a once TTL before (within it) is skipped.
 */
export const PUBLISH_ONCE_LUA = `
local ttl = tonumber(ARGV[1])
local n = 0
for i = 1, #KEYS, 2 do
  if redis.call('SET', KEYS[i], '1', 'NX', 'PX', ttl) then
    redis.call('LPUSH', KEYS[i + 1], ARGV[(i + 1) / 2 + 1])
    n = n + 1
  end
end
return n
`;
