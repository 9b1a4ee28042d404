-- Gives held messages back to the front of their ready lists (graceful shutdown).
-- KEYS[1] queue key base
-- ARGV: ids...
local n = 0
for i = #ARGV, 1, -1 do
  local raw = unhold(ARGV[i])
  if raw then
    redis.call('LPUSH', K_READY .. msg_priority(head(raw)), raw)
    n = n + 1
  end
end
if n > 0 then wake() end
return n
