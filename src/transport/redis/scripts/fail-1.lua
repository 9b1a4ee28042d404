-- Fails a held message for good: stores the FAILURE record, wakes waiters, keeps
-- the message in the capped dead-letter list.
-- KEYS[1] queue key base
-- ARGV: id, record, resultTtlMs, deadEntry, deadCap
local id = ARGV[1]
drop_held(id)
redis.call('HDEL', K_REDELIV, id)
store_final(id, ARGV[2], tonumber(ARGV[3]))
push_capped(K_DEAD, ARGV[4], tonumber(ARGV[5]))
return 1
