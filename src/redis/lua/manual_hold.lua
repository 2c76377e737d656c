--[[
manual_hold.lua — an operator sets or clears a symbol's hold (posguard SPEC §10).
Spec (encode/decode): src/redis/scripts/manual-hold.ts

KEYS[1]  hold key           P:reconcile:hold:SYM
KEYS[2]  hold owner marker  P:posguard:hold:owner:SYM ("p34:<expiry ms>" = the engine's hold
                            while the hold's PEXPIRETIME still equals it; "shared")
KEYS[3]  events stream      P:stream:reconcile.events

ARGV[1]  JSON object:
  mode           "set" | "clear"
  ttl_ms         hold TTL in ms (>= 1; set only)
  events_maxlen  events stream MAXLEN (approximate trim)
  event          [field, value, …]  the event's fields in order (event, symbol, ts, ts_ms,
                                    reason, operator, …); previous_owner is appended

set:   SET hold "1" PX ttl, DEL the owner marker (the hold is now the operator's, so the
       engine will never delete it), XADD the event.
clear: DEL hold and marker, XADD the event.

Reply: JSON object
  {status="ok", previous_owner}  written as above
  {status="no_hold"}             clear, and there was no hold: nothing written, no event
  {status="wrong_type", key, found}  KEYS[1] or KEYS[2] is not a string or KEYS[3] not a
                 stream: checked before any write, so nothing is written (either mode)
previous_owner = none | p34 (the engine's: its marker's expiry is the hold's PEXPIRETIME)
               | shared | operator (anything else: no marker, or one that does not match —
               the same rule as reconcile_commit.lua and src/domain/hold-owner.ts).
Error reply (a caller bug; nothing written): an unknown mode, or set without ttl_ms >= 1.
Time comes in the event fields; the script reads no clock.
]]
local a = cjson.decode(ARGV[1])

for i, want in ipairs({ 'string', 'string', 'stream' }) do
  local found = redis.call('TYPE', KEYS[i]).ok
  if found ~= 'none' and found ~= want then
    return cjson.encode({ status = 'wrong_type', key = KEYS[i], found = found })
  end
end

local had_hold = redis.call('EXISTS', KEYS[1]) == 1

local previous = 'none'
if had_hold then
  local marker = redis.call('GET', KEYS[2])
  previous = 'operator'
  if marker == 'shared' then
    previous = 'shared'
  elseif marker and string.sub(marker, 1, 4) == 'p34:' then
    -- Redis < 7.0 has no PEXPIRETIME: no hold is provably the engine's there.
    local at = redis.pcall('PEXPIRETIME', KEYS[1])
    if type(at) == 'number' and at > 0 and tonumber(string.sub(marker, 5)) == at then
      previous = 'p34'
    end
  end
end

if a.mode == 'clear' and not had_hold then
  return cjson.encode({ status = 'no_hold' })
end

if a.mode == 'set' then
  local ttl = tonumber(a.ttl_ms)
  if not ttl or ttl < 1 then
    return redis.error_reply('manual_hold.lua: ttl_ms must be a TTL in ms >= 1')
  end
  redis.call('SET', KEYS[1], '1', 'PX', math.floor(ttl))
  redis.call('DEL', KEYS[2])
elseif a.mode == 'clear' then
  redis.call('DEL', KEYS[1], KEYS[2])
else
  return redis.error_reply('manual_hold.lua: mode must be set or clear')
end

local event = { 'XADD', KEYS[3], 'MAXLEN', '~', a.events_maxlen, '*' }
for _, v in ipairs(a.event) do
  event[#event + 1] = v
end
event[#event + 1] = 'previous_owner'
event[#event + 1] = previous
redis.call(unpack(event))
return cjson.encode({ status = 'ok', previous_owner = previous })
