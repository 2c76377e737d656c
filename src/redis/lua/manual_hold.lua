--[[
manual_hold.lua — an operator sets or clears a symbol's hold (posguard SPEC §10).

KEYS[1]  hold key           P:reconcile:hold:SYM
KEYS[2]  hold owner marker  P:posguard:hold:owner:SYM ("p34:<expiry ms>" = the engine's hold
                            while the hold's PEXPIRETIME still equals it; "shared")
KEYS[3]  events stream      P:stream:reconcile.events
ARGV[1]  mode: "set" | "clear"
ARGV[2]  hold TTL in ms (set; ignored for clear)
ARGV[3]  events stream MAXLEN (approximate trim)
ARGV[4…] the event's field/value pairs (event, symbol, ts, ts_ms, reason, operator, …)

set:   SET hold "1" PX ttl, DEL the owner marker (the hold is now the operator's, so the
       engine will never delete it), XADD the event with previous_owner appended.
       Reply {'OK', previous_owner}
clear: DEL hold and marker, XADD the event with previous_owner appended.
       Reply {'OK', previous_owner}, or {'NO_HOLD', ''} when there was no hold (nothing
       written, no event).
       {'WRONG_TYPE', key, type} when KEYS[1] or KEYS[2] is not a string or KEYS[3] not a
       stream: checked before any write, so nothing is written (either mode).
previous_owner = none | p34 (the engine's: its marker's expiry is the hold's PEXPIRETIME)
               | shared | operator (anything else: no marker, or one that does not match —
               the same rule as reconcile_commit.lua and src/domain/hold-owner.ts).
Time comes in the event fields; the script reads no clock.
]]

for i, want in ipairs({ 'string', 'string', 'stream' }) do
  local found = redis.call('TYPE', KEYS[i]).ok
  if found ~= 'none' and found ~= want then
    return { 'WRONG_TYPE', KEYS[i], found }
  end
end

local mode = ARGV[1]
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

if mode == 'clear' and not had_hold then
  return { 'NO_HOLD', '' }
end

if mode == 'set' then
  local ttl = tonumber(ARGV[2])
  if not ttl or ttl < 1 then
    return redis.error_reply('manual_hold.lua: ARGV[2] must be a TTL in ms >= 1')
  end
  redis.call('SET', KEYS[1], '1', 'PX', math.floor(ttl))
  redis.call('DEL', KEYS[2])
elseif mode == 'clear' then
  redis.call('DEL', KEYS[1], KEYS[2])
else
  return redis.error_reply('manual_hold.lua: ARGV[1] must be set or clear')
end

local event = { 'XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*' }
for i = 4, #ARGV do
  event[#event + 1] = ARGV[i]
end
event[#event + 1] = 'previous_owner'
event[#event + 1] = previous
redis.call(unpack(event))
return { 'OK', previous }
