--[[
brain_issue_permit — writes the one P3.3 permit a plan id ever gets, and acks its entry.

The plan-seen marker, the permit write and the XACK are one atomic step (SPEC §5), so a
plan redelivered after a crash — even after the Apply Layer consumed (deleted) the first
permit — can never produce a second permit (LESSONS #4, #11).

KEYS[1]  plan-seen marker        P:posguard:plan:seen:PLAN
KEYS[2]  permit                  P:permit:p33:PLAN
KEYS[3]  plan stream             P:stream:apply.plan

ARGV[1]  consumer group name
ARGV[2]  stream entry id of the plan
ARGV[3]  permit JSON
ARGV[4]  permit TTL, ms (> 0)
ARGV[5]  plan-seen marker TTL, ms (> 0)
ARGV[6]  marker value (what was decided, for operators)

Replies (status strings):
  "issued"     marker set, permit written with its TTL, entry acked
  "duplicate"  the plan id was already answered: nothing written, entry acked
Error reply "WRONGTYPE <key> is a <type>, expected a <type>; nothing written" when KEYS[1]
or KEYS[2] is not a string or KEYS[3] not a stream: checked before any write, so neither
marker nor permit nor ack is written and the entry stays pending (LESSONS #18).
]]
for i, want in ipairs({ 'string', 'string', 'stream' }) do
  local found = redis.call('TYPE', KEYS[i]).ok
  if found ~= 'none' and found ~= want then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' is a ' .. found .. ', expected a ' .. want .. '; nothing written')
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
  return 'duplicate'
end
redis.call('SET', KEYS[1], ARGV[6], 'PX', ARGV[5])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
return 'issued'
