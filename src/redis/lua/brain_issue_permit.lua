--[[
brain_issue_permit — writes the one P3.3 permit a plan id ever gets, and acks its entry.
Spec (encode/decode): src/redis/scripts/brain-issue-permit.ts

The plan-seen marker, the permit write and the XACK are one atomic step (SPEC §5), so a
plan redelivered after a crash — even after the Apply Layer consumed (deleted) the first
permit — can never produce a second permit (LESSONS #4, #11).

With REDIS_MIN_REPLICAS_ACK > 0 (SPEC §11) the caller passes ack=false: the script writes
the marker and the permit but does not XACK; the caller sends WAIT on the same connection
and acks only once enough replicas have everything up to its last write. A plan left
pending is redelivered and answered `duplicate`; in that mode the duplicate path rewrites
the marker unchanged (same value, KEEPTTL) so the caller's WAIT also covers the marker and
permit, whoever wrote them (newer Redis versions advance a connection's WAIT offset only
with its own writes; Redis 7.0 with every command).

KEYS[1]  plan-seen marker        P:posguard:plan:seen:PLAN
KEYS[2]  permit                  P:permit:p33:PLAN
KEYS[3]  plan stream             P:stream:apply.plan

ARGV[1]  JSON object:
  group          consumer group name
  entry_id       stream entry id of the plan
  permit         permit JSON (a string)
  permit_ttl_ms  permit TTL, ms (> 0)
  seen_ttl_ms    plan-seen marker TTL, ms (> 0)
  outcome        marker value (what was decided, for operators)
  ack            optional, default true. false: no XACK (the caller acks after WAIT), and a
                 duplicate rewrites its marker unchanged (see above)

Reply: JSON object
  {status="issued"}     marker set, permit written with its TTL, entry acked (ack=false:
                        not acked)
  {status="duplicate"}  the plan id was already answered: nothing written, entry acked
                        (ack=false: not acked; the marker rewritten with its value and TTL)
  {status="wrong_type", key, found}  KEYS[1] or KEYS[2] is not a string, or KEYS[3] not a
               stream: checked before any write, so nothing is written — no marker, no
               permit, no ack. The caller acks the entry itself, counts it and names the
               key: the plan gets no permit (the gate refuses it), and one squatted key
               never blocks the plans behind it (LESSONS #18).
]]
local a = cjson.decode(ARGV[1])
local ack = a.ack ~= false
for i, want in ipairs({ 'string', 'string', 'stream' }) do
  local found = redis.call('TYPE', KEYS[i]).ok
  if found ~= 'none' and found ~= want then
    return cjson.encode({ status = 'wrong_type', key = KEYS[i], found = found })
  end
end
local seen = redis.call('GET', KEYS[1])
if seen then
  if ack then
    redis.call('XACK', KEYS[3], a.group, a.entry_id)
  else
    redis.call('SET', KEYS[1], seen, 'KEEPTTL')
  end
  return cjson.encode({ status = 'duplicate' })
end
redis.call('SET', KEYS[1], a.outcome, 'PX', a.seen_ttl_ms)
redis.call('SET', KEYS[2], a.permit, 'PX', a.permit_ttl_ms)
if ack then
  redis.call('XACK', KEYS[3], a.group, a.entry_id)
end
return cjson.encode({ status = 'issued' })
