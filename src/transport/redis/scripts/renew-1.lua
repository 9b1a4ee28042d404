-- Renews leases of held messages.
-- KEYS[1] queue key base
-- ARGV: leaseUntil, ids...
-- Returns the ids whose lease was lost already (redelivered or finished elsewhere).
local lost = {}
for i = 2, #ARGV do
  if redis.call('ZADD', K_LEASES, 'XX', 'CH', ARGV[1], ARGV[i]) == 0 and not redis.call('ZSCORE', K_LEASES, ARGV[i]) then
    table.insert(lost, ARGV[i])
  end
end
return lost
