--[[
lease_acquire — takes a role's lease when nobody holds it, and raises the role's fence.
Spec (encode/decode): src/redis/scripts/lease-acquire.ts

SPEC §11: the lease is `SET NX PX`; acquiring also increments the role's epoch and sets
the fence to it, in this one script, so from this moment every write script of the role
refuses the previous leader's epoch (LESSONS #24). Epochs only grow: the new epoch is
max(epoch, fence) + 1, so a lost epoch counter cannot hand out an epoch below the fence.

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
               epoch (found="string (not an epoch)"): checked before any write, so
               nothing is written, and nobody leads until it is fixed (fail closed).
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
  elseif string.match(value, '^%d+$') and #value <= 15 then
    epochs[i] = tonumber(value)
  else
    return cjson.encode({ status = 'wrong_type', key = KEYS[i], found = 'string (not an epoch)' })
  end
end
local holder = redis.call('GET', KEYS[1])
if holder ~= false and holder ~= a.instance then
  return cjson.encode({ status = 'held', holder = holder, ttl_ms = redis.call('PTTL', KEYS[1]) })
end
local epoch = math.max(epochs[2], epochs[3]) + 1
redis.call('SET', KEYS[1], a.instance, 'PX', a.lease_ms)
redis.call('SET', KEYS[2], epoch)
redis.call('SET', KEYS[3], epoch)
return cjson.encode({ status = 'acquired', epoch = epoch })
