--[[
reconcile_read_batch — everything the engine reads about a batch of symbols, in ONE reply.
The engine queues one call per batch (a few hundred symbols) on the cycle's read pipeline:
one reply to decode per batch instead of one per symbol, and one JSON string instead of
thousands of RESP elements (the client's RESP decoding was the cycle's largest cost).
Read-only; a key of the wrong type is reported in its slot instead of failing the call.
Spec (encode/decode): src/redis/scripts/reconcile-read-batch.ts

KEYS     six per symbol, symbol after symbol (KEYS[6(i-1)+1 … 6i] for symbol i):
  +1  snapshot hash     P:position:snapshot:SYM
  +2  ledger hash       P:position:ledger:SYM
  +3  hold              P:reconcile:hold:SYM
  +4  hold owner marker P:posguard:hold:owner:SYM
  +5  state hash        P:reconcile:state:SYM
  +6  lot size hash     P:posguard:symbol:SYM

ARGV[1]  JSON object: the fields to read from each hash, by name lists
           { snapshot: [field, …], ledger: […], state: […], lot: […] }

Reply: JSON object {status="ok", symbols=[entry, …]}, one entry per symbol in KEYS order
(symbols is {} when there are none: cjson writes an empty table as an object); an entry:
  [ snapshot, ledger, hold, hold_pttl_ms, owner, state, lot, hold_expire_at_ms ]
  snapshot, ledger,     the hash's values of its field list (HMGET order, false when the
  state, lot            field is absent); when NONE of the listed fields exists, the whole
                        hash instead, as { "full": flat HGETALL array } ({} when the key is
                        absent) — so the client sees exactly which fields exist, and an
                        absent key stays distinguishable from a hash of other fields.
                        The string "WRONGTYPE" when the key is not a hash.
  hold, owner           the value, "" when absent, "WRONGTYPE" when not a string
  hold_pttl_ms          PTTL of the hold (-2 absent, -1 no expiry)
  hold_expire_at_ms     PEXPIRETIME of the hold (-2 absent, -1 no expiry, -3 unknown: Redis
                        < 7.0 has no PEXPIRETIME) — the engine's hold is the one whose
                        expiry its owner marker recorded (SPEC §7)
Error reply (a caller bug): a KEYS count that is not a multiple of 6.
]]
if #KEYS % 6 ~= 0 then return redis.error_reply('reconcile_read_batch: KEYS must come in sixes') end

local function failed(reply)
  return type(reply) == 'table' and reply.err ~= nil
end

local lists = cjson.decode(ARGV[1])

-- The listed fields of a hash; the whole hash when none of them exists.
local function project(key, names)
  local reply = redis.pcall('HMGET', key, unpack(names))
  if failed(reply) then return 'WRONGTYPE' end
  for j = 1, #names do
    if reply[j] then return reply end
  end
  local all = redis.pcall('HGETALL', key)
  if failed(all) then return 'WRONGTYPE' end
  return { full = all }
end

local function str(key)
  local reply = redis.pcall('GET', key)
  if failed(reply) then return 'WRONGTYPE' end
  if reply == false then return '' end
  return reply
end

local out = {}
for i = 1, #KEYS, 6 do
  local pttl = redis.call('PTTL', KEYS[i + 2])
  -- Most symbols hold nothing: PTTL -2 already says the hold key is absent.
  local hold, expire_at = '', -2
  if pttl ~= -2 then
    hold = str(KEYS[i + 2])
    expire_at = redis.pcall('PEXPIRETIME', KEYS[i + 2])
    if type(expire_at) ~= 'number' then expire_at = -3 end
  end
  out[#out + 1] = {
    project(KEYS[i], lists.snapshot), project(KEYS[i + 1], lists.ledger), hold, pttl,
    str(KEYS[i + 3]), project(KEYS[i + 4], lists.state), project(KEYS[i + 5], lists.lot),
    expire_at,
  }
end
return cjson.encode({ status = 'ok', symbols = out })
