-- Shared helpers, prepended to every script by scripts/gen-lua.mjs.
-- KEYS[1] is the queue's key base, "<prefix>:{<queue>}:"; every key a script
-- touches is that base plus a suffix, so all of them share one hash slot.
local base = KEYS[1]
local K_READY = base .. 'ready:'     -- LIST per priority 0..9 of raw messages
local K_DELAYED = base .. 'delayed'  -- ZSET id -> due ms
local K_DMSG = base .. 'dmsg'        -- HASH id -> raw (delayed messages)
local K_ACTIVE = base .. 'active'    -- HASH id -> raw (reserved messages)
local K_LEASES = base .. 'leases'    -- ZSET id -> lease expiry ms
local K_WAKE = base .. 'wake'        -- LIST of at most one token, BLPOPed by idle workers
local K_REVOKED = base .. 'revoked'  -- ZSET id -> expiry ms of the revocation
local K_DEAD = base .. 'dead'        -- LIST of dead-lettered entries (capped)
local K_REJECTED = base .. 'rejected' -- LIST of parked malformed messages (capped)
local K_REDELIV = base .. 'redeliv'  -- HASH id -> redeliveries after lost leases
local K_RESULT = base .. 'r:'        -- STRING result record per id
local K_CHORD = base .. 'chord:'     -- HASH per chord: size, body template, results r:<index>
-- Where a final record is announced: PUBLISH on '<prefix>:done:<id>', whatever the queue. On Redis
-- Cluster the transport swaps these two lines (redis.transport.ts, clusterScript) for SPUBLISH on
-- '<prefix>:{<queue>}:done:<id>', a channel in the queue's own slot (sharded pub/sub, Redis 7).
local K_DONE = string.sub(base, 1, (string.find(base, ':{', 1, true) or 0)) .. 'done:'
local PUBLISH = 'PUBLISH'

-- The fixed part of a message: everything before the first structural ,"args":
local function head(raw)
  local pos = string.find(raw, ',"args":', 1, true)
  if pos then return string.sub(raw, 1, pos) end
  return raw
end

local function msg_id(raw)
  local id = string.match(raw, '^{"id":"([^"\\]+)"')
  if id then return id end
  return 'unparsed:' .. redis.sha1hex(raw)
end

local function msg_priority(h)
  local p = tonumber(string.match(h, '"priority":(%d)'))
  if p == nil then return 5 end
  return p
end

local function msg_expires(h)
  return tonumber(string.match(h, '"expires":(%d+)'))
end

local function wake()
  if redis.call('LLEN', K_WAKE) == 0 then redis.call('RPUSH', K_WAKE, '1') end
end

local function store(id, record, ttl)
  if record == '' then
    redis.call('DEL', K_RESULT .. id)
  else
    redis.call('SET', K_RESULT .. id, record, 'PX', ttl)
  end
end

local function store_final(id, record, ttl)
  store(id, record, ttl)
  if record ~= '' then redis.call(PUBLISH, K_DONE .. id, record) end
end

local function state_record(id, state, now, worker, extra)
  return '{"id":"' .. id .. '","state":"' .. state .. '","at":' .. now .. ',"worker":"' .. worker .. '"' .. (extra or '') .. '}'
end

-- Unique tasks: a message's key and while it holds ('queued', 'running', 'ttl'), read from its head.
local K_UNIQ = base .. 'uniq:'       -- STRING per unique key: the id of the task holding it
local function unique_of(h)
  if not string.find(h, '"uniqueKey":"', 1, true) then return nil end
  return string.match(h, '"uniqueKey":"([^"\\]+)"'), string.match(h, '"uniqueWhile":"(%a+)"')
end

-- Frees a unique key if this task still holds it.
local function unique_release(uk, id)
  if redis.call('GET', K_UNIQ .. uk) == id then redis.call('DEL', K_UNIQ .. uk) end
end

-- Removes a held (reserved) message; returns its raw or false.
local function unhold(id)
  local raw = redis.call('HGET', K_ACTIVE, id)
  redis.call('HDEL', K_ACTIVE, id)
  redis.call('ZREM', K_LEASES, id)
  return raw
end

-- Removes a held message without reading it (ack, retry, fail, reject).
local function drop_held(id)
  redis.call('HDEL', K_ACTIVE, id)
  redis.call('ZREM', K_LEASES, id)
end

local function push_capped(key, entry, cap)
  redis.call('LPUSH', key, entry)
  redis.call('LTRIM', key, 0, cap - 1)
end

-- Earliest score of a sorted set (a number), or nil when it is empty.
local function first_score(key)
  local r = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if r[2] then return tonumber(r[2]) end
  return nil
end

-- Ready lists are popped 9 first. Most messages have the default priority 5, so
-- the lists above and below it are looked at with one EXISTS per group, and
-- popped one by one only when some of them hold messages.
local PRIO_GROUPS = { { 9, 8, 7, 6 }, { 5 }, { 4, 3, 2, 1, 0 } }

local function any_ready(from, to)
  local keys = {}
  for p = from, to, -1 do keys[#keys + 1] = K_READY .. p end
  return redis.call('EXISTS', unpack(keys)) > 0
end

-- Reserve: recover lost leases, promote due delayed messages, pop by priority.
-- Returns { items (flat: id, raw, redeliveries, ...), dropped (flat: id, raw, reason, ...), nextWakeAt or -1 }.
-- The earliest lease and due time are read first: they say whether steps 1 and 2
-- have anything to do, and (kept up to date below) give nextWakeAt.
local function reserve(now, max, start_count, lease_ms, worker, max_redeliv, ttl, dead_cap)
  local dropped = {}
  -- 1. lost leases (bounded per call)
  local first_lease = first_score(K_LEASES)
  if first_lease and first_lease <= now then
    local lost = redis.call('ZRANGEBYSCORE', K_LEASES, '-inf', now, 'LIMIT', 0, 100)
    for _, id in ipairs(lost) do
      local raw = unhold(id)
      if raw then
        local n = redis.call('HINCRBY', K_REDELIV, id, 1)
        if n > max_redeliv then
          redis.call('HDEL', K_REDELIV, id)
          local rec = state_record(id, 'FAILURE', now, worker, ',"error":{"type":"WorkerLostError","message":"the worker holding the task stopped renewing its lease ' .. n .. ' times"}')
          store_final(id, rec, ttl)
          push_capped(K_DEAD, cjson.encode({ id = id, raw = raw, reason = 'lost', at = now }), dead_cap)
          table.insert(dropped, id); table.insert(dropped, raw); table.insert(dropped, 'lost')
        else
          redis.call('LPUSH', K_READY .. msg_priority(head(raw)), raw)
        end
      end
    end
    first_lease = first_score(K_LEASES)
  end
  -- 2. due delayed messages (bounded per call)
  local first_due = first_score(K_DELAYED)
  if first_due and first_due <= now then
    local due = redis.call('ZRANGEBYSCORE', K_DELAYED, '-inf', now, 'LIMIT', 0, 1000)
    for _, id in ipairs(due) do
      local raw = redis.call('HGET', K_DMSG, id)
      redis.call('ZREM', K_DELAYED, id)
      redis.call('HDEL', K_DMSG, id)
      if raw then redis.call('RPUSH', K_READY .. msg_priority(head(raw)), raw) end
    end
    first_due = first_score(K_DELAYED)
  end
  -- 3. pop by priority, 9 first
  local items = {}
  local got = 0
  local any_revoked, any_redeliv = false, false
  if redis.call('EXISTS', K_REVOKED, K_REDELIV) > 0 then
    any_revoked = redis.call('EXISTS', K_REVOKED) == 1
    if any_revoked then redis.call('ZREMRANGEBYSCORE', K_REVOKED, '-inf', now) ; any_revoked = redis.call('EXISTS', K_REVOKED) == 1 end
    any_redeliv = redis.call('EXISTS', K_REDELIV) == 1
  end
  local lease_until = now + lease_ms
  local lease_moved = false -- a popped id already had a lease (ZADD updated it): re-read the earliest
  local stop_p = nil        -- the list the last message came from, once max is reached
  if max <= 0 then stop_p = 9 end
  for _, group in ipairs(PRIO_GROUPS) do
    if got >= max then break end
    if #group == 1 or any_ready(group[1], group[#group]) then
      for _, p in ipairs(group) do
        local key = K_READY .. p
        while got < max do
          local raws = redis.call('LPOP', key, max - got)
          if not raws then break end
          for _, raw in ipairs(raws) do
            local id = msg_id(raw)
            local h = head(raw)
            local expires = msg_expires(h)
            local dropped_reason = false
            if any_revoked and redis.call('ZSCORE', K_REVOKED, id) then
              redis.call('ZREM', K_REVOKED, id)
              dropped_reason = 'revoked'
            elseif expires and expires < now then
              store_final(id, state_record(id, 'REVOKED', now, worker, ',"error":{"type":"TaskRevokedError","message":"expired"}'), ttl)
              dropped_reason = 'expired'
            end
            local uk, uw = unique_of(h)
            -- a unique key held while queued is freed as the task starts; any is freed when it is dropped
            if uk and (uw == 'queued' or (dropped_reason and uw == 'running')) then unique_release(uk, id) end
            if dropped_reason then
              if any_redeliv then redis.call('HDEL', K_REDELIV, id) end
              table.insert(dropped, id); table.insert(dropped, raw); table.insert(dropped, dropped_reason)
            else
              redis.call('HSET', K_ACTIVE, id, raw)
              if redis.call('ZADD', K_LEASES, lease_until, id) == 0 then lease_moved = true end
              got = got + 1
              local state = 'STARTED'
              if got > start_count then state = 'RECEIVED' end
              redis.call('SET', K_RESULT .. id, state_record(id, state, now, worker), 'PX', ttl)
              local redeliv = 0
              if any_redeliv then redeliv = tonumber(redis.call('HGET', K_REDELIV, id) or '0') end
              table.insert(items, id); table.insert(items, raw); table.insert(items, redeliv)
            end
          end
        end
        if got >= max then stop_p = p; break end
      end
    end
  end
  -- is anything left for another idle worker?
  if stop_p and (redis.call('LLEN', K_READY .. stop_p) > 0 or (stop_p > 0 and any_ready(stop_p - 1, 0))) then wake() end
  -- 4. when is the next thing due?
  if lease_moved then
    first_lease = first_score(K_LEASES)
  elseif got > 0 and (first_lease == nil or lease_until < first_lease) then
    first_lease = lease_until
  end
  local next_at = -1
  if first_due then next_at = first_due end
  if first_lease and (next_at == -1 or first_lease < next_at) then next_at = first_lease end
  return { items, dropped, next_at }
end
