-- Appends task and worker events to the capped event stream, in order.
-- KEYS[1] the event stream
-- ARGV: maxLength (kept, about: MAXLEN ~), then one event JSON per argument
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i])
end
return #ARGV - 1
