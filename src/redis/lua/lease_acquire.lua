--[[
lease_acquire — takes a role's lease when nobody holds it, and raises the role's fence.
Spec (encode/decode): src/redis/scripts/lease-acquire.ts

SPEC §11: the lease is `SET NX PX`; acquiring also raises the role's epoch and sets the
fence to it, in this one script, so from this moment every write script of the role
refuses the previous leader's epoch (LESSONS #24).

Epochs only grow, even across data loss: the new epoch is
    max(epoch, fence, now_ms) + 1,   now_ms = the server's TIME in whole milliseconds.
A lost epoch counter cannot hand out an epoch below a surviving fence; and when both are
lost — a Sentinel failover to a replica that had not yet received the last acquisition
(replication is asynchronous), a restart without persistence — the clock still puts the new
epoch above every epoch handed out before (an epoch runs ahead of the clock of its
acquisition only by the acquisitions within one millisecond), so a paused old leader can
never share an epoch with the new one and pass the fence. What that rests on: the new
master's clock is not behind the old master's by more than the time the failover took
(NTP-synced hosts; a failover takes seconds). This is the one script that reads TIME
(STYLE: time comes in as ARGV elsewhere): the clock must be the server's, one per master,
not the callers' (several hosts); Redis ≥ 5 replicates a script's effects, not the script,
so replicas store the same epoch. Epochs stay ≤ 14 digits (cjson encodes numbers with 14
significant digits; the ms clock has 13 until the year 5138).

KEYS[1]  lease   P:posguard:lease:ROLE   string: the holder's instance id, PX lease_ms
KEYS[2]  epoch   P:posguard:epoch:ROLE   string: integer, the last epoch handed out (no TTL)
KEYS[3]  fence   P:posguard:fence:ROLE   string: integer, the current leader's epoch (no TTL)

ARGV[1]  JSON object:
  instance   the acquiring instance's id
  lease_ms   lease length, ms (integer > 0)

Reply: JSON object
  {status="acquired", epoch}  the lease now names `instance` (PX lease_ms); KEYS[2] and
               KEYS[3] hold `epoch`. Also when the lease already named `instance` (an
               acquire whose reply was lost, a process resumed after its own lease
               lapsed): the new epoch fences whatever its earlier term still has in flight.
  {status="held", holder, ttl_ms}  another instance holds the lease: nothing written.
               ttl_ms is the lease's PTTL; -1 means it has no expiry and blocks the role
               until an operator deletes it.
  {status="wrong_type", key, found}  a key is not a string, or KEYS[2]/KEYS[3] holds no
               epoch — not an integer of at most 14 digits (found="string (not an
               epoch)"): checked before any write, so nothing is written, and nobody leads
               until it is fixed (fail closed).
]]
local a = cjson.decode(ARGV[1])
for i = 1, 3 do
  local found = redis.call('TYPE', KEYS[i]).ok
  if found ~= 'none' and found ~= 'string' then
    return cjson.encode({ status = 'wrong_type', key = KEYS[i], found = found })
  end
end
local epochs = {}
for i = 2, 3 do
  local value = redis.call('GET', KEYS[i])
  if value == false then
    epochs[i] = 0
  elseif string.match(value, '^%d+$') and #value <= 14 then
    epochs[i] = tonumber(value)
  else
    return cjson.encode({ status = 'wrong_type', key = KEYS[i], found = 'string (not an epoch)' })
  end
end
local holder = redis.call('GET', KEYS[1])
if holder ~= false and holder ~= a.instance then
  return cjson.encode({ status = 'held', holder = holder, ttl_ms = redis.call('PTTL', KEYS[1]) })
end
local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local epoch = math.max(epochs[2], epochs[3], now_ms) + 1
redis.call('SET', KEYS[1], a.instance, 'PX', a.lease_ms)
redis.call('SET', KEYS[2], string.format('%d', epoch))
redis.call('SET', KEYS[3], string.format('%d', epoch))
return cjson.encode({ status = 'acquired', epoch = epoch })
