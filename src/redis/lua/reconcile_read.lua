--[[
reconcile_read — everything the engine reads about one symbol, in one reply. The engine
queues one call per symbol on the cycle's read pipeline (far fewer replies for the client
to parse than seven plain commands). Read-only; a key of the wrong type is reported in its
slot instead of failing the call.

KEYS[1]  snapshot hash     P:position:snapshot:SYM
KEYS[2]  ledger hash       P:position:ledger:SYM
KEYS[3]  hold              P:reconcile:hold:SYM
KEYS[4]  hold owner marker P:posguard:hold:owner:SYM
KEYS[5]  state hash        P:reconcile:state:SYM
KEYS[6]  lot size hash     P:posguard:symbol:SYM

ARGV     none

Reply: { snapshot, ledger, hold, hold_pttl_ms, owner, state, lot }
  snapshot, ledger, state, lot  flat field/value arrays, or the string "WRONGTYPE"
  hold, owner                   the value, "" when absent, "WRONGTYPE" when not a string
  hold_pttl_ms                  PTTL of the hold (-2 absent, -1 no expiry)
]]
local function hash(key)
  local ok = redis.pcall('HGETALL', key)
  if type(ok) == 'table' and ok.err then return 'WRONGTYPE' end
  return ok
end

local function str(key)
  local ok = redis.pcall('GET', key)
  if type(ok) == 'table' and ok.err then return 'WRONGTYPE' end
  if ok == false then return '' end
  return ok
end

return { hash(KEYS[1]), hash(KEYS[2]), str(KEYS[3]), redis.call('PTTL', KEYS[3]), str(KEYS[4]), hash(KEYS[5]), hash(KEYS[6]) }
