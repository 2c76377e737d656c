--[[
reconcile_steady — the steady-OK fast path for a batch of symbols (SPEC §7): each symbol
was OK, is still OK, and has no hold and no owner marker, so nothing can change edge-wise
and only its liveness and amounts move. One call per batch (a few hundred symbols) replaces
one HSET per symbol on the cycle's write pipeline. Status, reason, since_ts, hold_by and
episode_reason are left as they are; holds and events are never touched here (symbols that
need them go through reconcile_commit, one atomic call each).
Spec (encode/decode): src/redis/scripts/reconcile-steady.ts

KEYS[i]  state hash of symbol i   P:reconcile:state:SYM

ARGV[1]  JSON object, every value a string:
  ts      now in integer seconds (time comes in, never TIME)  -> last_seen_ts
  now_ms  now in ms                                          -> ts_ms
  fields  [name, …]              the state fields every row sets
  rows    [[value, …], …]        one row per key, values in `fields` order

Reply: JSON object (each symbol is its own unit, one wrong key never stops the batch, so
the batch always answers "ok")
  {status="ok", keys, written, wrong_type?, failed?}
    keys        #KEYS
    written     number of state hashes written
    wrong_type  [{i, key, found}, …]  the 1-based KEYS index of a symbol whose state key is
                                      not a hash, and the type it holds (HSET checks the
                                      type before writing: nothing written for it)
    failed      [{i, error}, …]       a row Redis refused for another reason (its error text)
    (a list that would be empty is left out)
Error reply (a caller bug; nothing written): a rows count that differs from the KEYS count.
]]
local p = cjson.decode(ARGV[1])
local names, rows = p.fields, p.rows
if #rows ~= #KEYS then return redis.error_reply('reconcile_steady: one row per key') end

local written, wrong_type, failed = 0, {}, {}
for i = 1, #KEYS do
  local row = rows[i]
  local args = { 'last_seen_ts', p.ts, 'ts_ms', p.now_ms }
  for j = 1, #names do
    args[#args + 1] = names[j]
    args[#args + 1] = row[j]
  end
  local result = redis.pcall('HSET', KEYS[i], unpack(args))
  if type(result) == 'table' and result.err ~= nil then
    local found = redis.call('TYPE', KEYS[i]).ok
    if found ~= 'hash' and found ~= 'none' then
      wrong_type[#wrong_type + 1] = { i = i, key = KEYS[i], found = found }
    else
      failed[#failed + 1] = { i = i, error = result.err }
    end
  else
    written = written + 1
  end
end

local reply = { status = 'ok', keys = #KEYS, written = written }
if #wrong_type > 0 then reply.wrong_type = wrong_type end
if #failed > 0 then reply.failed = failed end
return cjson.encode(reply)
