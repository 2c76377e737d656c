--[[
reconcile_steady — the steady-OK fast path for a batch of symbols (SPEC §7): each symbol
was OK, is still OK, and has no hold and no owner marker, so nothing can change edge-wise
and only its liveness and amounts move. One call per batch (a few hundred symbols) replaces
one HSET per symbol on the cycle's write pipeline. Status, reason, since_ts, hold_by and
episode_reason are left as they are; holds and events are never touched here (symbols that
need them go through reconcile_commit, one atomic call each).
Spec (encode/decode): src/redis/scripts/reconcile-steady.ts

Fenced (SPEC §11, LESSONS #24): a write of the `reconcile` role. The fence key comes LAST
in KEYS (so a symbol's index i stays its KEYS index) and is type-checked first; then the
fence check (src/redis/scripts/fencing.ts) runs before any row is written: a batch below
the fence writes nothing at all.

KEYS[i]      state hash of symbol i, i = 1 … #KEYS − 1   P:reconcile:state:SYM
KEYS[#KEYS]  fence   P:posguard:fence:reconcile (string: the leader's epoch)

ARGV[1]  JSON object, every value a string but the epoch:
  epoch   the writer's epoch (a number, from lease_acquire)
  ts      now in integer seconds (time comes in, never TIME)  -> last_seen_ts
  now_ms  now in ms                                          -> ts_ms
  fields  [name, …]              the state fields every row sets
  rows    [[value, …], …]        one row per state key, values in `fields` order

Reply: JSON object (each symbol is its own unit, one wrong key never stops the batch, so
the batch always answers "ok")
  {status="ok", keys, written, wrong_type?, failed?}
    keys        #KEYS − 1 (the state keys)
    written     number of state hashes written
    wrong_type  [{i, key, found}, …]  the 1-based KEYS index of a symbol whose state key is
                                      not a hash, and the type it holds (HSET checks the
                                      type before writing: nothing written for it)
    failed      [{i, error}, …]       a row Redis refused for another reason (its error text)
    (a list that would be empty is left out)
Refusals of the whole batch, nothing written:
  {status="wrong_type", key, found}  the fence key is not a string
  {status="fenced", fence, epoch}    epoch below the fence, or the fence missing or holding
                                     no epoch (fence=null)
Error reply (a caller bug; nothing written): no fence key, or a rows count that differs from
the state key count.
]]
local a = cjson.decode(ARGV[1])
local names, rows = a.fields, a.rows
local n = #KEYS - 1
if n < 0 or #rows ~= n then
  return redis.error_reply('reconcile_steady: one row per state key, then the fence key')
end
local fence_key = KEYS[#KEYS]
local fence_type = redis.call('TYPE', fence_key).ok
if fence_type ~= 'none' and fence_type ~= 'string' then
  return cjson.encode({ status = 'wrong_type', key = fence_key, found = fence_type })
end
-- fence check (SPEC §11; src/redis/scripts/fencing.ts): nothing is written below the fence
local fence = redis.call('GET', fence_key)
fence = fence and string.match(fence, '^%d+$') and tonumber(fence) or nil
if fence == nil or type(a.epoch) ~= 'number' or a.epoch < fence then
  return cjson.encode({ status = 'fenced', fence = fence or cjson.null, epoch = a.epoch })
end

local written, wrong_type, failed = 0, {}, {}
for i = 1, n do
  local row = rows[i]
  local args = { 'last_seen_ts', a.ts, 'ts_ms', a.now_ms }
  for j = 1, #names do
    args[#args + 1] = names[j]
    args[#args + 1] = row[j]
  end
  local result = redis.pcall('HSET', KEYS[i], unpack(args))
  if type(result) == 'table' and result.err ~= nil then
    local found = redis.call('TYPE', KEYS[i]).ok
    if found ~= 'hash' and found ~= 'none' then
      wrong_type[#wrong_type + 1] = { i = i, key = KEYS[i], found = found }
    else
      failed[#failed + 1] = { i = i, error = result.err }
    end
  else
    written = written + 1
  end
end

local reply = { status = 'ok', keys = n, written = written }
if #wrong_type > 0 then reply.wrong_type = wrong_type end
if #failed > 0 then reply.failed = failed end
return cjson.encode(reply)
