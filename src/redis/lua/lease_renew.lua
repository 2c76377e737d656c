--[[
lease_renew — compare-and-renew: extends the lease only while it still names this
instance AND the fence still equals this instance's epoch (SPEC §11).
Spec (encode/decode): src/redis/scripts/lease-renew.ts

KEYS[1]  lease   P:posguard:lease:ROLE   string: the holder's instance id
KEYS[2]  fence   P:posguard:fence:ROLE   string: integer, the current leader's epoch

ARGV[1]  JSON object:
  instance   the renewing instance's id
  epoch      the epoch its lease_acquire returned
  lease_ms   lease length, ms (integer > 0)

Reply: JSON object
  {status="renewed"}  PEXPIRE lease lease_ms; nothing else written
  {status="fenced", fence, epoch}  epoch < fence (another instance acquired since), or the
               fence is missing or holds no epoch (fence=null): nothing written. The
               fence check is the block every write script of a role runs
               (src/redis/scripts/fencing.ts).
  {status="lost", holder, fence}  not fenced, but the lease is gone (holder=null) or
               names another instance, or the fence is below this epoch (it went
               backwards: data lost in a failover): nothing written
  {status="wrong_type", key, found}  a key is not a string: nothing written
The caller steps down on anything but `renewed`.
]]
local a = cjson.decode(ARGV[1])
for i = 1, 2 do
  local found = redis.call('TYPE', KEYS[i]).ok
  if found ~= 'none' and found ~= 'string' then
    return cjson.encode({ status = 'wrong_type', key = KEYS[i], found = found })
  end
end
local fence_key = KEYS[2]
-- fence check (SPEC §11; src/redis/scripts/fencing.ts): nothing is written below the fence
local fence = redis.call('GET', fence_key)
fence = fence and string.match(fence, '^%d+$') and tonumber(fence) or nil
if fence == nil or type(a.epoch) ~= 'number' or a.epoch < fence then
  return cjson.encode({ status = 'fenced', fence = fence or cjson.null, epoch = a.epoch })
end
local holder = redis.call('GET', KEYS[1])
if holder ~= a.instance or fence ~= a.epoch then
  return cjson.encode({ status = 'lost', holder = holder or cjson.null, fence = fence })
end
redis.call('PEXPIRE', KEYS[1], a.lease_ms)
return cjson.encode({ status = 'renewed' })
