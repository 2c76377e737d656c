--[[
brain_apply_fill — applies one apply.result entry to a ledger at most once, and acks it.

The caller read the ledger, computed the new fields with the ledger codec (decimals,
reduce-only fills never cross zero) and passes them here with the version it read. The
write happens only if nobody wrote the ledger in between (compare-and-set on `version`)
and the entry was never applied before (marker). `last_result_id` only moves forward:
it is set to this entry id when that id is greater than the stored one (ids compared as
ms-seq pairs).

KEYS[1]  ledger hash             P:position:ledger:SYM
KEYS[2]  result-applied marker   P:posguard:result:applied:ENTRY
KEYS[3]  result stream           P:stream:apply.result

ARGV[1]  consumer group name
ARGV[2]  stream entry id of the result
ARGV[3]  expected raw `version` field ('' when the field was absent)
ARGV[4]  ledger TTL, ms (> 0), renewed on the write
ARGV[5]  marker TTL, ms (> 0)
ARGV[6…] field, value, field, value … to HSET (never last_result_id: see above)

Replies (status strings):
  "applied"    fields written, last_result_id advanced if newer, TTL renewed, marker set, acked
  "duplicate"  the entry was applied before: nothing written, acked
  "conflict"   the ledger version changed since it was read: nothing written, NOT acked
               (the caller re-reads and retries)
]]
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
  return 'duplicate'
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

if #ARGV > 5 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 6))
end
local stored = redis.call('HGET', KEYS[1], 'last_result_id')
if stored == false or stored == '' or newer(ARGV[2], stored) then
  redis.call('HSET', KEYS[1], 'last_result_id', ARGV[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[5])
redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
return 'applied'
