--[[
manual_ledger.lua — an operator writes the ledger (posguard SPEC §4, §10):
`ledger set` and `ledger adopt`.
Spec (encode/decode): src/redis/scripts/manual-ledger.ts

KEYS[1]  ledger hash    P:position:ledger:SYM
KEYS[2]  events stream  P:stream:reconcile.events

ARGV[1]  JSON object:
  expect_version  the raw `version` field as read ("" when the field is absent)
  ledger          {field: value}  the ledger fields (from posguard's ledger codec: canonical
                                  fields, compatibility mirrors, version = old + 1,
                                  source = p34_manual); all strings
  ledger_ttl_ms   ledger TTL in ms (PEXPIRE on every write)
  events_maxlen   events stream MAXLEN (approximate trim)
  event           [field, value, …]  the event's fields in order

Compare-and-set on `version`: the write happens only when the ledger's raw version is
still the one the operator's command read, so a fill applied by the brain or an
auto-repair in between is never overwritten.

Reply: JSON object
  {status="ok", version}        fields written (existing order fields are kept), TTL set,
                                event appended; version = the ledger's new `version`
  {status="conflict", version}  the ledger changed since it was read (version = its raw
                                `version` now, "" when absent); nothing written
  {status="wrong_type", key, found}  KEYS[1] is not a hash or KEYS[2] not a stream (the
                                key named, with the type it holds); checked before any
                                write, so nothing is written
Error reply (a caller bug; nothing written): no ledger fields.
Time comes in the ledger and event fields; the script reads no clock.
]]
local a = cjson.decode(ARGV[1])

for i, want in ipairs({ 'hash', 'stream' }) do
  local found = redis.call('TYPE', KEYS[i]).ok
  if found ~= 'none' and found ~= want then
    return cjson.encode({ status = 'wrong_type', key = KEYS[i], found = found })
  end
end

local current = redis.call('HGET', KEYS[1], 'version')
if not current then
  current = ''
end
if current ~= a.expect_version then
  return cjson.encode({ status = 'conflict', version = current })
end

local hset = { 'HSET', KEYS[1] }
for field, value in pairs(a.ledger) do
  hset[#hset + 1] = field
  hset[#hset + 1] = value
end
if #hset == 2 then
  return redis.error_reply('manual_ledger.lua: no ledger fields')
end
redis.call(unpack(hset))
redis.call('PEXPIRE', KEYS[1], a.ledger_ttl_ms)

local event = { 'XADD', KEYS[2], 'MAXLEN', '~', a.events_maxlen, '*' }
for _, v in ipairs(a.event) do
  event[#event + 1] = v
end
redis.call(unpack(event))
return cjson.encode({ status = 'ok', version = a.ledger.version or '' })
