--[[
manual_ledger.lua — an operator writes the ledger (posguard SPEC §4, §10):
`ledger set` and `ledger adopt`.

KEYS[1]  ledger hash    P:position:ledger:SYM
KEYS[2]  events stream  P:stream:reconcile.events
ARGV[1]  expected raw `version` field as read ("" when the field is absent)
ARGV[2]  ledger TTL in ms (PEXPIRE on every write)
ARGV[3]  events stream MAXLEN (approximate trim)
ARGV[4]  n = number of ledger field/value pairs that follow
ARGV[5 … 4+2n]       ledger fields (from posguard's ledger codec: canonical fields,
                     compatibility mirrors, version = old + 1, source = p34_manual)
ARGV[5+2n …]         the event's field/value pairs

Compare-and-set on `version`: the write happens only when the ledger's raw version is
still the one the operator's command read, so a fill applied by the brain or an
auto-repair in between is never overwritten.
Replies:
  {'OK', <new version>}        fields written (existing order fields are kept), TTL set,
                               event appended
  {'CONFLICT', <raw version>}  the ledger changed since it was read; nothing written
  {'WRONG_TYPE', key, type}    KEYS[1] is not a hash or KEYS[2] not a stream (the key named,
                               with the type it holds); checked before any write, so
                               nothing is written
Time comes in the ledger and event fields; the script reads no clock.
]]

for i, want in ipairs({ 'hash', 'stream' }) do
  local found = redis.call('TYPE', KEYS[i]).ok
  if found ~= 'none' and found ~= want then
    return { 'WRONG_TYPE', KEYS[i], found }
  end
end

local current = redis.call('HGET', KEYS[1], 'version')
if not current then
  current = ''
end
if current ~= ARGV[1] then
  return { 'CONFLICT', current }
end

local n = tonumber(ARGV[4])
local hset = { 'HSET', KEYS[1] }
local new_version = ''
for i = 5, 4 + 2 * n, 2 do
  hset[#hset + 1] = ARGV[i]
  hset[#hset + 1] = ARGV[i + 1]
  if ARGV[i] == 'version' then
    new_version = ARGV[i + 1]
  end
end
redis.call(unpack(hset))
redis.call('PEXPIRE', KEYS[1], ARGV[2])

local event = { 'XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*' }
for i = 5 + 2 * n, #ARGV do
  event[#event + 1] = ARGV[i]
end
redis.call(unpack(event))
return { 'OK', new_version }
