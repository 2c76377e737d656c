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

Replies (status strings, or the refusal table):
  "issued"     marker set, permit written with its TTL, entry acked
  "duplicate"  the plan id was already answered: nothing written, entry acked
  {"wrong_type", key, type}  KEYS[1] or KEYS[2] is not a string, or KEYS[3] not a stream:
               checked before any write, so nothing is written — no marker, no permit, no
               ack. The caller acks the entry itself, counts it and names the key: the plan
               gets no permit (the gate refuses it), and one squatted key never blocks the
               plans behind it (LESSONS #18).
]]
for i, want in ipairs({ 'string', 'string', 'stream' }) do
  local found = redis.call('TYPE', KEYS[i]).ok
  if found ~= 'none' and found ~= want then
    return { 'wrong_type', KEYS[i], found }
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
