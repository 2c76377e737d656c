--[[
lease_release — gives a role's lease up on a graceful stop, only when it is ours: the
lease names this instance and the fence still equals this instance's epoch (SPEC §11).
The fence stays: the next lease_acquire raises it.
Spec (encode/decode): src/redis/scripts/lease-release.ts

KEYS[1]  lease   P:posguard:lease:ROLE   string: the holder's instance id
KEYS[2]  fence   P:posguard:fence:ROLE   string: integer, the current leader's epoch

ARGV[1]  JSON object:
  instance   the releasing instance's id
  epoch      the epoch its lease_acquire returned

Reply: JSON object
  {status="released"}  the lease is deleted
  {status="fenced", fence, epoch}  epoch < fence, or the fence is missing or holds no
               epoch (fence=null): nothing written (the fence check every write script of
               a role runs, src/redis/scripts/fencing.ts)
  {status="not_holder", holder, fence}  the lease is gone (holder=null) or names another
               instance, or the fence is below this epoch: nothing written
  {status="wrong_type", key, found}  a key is not a string: nothing written
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
  return cjson.encode({ status = 'not_holder', holder = holder or cjson.null, fence = fence })
end
redis.call('DEL', KEYS[1])
return cjson.encode({ status = 'released' })
