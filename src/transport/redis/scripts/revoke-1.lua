-- Revokes a task that has not started: a delayed message is removed at once; a
-- ready one is remembered until its revocation expires and dropped at reserve.
-- The REVOKED record is stored unless the task already has a final state.
-- KEYS[1] queue key base
-- ARGV: id, record, resultTtlMs, now
-- Returns 1 when the record was written, 0 when the task had finished already.
local id, now, ttl = ARGV[1], tonumber(ARGV[4]), tonumber(ARGV[3])
local current = redis.call('GET', K_RESULT .. id)
if current then
  -- decode rather than search the text: a result or progress meta may contain "state":"SUCCESS" too
  local ok, rec = pcall(cjson.decode, current)
  if ok and type(rec) == 'table' and (rec.state == 'SUCCESS' or rec.state == 'FAILURE') then return 0 end
end
if redis.call('ZREM', K_DELAYED, id) == 1 then
  local raw = redis.call('HGET', K_DMSG, id)
  redis.call('HDEL', K_DMSG, id)
  if raw then
    local uk = unique_of(head(raw))
    if uk then unique_release(uk, id) end
  end
else
  redis.call('ZADD', K_REVOKED, now + ttl, id)
end
store_final(id, ARGV[2], ttl)
return 1
