--[[
reconcile_heartbeat — the reconcile leader's heartbeat (SPEC §1, §7, §11): one SET of the
heartbeat JSON with its TTL, fenced, so an engine that no longer leads (a paused process,
an instance that lost its lease) can never keep a heartbeat alive that vouches for symbols
it does not look after.
Spec (encode/decode): src/redis/scripts/reconcile-heartbeat.ts

Fenced (SPEC §11, LESSONS #24): a write of the `reconcile` role. Both keys are type-checked
first; then the fence check (src/redis/scripts/fencing.ts) runs before the write.

KEYS[1]  heartbeat   P:reconcile:heartbeat   string: JSON (src/domain/reconcile-heartbeat.ts)
KEYS[2]  fence       P:posguard:fence:reconcile (string: the leader's epoch)

ARGV[1]  JSON object:
  epoch    the writer's epoch (a number, from lease_acquire); the heartbeat JSON names it too
  value    the heartbeat JSON (a string, written as is)
  ttl_ms   the heartbeat's TTL in ms (integer > 0)

Reply: JSON object
  {status="written"}                 SET heartbeat value PX ttl_ms
  {status="fenced", fence, epoch}    epoch below the fence, or the fence missing or holding
                                     no epoch (fence=null): nothing written
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
redis.call('SET', KEYS[1], a.value, 'PX', a.ttl_ms)
return cjson.encode({ status = 'written' })
