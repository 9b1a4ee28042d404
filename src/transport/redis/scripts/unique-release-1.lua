-- Frees a unique task's key when the task holding it ended for good (while: 'running').
-- KEYS[1] queue key base
-- ARGV: unique key, task id
-- Returns 1 when freed, 0 when another task (or none) holds it.
if redis.call('GET', K_UNIQ .. ARGV[1]) == ARGV[2] then
  redis.call('DEL', K_UNIQ .. ARGV[1])
  return 1
end
return 0
