-- Parks an unusable held message (malformed, unknown task) with the reason.
-- KEYS[1] queue key base
-- ARGV: id, entry, cap
drop_held(ARGV[1])
redis.call('HDEL', K_REDELIV, ARGV[1])
push_capped(K_REJECTED, ARGV[2], tonumber(ARGV[3]))
return 1
