--[[
reconcile_steady — the steady-OK fast path for a batch of symbols (SPEC §7): each symbol
was OK, is still OK, and has no hold and no owner marker, so nothing can change edge-wise
and only its liveness and amounts move. One call per batch (a few hundred symbols) replaces
one HSET per symbol on the cycle's write pipeline. Status, reason, since_ts, hold_by and
episode_reason are left as they are; holds and events are never touched here (symbols that
need them go through reconcile_commit, one atomic call each).

KEYS[i]  state hash of symbol i   P:reconcile:state:SYM

ARGV[1]  ts       now in integer seconds (time comes in, never TIME) -> last_seen_ts
ARGV[2]  now_ms   now in ms                                          -> ts_ms
ARGV[3]  JSON object, every value a string:
           fields  [name, …]              the state fields every row sets
           rows    [[value, …], …]        one row per key, values in `fields` order

Reply: { written, i1, error1, i2, error2, … }
  written       number of state hashes written
  i, error      the 1-based KEYS index of a symbol whose write was refused and why:
                "wrong_type <key> <type>" when its state key is not a hash (HSET checks the
                type before writing, so nothing is written for that symbol), else Redis'
                error text; the other symbols are written regardless — each symbol is its
                own unit, one wrong key never stops the batch
A rows count that differs from the KEYS count is an error (nothing is written).
]]
local p = cjson.decode(ARGV[3])
local names, rows = p.fields, p.rows
if #rows ~= #KEYS then return redis.error_reply('reconcile_steady: one row per key') end

local reply = { 0 }
for i = 1, #KEYS do
  local row = rows[i]
  local args = { 'last_seen_ts', ARGV[1], 'ts_ms', ARGV[2] }
  for j = 1, #names do
    args[#args + 1] = names[j]
    args[#args + 1] = row[j]
  end
  local result = redis.pcall('HSET', KEYS[i], unpack(args))
  if type(result) == 'table' and result.err ~= nil then
    reply[#reply + 1] = i
    local found = redis.call('TYPE', KEYS[i]).ok
    if found ~= 'hash' and found ~= 'none' then
      reply[#reply + 1] = 'wrong_type ' .. KEYS[i] .. ' ' .. found
    else
      reply[#reply + 1] = result.err
    end
  else
    reply[1] = reply[1] + 1
  end
end
return reply
