-- Creates a chord's state in the slot of its body's queue.
-- KEYS[1] body queue key base
-- ARGV: id, size, bodyId, bodyPriority, insert ('1' | '0'), bodyHead, bodyTail, ttlMs, once TTL (ms; 0 or absent = off)
-- With a once TTL, a chord created with one before (within the TTL) is left as it is.
-- Returns 1 when created, 0 when skipped.
local key = K_CHORD .. ARGV[1]
local once = tonumber(ARGV[9] or '0')
if once > 0 and not redis.call('SET', base .. 'pubchord:' .. ARGV[1], '1', 'NX', 'PX', once) then return 0 end
redis.call('HSET', key, 'size', ARGV[2], 'body', ARGV[3], 'prio', ARGV[4], 'insert', ARGV[5], 'head', ARGV[6], 'tail', ARGV[7], 'n', 0)
redis.call('PEXPIRE', key, ARGV[8])
return 1
