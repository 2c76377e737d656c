--[[
brain_write_lot_sizes — writes the exchange lot sizes of a batch of symbols (SPEC §2, §3):
`P:posguard:symbol:SYM`, one hash per symbol, written from exchangeInfo (and re-written from
the brain's memory after Redis lost them). No TTL.
Spec (encode/decode, the batched call): src/redis/scripts/brain-write-lot-sizes.ts

Fenced (SPEC §11, LESSONS #24): a write of the `brain-poller` role. The fence key comes
LAST in KEYS — so a symbol's index i stays its KEYS index in the reply. Every key is
type-checked before the first write (the fence key first); then the fence check
(src/redis/scripts/fencing.ts): a batch below the fence writes nothing at all. A lot-size key
holding another type is refused and left alone; every symbol is its own unit.

KEYS[i]      lot-size hash of symbol i, i = 1 … #KEYS − 1   P:posguard:symbol:SYM
KEYS[#KEYS]  fence   P:posguard:fence:brain-poller (string: the leader's epoch)

ARGV[1]  JSON object:
  epoch    the writer's epoch (a number, from lease_acquire)
  fields   [name, …]              the lot-size fields (step_size, min_qty, max_qty, ts_ms)
  rows     [[value, …], …]        one row per lot-size key, values (strings) in `fields` order

Reply: JSON object
  {status="ok", keys, written, wrong_type?}
    keys        #KEYS − 1 (the lot-size keys)
    written     number of hashes written
    wrong_type  [{i, key, found}, …]  not written: the key holds another type (`found`);
                i is the 1-based KEYS index. Left out when empty.
Refusals of the whole batch, nothing written:
  {status="wrong_type", key, found}  the fence key is not a string
  {status="fenced", fence, epoch}    epoch below the fence, or the fence missing or holding
                                     no epoch (fence=null)
Error reply (a caller bug, not a refusal; nothing written): no fence key, no fields, or a rows
count that differs from the lot-size key count.
]]
local a = cjson.decode(ARGV[1])
local fields, rows = a.fields, a.rows
local n = #KEYS - 1
if n < 0 or #rows ~= n or #fields == 0 then
  return redis.error_reply('brain_write_lot_sizes: fields, and one row per lot-size key, then the fence key')
end
local fence_key = KEYS[#KEYS]
local fence_type = redis.call('TYPE', fence_key).ok
if fence_type ~= 'none' and fence_type ~= 'string' then
  return cjson.encode({ status = 'wrong_type', key = fence_key, found = fence_type })
end
local found_type = {}
for i = 1, n do
  local found = redis.call('TYPE', KEYS[i]).ok
  if found ~= 'none' and found ~= 'hash' then found_type[i] = found end
end
-- fence check (SPEC §11; src/redis/scripts/fencing.ts): nothing is written below the fence
local fence = redis.call('GET', fence_key)
fence = fence and string.match(fence, '^%d+$') and tonumber(fence) or nil
if fence == nil or type(a.epoch) ~= 'number' or a.epoch < fence then
  return cjson.encode({ status = 'fenced', fence = fence or cjson.null, epoch = a.epoch })
end

local written, wrong_type = 0, {}
for i = 1, n do
  if found_type[i] then
    wrong_type[#wrong_type + 1] = { i = i, key = KEYS[i], found = found_type[i] }
  else
    local args = {}
    local row = rows[i]
    for j = 1, #fields do
      args[#args + 1] = fields[j]
      args[#args + 1] = row[j]
    end
    redis.call('HSET', KEYS[i], unpack(args))
    written = written + 1
  end
end
local reply = { status = 'ok', keys = n, written = written }
if #wrong_type > 0 then reply.wrong_type = wrong_type end
return cjson.encode(reply)
