--[[
brain_apply_fill — writes one executed apply.result entry into a ledger at most once, and
acks it (SPEC §4).

The caller read the ledger, computed the new fields with the ledger codec (decimals,
reduce-only fills never cross zero) and passes them here with the version it read. The
write happens only if nobody wrote the ledger in between (compare-and-set on `version`).
Spec (encode/decode): src/redis/scripts/brain-apply-fill.ts

Two modes:
  fill   a confirmed fill: applied once (result-applied marker). `last_result_id` only
         moves forward: it is set to this entry id when that id is greater than the stored
         one (ids compared as ms-seq pairs).
  order  an order whose fill is not confirmed: only its order fields (the cooldown) are
         written. No marker is set and `last_result_id` is not touched — the order is not
         in the ledger, so it stays usable as the engine's evidence. When the marker
         exists (the engine's repair already accounted for this order) nothing is written.
         Writing the same order fields twice changes nothing but the version.

An order the reconcile engine repaired the ledger from while its fill was unconfirmed is in
the ledger already (the repair set its order-accounted marker, KEYS[4]): a confirmed fill of
that order is refused — the ledger is not written; the entry's result-applied marker is set
and the entry acked, as for any entry that is done (so the engine never takes it as evidence
either).

Every key's type is checked before the first write, so a wrong-typed key never leaves a
half-applied fill.

KEYS[1]  ledger hash             P:position:ledger:SYM
KEYS[2]  result-applied marker   P:posguard:result:applied:ENTRY
KEYS[3]  result stream           P:stream:apply.result
KEYS[4]  optional, fill mode: order-accounted marker P:posguard:order:accounted:SYM:ORDER
         (absent when the fill has no order id that can be part of a key)

ARGV[1]  JSON object:
  group           consumer group name
  entry_id        stream entry id of the result
  expect_version  the raw `version` field as read ("" when the field was absent)
  ledger_ttl_ms   ledger TTL in ms (> 0), renewed on the write
  marker_ttl_ms   result-applied marker TTL in ms (> 0)
  mode            "fill" | "order"
  ledger          {field: value}  the ledger fields to HSET, all strings (never
                                  last_result_id: see above); may be empty

Reply: JSON object
  {status="applied"}          fill: fields written, last_result_id advanced if newer, TTL
                              renewed, marker set, acked
  {status="recorded"}         order: order fields written, TTL renewed, acked (no marker)
  {status="duplicate"}        the entry was applied (or repaired from) before: nothing
                              written, acked
  {status="order_accounted"}  fill: its order was accounted by a repair from its
                              unconfirmed record: the ledger is not written; the
                              result-applied marker is set, acked
  {status="conflict"}         the ledger version changed since it was read: nothing
                              written, NOT acked (the caller re-reads and retries)
  {status="wrong_type", key, found}
                              that key holds another Redis type (named, with the type it
                              holds): nothing written, NOT acked
Error reply (a caller bug; nothing written): mode is neither "fill" nor "order".
Time comes in as the TTLs; the script reads no clock.
]]
local a = cjson.decode(ARGV[1])

local function found_type(key)
  local t = redis.call('TYPE', key)
  if type(t) == 'table' then t = t['ok'] end
  return t
end

for i, want in ipairs({ 'hash', 'string', 'stream', 'string' }) do
  if KEYS[i] then
    local found = found_type(KEYS[i])
    if found ~= 'none' and found ~= want then
      return cjson.encode({ status = 'wrong_type', key = KEYS[i], found = found })
    end
  end
end

local mode = a.mode
if mode ~= 'fill' and mode ~= 'order' then
  return redis.error_reply('brain_apply_fill: mode must be "fill" or "order"')
end

if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('XACK', KEYS[3], a.group, a.entry_id)
  return cjson.encode({ status = 'duplicate' })
end

if mode == 'fill' and KEYS[4] and redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('SET', KEYS[2], '1', 'PX', a.marker_ttl_ms)
  redis.call('XACK', KEYS[3], a.group, a.entry_id)
  return cjson.encode({ status = 'order_accounted' })
end

local current = redis.call('HGET', KEYS[1], 'version')
if current == false then current = '' end
if current ~= a.expect_version then
  return cjson.encode({ status = 'conflict' })
end

local function id_parts(id)
  local dash = string.find(id, '-', 1, true)
  if not dash then return tonumber(id) or -1, 0 end
  return tonumber(string.sub(id, 1, dash - 1)) or -1, tonumber(string.sub(id, dash + 1)) or -1
end

local function newer(x, y)
  local x_ms, x_seq = id_parts(x)
  local y_ms, y_seq = id_parts(y)
  if x_ms ~= y_ms then return x_ms > y_ms end
  return x_seq > y_seq
end

local hset = { 'HSET', KEYS[1] }
for field, value in pairs(a.ledger or {}) do
  if field ~= 'last_result_id' then
    hset[#hset + 1] = field
    hset[#hset + 1] = value
  end
end
if #hset > 2 then
  redis.call(unpack(hset))
end
if mode == 'order' then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('PEXPIRE', KEYS[1], a.ledger_ttl_ms)
  end
  redis.call('XACK', KEYS[3], a.group, a.entry_id)
  return cjson.encode({ status = 'recorded' })
end
local stored = redis.call('HGET', KEYS[1], 'last_result_id')
if stored == false or stored == '' or newer(a.entry_id, stored) then
  redis.call('HSET', KEYS[1], 'last_result_id', a.entry_id)
end
redis.call('PEXPIRE', KEYS[1], a.ledger_ttl_ms)
redis.call('SET', KEYS[2], '1', 'PX', a.marker_ttl_ms)
redis.call('XACK', KEYS[3], a.group, a.entry_id)
return cjson.encode({ status = 'applied' })
