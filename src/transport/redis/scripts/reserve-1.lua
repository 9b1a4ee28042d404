-- Reserves up to max messages for a worker.
-- KEYS[1] queue key base
-- ARGV: now, max, startCount, leaseMs, workerId, maxRedeliveries, resultTtlMs, deadCap
-- Returns { {id, raw, redeliveries, ...}, {id, raw, reason, ...}, nextWakeAt or -1 }
return reserve(tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]))
