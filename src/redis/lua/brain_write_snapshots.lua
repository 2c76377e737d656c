--[[
brain_write_snapshots — writes a batch of exchange snapshots; a snapshot never goes back
in time (SPEC §3).

A new snapshot is OLDER than the stored one, and is not written, when:
  - both carry exchange_update_ms (the exchange's own update time of the position) and the
    new one's is smaller — or equal, with a smaller ts_ms (same exchange state, taken
    earlier); or
  - either lacks exchange_update_ms, and the new ts_ms is smaller than the stored ts_ms
    (stored ts_epoch × 1000 when an older writer left no ts_ms).
A stored snapshot without a usable time never blocks a write. So a REST answer sent
before a user-stream push, or the answer of a paused instance that wakes up late, can
never roll a snapshot back.

All checks (type and age) run for every key before the first write. A key holding another
type is refused and left alone; every symbol is its own unit, one bad key never stops the
batch.

Fenced (SPEC §11, LESSONS #24): a write of the `brain-poller` role (REST poll and user-data
stream alike). The fence key comes LAST in KEYS — so a snapshot's index i stays its KEYS
index in the reply — and is type-checked before the snapshot keys; the fence check
(src/redis/scripts/fencing.ts) runs before the first write: a batch below the fence writes
and publishes nothing.

Spec (encode/decode, the batched call): src/redis/scripts/brain-write-snapshots.ts

KEYS[i]      snapshot hash of symbol i, i = 1 … #KEYS − 1   P:position:snapshot:SYM
KEYS[#KEYS]  fence   P:posguard:fence:brain-poller (string: the leader's epoch)

ARGV[1]  JSON object:
  epoch    the writer's epoch (a number, from lease_acquire)
  ttl_ms   snapshot TTL in ms (> 0), set on every key written
  channel  pub/sub channel the symbols whose position_amt changed are published on, joined
           with ","; "" = publish nothing. (A channel is not a key.)
  fields   [name, …]                 the snapshot fields; must include ts_ms,
                                     exchange_update_ms and position_amt
  rows     [[value | false, …], …]   one row per snapshot key, values in `fields` order; false =
                                     leave that field as stored (a user-stream row carries
                                     no mark price or leverage)
  symbols  [SYM, …]                  one per snapshot key (the published names)

Reply: JSON object (every symbol is its own unit, so the batch always answers "ok")
  {status="ok", keys, written, changed?, stale?, wrong_type?}
    keys        #KEYS − 1 (the snapshot keys)
    written     number of snapshots written
    changed     [i, …]  written, and position_amt differs from the stored one (or nothing
                        was stored); a key written and not listed here kept its amount
    stale       [i, …]  not written: older than the stored snapshot
    wrong_type  [{i, key, found}, …]  not written: the key holds another type (`found`)
    i is the 1-based KEYS index. A list is left out when empty (cjson would encode an
    empty table as {}).
Refusals of the whole batch, nothing written or published:
  {status="wrong_type", key, found}  the fence key is not a string
  {status="fenced", fence, epoch}    epoch below the fence, or the fence missing or holding
                                     no epoch (fence=null)
Error reply (a caller bug, not a refusal; nothing written): no fence key, a rows or symbols
count that differs from the snapshot key count, or fields without the three compared ones.
]]
local a = cjson.decode(ARGV[1])
local fields, rows, symbols = a.fields, a.rows, a.symbols
local n = #KEYS - 1
if n < 0 or #rows ~= n or #symbols ~= n then
  return redis.error_reply('brain_write_snapshots: one row and one symbol per snapshot key, then the fence key')
end
local at = {}
for j = 1, #fields do at[fields[j]] = j end
if not (at.ts_ms and at.exchange_update_ms and at.position_amt) then
  return redis.error_reply('brain_write_snapshots: fields must include ts_ms, exchange_update_ms, position_amt')
end

local function time_of(v)
  if v == false or v == nil or v == '' then return nil end
  local n = tonumber(v)
  if n == nil or n <= 0 then return nil end
  return n
end

local function older(new_eu, new_ts, old_eu, old_ts)
  if new_eu and old_eu then
    if new_eu ~= old_eu then return new_eu < old_eu end
  end
  if new_ts and old_ts then return new_ts < old_ts end
  return false
end

local fence_key = KEYS[#KEYS]
local fence_type = redis.call('TYPE', fence_key).ok
if fence_type ~= 'none' and fence_type ~= 'string' then
  return cjson.encode({ status = 'wrong_type', key = fence_key, found = fence_type })
end

-- Pass 1: decide every key before writing any.
local outcome, found_type = {}, {}
for i = 1, n do
  local found = redis.call('TYPE', KEYS[i]).ok
  if found ~= 'hash' and found ~= 'none' then
    outcome[i], found_type[i] = 'wrong_type', found
  else
    local row = rows[i]
    local stored = redis.call('HMGET', KEYS[i], 'exchange_update_ms', 'ts_ms', 'ts_epoch', 'position_amt')
    local old_ts = time_of(stored[2])
    if old_ts == nil and time_of(stored[3]) then old_ts = time_of(stored[3]) * 1000 end
    if older(time_of(row[at.exchange_update_ms]), time_of(row[at.ts_ms]), time_of(stored[1]), old_ts) then
      outcome[i] = 'stale'
    elseif stored[4] ~= row[at.position_amt] then
      outcome[i] = 'changed'
    else
      outcome[i] = 'written'
    end
  end
end

-- fence check (SPEC §11; src/redis/scripts/fencing.ts): nothing is written below the fence
local fence = redis.call('GET', fence_key)
fence = fence and string.match(fence, '^%d+$') and tonumber(fence) or nil
if fence == nil or type(a.epoch) ~= 'number' or a.epoch < fence then
  return cjson.encode({ status = 'fenced', fence = fence or cjson.null, epoch = a.epoch })
end

-- Pass 2: write.
local written = 0
local changed_at, stale_at, wrong_type = {}, {}, {}
local changed = {}
for i = 1, n do
  local o = outcome[i]
  if o == 'written' or o == 'changed' then
    local args = {}
    local row = rows[i]
    for j = 1, #fields do
      if row[j] ~= false then
        args[#args + 1] = fields[j]
        args[#args + 1] = row[j]
      end
    end
    redis.call('HSET', KEYS[i], unpack(args))
    redis.call('PEXPIRE', KEYS[i], a.ttl_ms)
    written = written + 1
    if o == 'changed' then
      changed_at[#changed_at + 1] = i
      changed[#changed + 1] = symbols[i]
    end
  elseif o == 'stale' then
    stale_at[#stale_at + 1] = i
  else
    wrong_type[#wrong_type + 1] = { i = i, key = KEYS[i], found = found_type[i] }
  end
end
if #changed > 0 and a.channel ~= '' then
  redis.call('PUBLISH', a.channel, table.concat(changed, ','))
end
local reply = { status = 'ok', keys = n, written = written }
if #changed_at > 0 then reply.changed = changed_at end
if #stale_at > 0 then reply.stale = stale_at end
if #wrong_type > 0 then reply.wrong_type = wrong_type end
return cjson.encode(reply)
