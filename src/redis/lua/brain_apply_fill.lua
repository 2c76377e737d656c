--[[
brain_apply_fill — writes one executed apply.result entry into a ledger at most once, and
acks it (SPEC §4).

The caller read the ledger, computed the new fields with the ledger codec (decimals,
reduce-only fills never cross zero) and passes them here with the version it read. The
write happens only if nobody wrote the ledger in between (compare-and-set on `version`).

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

ARGV[1]  consumer group name
ARGV[2]  stream entry id of the result
ARGV[3]  expected raw `version` field ('' when the field was absent)
ARGV[4]  ledger TTL, ms (> 0), renewed on the write
ARGV[5]  marker TTL, ms (> 0)
ARGV[6]  mode: "fill" | "order"
ARGV[7…] field, value, field, value … to HSET (never last_result_id: see above)

Replies (status strings):
  "applied"    fill: fields written, last_result_id advanced if newer, TTL renewed,
               marker set, acked
  "recorded"   order: order fields written, TTL renewed, acked (no marker)
  "duplicate"  the entry was applied (or repaired from) before: nothing written, acked
  "order_accounted"
               fill: its order was accounted by a repair from its unconfirmed record: the
               ledger is not written; the result-applied marker is set, acked
  "conflict"   the ledger version changed since it was read: nothing written, NOT acked
               (the caller re-reads and retries)
  "wrong_type:ledger" | "wrong_type:marker" | "wrong_type:stream" | "wrong_type:order"
               that key holds another Redis type: nothing written, NOT acked
]]
local function has_type(key, allowed)
  local t = redis.call('TYPE', key)
  if type(t) == 'table' then t = t['ok'] end
  return t == 'none' or t == allowed
end

if not has_type(KEYS[1], 'hash') then return 'wrong_type:ledger' end
if not has_type(KEYS[2], 'string') then return 'wrong_type:marker' end
if not has_type(KEYS[3], 'stream') then return 'wrong_type:stream' end
if KEYS[4] and not has_type(KEYS[4], 'string') then return 'wrong_type:order' end

local mode = ARGV[6]
if mode ~= 'fill' and mode ~= 'order' then
  return redis.error_reply('brain_apply_fill: ARGV[6] must be "fill" or "order"')
end

if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
  return 'duplicate'
end

if mode == 'fill' and KEYS[4] and redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[5])
  redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
  return 'order_accounted'
end

local current = redis.call('HGET', KEYS[1], 'version')
if current == false then current = '' end
if current ~= ARGV[3] then
  return 'conflict'
end

local function id_parts(id)
  local dash = string.find(id, '-', 1, true)
  if not dash then return tonumber(id) or -1, 0 end
  return tonumber(string.sub(id, 1, dash - 1)) or -1, tonumber(string.sub(id, dash + 1)) or -1
end

local function newer(a, b)
  local a_ms, a_seq = id_parts(a)
  local b_ms, b_seq = id_parts(b)
  if a_ms ~= b_ms then return a_ms > b_ms end
  return a_seq > b_seq
end

if #ARGV > 6 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 7))
end
if mode == 'order' then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[4])
  end
  redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
  return 'recorded'
end
local stored = redis.call('HGET', KEYS[1], 'last_result_id')
if stored == false or stored == '' or newer(ARGV[2], stored) then
  redis.call('HSET', KEYS[1], 'last_result_id', ARGV[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[5])
redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
return 'applied'
