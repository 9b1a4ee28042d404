-- Creates a chord's state in the slot of its body's queue.
-- KEYS[1] body queue key base
-- ARGV: id, size, bodyId, bodyPriority, insert ('1' | '0'), bodyHead, bodyTail, ttlMs
local key = K_CHORD .. ARGV[1]
redis.call('HSET', key, 'size', ARGV[2], 'body', ARGV[3], 'prio', ARGV[4], 'insert', ARGV[5], 'head', ARGV[6], 'tail', ARGV[7], 'n', 0)
redis.call('PEXPIRE', key, ARGV[8])
return 1
