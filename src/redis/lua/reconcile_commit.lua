--[[
reconcile_commit — applies one symbol's reconcile decision atomically (SPEC §7).
Spec (encode/decode): src/redis/scripts/reconcile-commit.ts

Everything that must change together changes here: the ledger (init / auto-repair, with a
compare-and-set), the evidence-used markers, the hold and its owner marker, the state hash
and the edge-triggered events. Events are detected HERE by comparing the stored state with
the new one, so two engines running at once can never emit the same event twice.

Hold ownership — by the exact expiry (SPEC §7). The engine's hold is KEYS[1] = "1" plus the
marker KEYS[2] = "p34:<E>", where E is the hold's PEXPIRETIME (ms) read right after the engine
set or re-armed it. The hold is the engine's only while its PEXPIRETIME still equals E: any
other expiry (an operator's `SETEX … 3600 1` or `EXPIRE` on top, a PERSIST) or a marker without
an expiry (a hand-written or older "p34") means someone else wrote the key, and the hold is
foreign from then on: never shortened, never deleted, no HOLD_CLEARED for it. When the engine
needs a hold and a foreign one exists, the marker becomes "shared" and the hold's TTL is raised
to at least the engine's (never shortened); when the condition clears, the marker is dropped
and the foreign hold lives on until it expires or an operator clears it.
Redis < 7.0 has no PEXPIRETIME, so no hold can be proved the engine's: the engine marks the
holds it sets "shared" (kept alive while needed, never deleted; each lapses within the hold
TTL after its condition ends) — fail closed, and the engine logs it once at start.

Key types are checked before the first write: a key of the wrong type is refused with
{status="wrong_type", key, found} and nothing is written. KEYS[5] (ledger) is checked only by
init/repair, the calls that read and write it: a status call leaves the ledger alone, so a
wrong-typed ledger can still be held for (SPEC §7 row 3, ledger_invalid).

Fenced (SPEC §11, LESSONS #24): a write of the `reconcile` role. After the type checks and
before the first write, the fence check (src/redis/scripts/fencing.ts) refuses an epoch
below the fence, a missing fence and one that holds no epoch: nothing is written, not even
the liveness fields a refusal below refreshes.

KEYS[1]  hold                 P:reconcile:hold:SYM
KEYS[2]  hold owner marker    P:posguard:hold:owner:SYM
KEYS[3]  state hash           P:reconcile:state:SYM
KEYS[4]  events stream        P:stream:reconcile.events
KEYS[5]  ledger hash          P:position:ledger:SYM
KEYS[6]  fence                P:posguard:fence:reconcile (string: the leader's epoch)
KEYS[7…] repair only, in pairs per evidence entry:
         evidence-used marker P:posguard:evidence:used:ENTRY
         result-applied marker P:posguard:result:applied:ENTRY (refused when already set:
         the fill is in the ledger; set by the repair so the brain never applies a fill the
         repair accounted for)
KEYS[#KEYS] repair only, when ARGV's order_marker is "set" or "check" (after the pairs):
         order-accounted marker P:posguard:order:accounted:SYM:ORDER — the order was
         accounted in the ledger by a repair from its unconfirmed record; brain_apply_fill
         refuses every confirmed fill of that order while it exists

ARGV[1]  JSON object, every scalar a string but the epoch:
  epoch          the writer's epoch (a number, from lease_acquire)
  action         "status" | "init" | "repair"
  symbol, status, reason
  hold_policy    "set" (hold, re-arm) | "keep" (re-arm an engine hold, start none) | "clear"
  now_ms, ts     now in ms and in integer seconds (time comes in, never TIME)
  hold_ttl_ms    engine hold TTL
  events_maxlen  MAXLEN ~ of the events stream
  state          {field: value} written to the state hash
  details        {field: value} added to every event
  expect         init/repair: {ledger field: raw value read, "" = absent} (compare-and-set)
  ledger         init/repair: {ledger field: value} to HSET
  ledger_ttl_ms  init/repair: ledger TTL, renewed on write
  event          init/repair: {field: value} added to the LEDGER_INIT / AUTO_REPAIR event
  evidence_ttl_ms, applied_ttl_ms   repair: marker TTLs (the order-accounted marker: applied)
  order_marker   repair: "set"   the evidence is an unconfirmed order: refused (evidence_used)
                                 when its order is already accounted, else the marker is set
                                 (value: the evidence entry ids)
                         "check" the evidence is one fill: refused (evidence_applied) when its
                                 order was accounted by an earlier repair
                         ""      no order marker (pending sums; no key-safe order id)

Reply: JSON object {status, hold_by, new_episode, events, hold_lost}
  status       "ok"
               "conflict"       the ledger changed since it was read: ledger untouched
               "evidence_used"  an evidence entry already justified a repair: ledger untouched
               "evidence_applied" an evidence entry was already applied to the ledger by the
                                brain (its result-applied marker exists), or its fill's order
                                was accounted by a repair, so it cannot explain the drift:
                                ledger untouched
               (on both refusals only last_seen_ts is refreshed and an engine hold re-armed;
               the next cycle decides again)
  hold_by      "p34" | "shared" | "foreign" | ""   who holds the symbol after the call
  new_episode  true when a hold episode started (or its reason changed)
  events       number of events written
  hold_lost    true when the hold of the current episode was gone (deleted or expired by
               someone else) and the engine set it again: counted by the caller, no event
               (one HOLD_SET per episode, however often something deletes the hold)
Refusals, nothing written: {status="wrong_type", key, found}
               {status="fenced", fence, epoch}  epoch below the fence, or the fence missing
               or holding no epoch (fence=null)
Error reply (a caller bug): ARGV[1] is not a JSON object.
]]
local a = cjson.decode(ARGV[1])
local hold_key, owner_key, state_key, events_key, ledger_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local fence_key = KEYS[6]
local ttl = tonumber(a.hold_ttl_ms)
-- The evidence pairs end before the order-accounted marker, when there is one.
local order_key, pairs_end = nil, #KEYS
if a.action == 'repair' and (a.order_marker == 'set' or a.order_marker == 'check') then
  order_key, pairs_end = KEYS[#KEYS], #KEYS - 1
end

-- 0. Every key this call touches has its type (or is absent) before anything is written.
local expected = { { hold_key, 'string' }, { owner_key, 'string' }, { state_key, 'hash' },
  { events_key, 'stream' }, { fence_key, 'string' } }
if a.action == 'init' or a.action == 'repair' then expected[#expected + 1] = { ledger_key, 'hash' } end
if a.action == 'repair' then
  for i = 7, #KEYS do expected[#expected + 1] = { KEYS[i], 'string' } end
end
for _, want in ipairs(expected) do
  local found = redis.call('TYPE', want[1]).ok
  if found ~= 'none' and found ~= want[2] then
    return cjson.encode({ status = 'wrong_type', key = want[1], found = found })
  end
end

-- fence check (SPEC §11; src/redis/scripts/fencing.ts): nothing is written below the fence
local fence = redis.call('GET', fence_key)
fence = fence and string.match(fence, '^%d+$') and tonumber(fence) or nil
if fence == nil or type(a.epoch) ~= 'number' or a.epoch < fence then
  return cjson.encode({ status = 'fenced', fence = fence or cjson.null, epoch = a.epoch })
end

-- The hold's absolute expiry in ms (-1 none); false when the server has no PEXPIRETIME.
local function hold_expiry()
  local at = redis.pcall('PEXPIRETIME', hold_key)
  if type(at) ~= 'number' then return false end
  return at
end

local function current_holder()
  if redis.call('EXISTS', hold_key) == 0 then return '' end
  local owner = redis.call('GET', owner_key)
  if owner == 'shared' then return 'shared' end
  if owner and string.sub(owner, 1, 4) == 'p34:' then
    local at = hold_expiry()
    if at and at > 0 and tonumber(string.sub(owner, 5)) == at then return 'p34' end
  end
  return 'foreign'
end

-- After the engine set or re-armed the hold: record the exact expiry it now has.
local function mark_own_hold()
  local at = hold_expiry()
  if at and at > 0 then
    redis.call('SET', owner_key, string.format('p34:%d', at), 'PX', ttl)
    return 'p34'
  end
  -- No PEXPIRETIME (Redis < 7.0): this hold could never be proved the engine's later, so it
  -- is kept like a shared one (alive while needed, never deleted).
  redis.call('SET', owner_key, 'shared', 'PX', ttl)
  return 'shared'
end

local function rearm_own_hold()
  redis.call('PEXPIRE', hold_key, ttl)
  return mark_own_hold()
end

-- Refusal: nothing changes but liveness (last_seen_ts, an engine hold's TTL).
local function refuse(code)
  local holder = current_holder()
  if holder == 'p34' then holder = rearm_own_hold() end
  redis.call('HSET', state_key, 'last_seen_ts', a.ts, 'ts_ms', a.now_ms)
  return cjson.encode({ status = code, hold_by = holder, new_episode = false, events = 0,
    hold_lost = false })
end

local function append_sorted(args, tbl)
  if type(tbl) ~= 'table' then return end
  local names = {}
  for name in pairs(tbl) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    args[#args + 1] = name
    args[#args + 1] = tostring(tbl[name])
  end
end

local emitted = 0
local function emit(event, reason, extra)
  local args = { events_key, 'MAXLEN', '~', a.events_maxlen, '*',
    'event', event, 'symbol', a.symbol, 'ts', a.ts, 'ts_ms', a.now_ms, 'reason', reason }
  append_sorted(args, a.details)
  append_sorted(args, extra)
  redis.call('XADD', unpack(args))
  emitted = emitted + 1
end

local function ledger_unchanged()
  for field, want in pairs(a.expect) do
    local have = redis.call('HGET', ledger_key, field)
    if have == false then have = '' end
    if have ~= want then return false end
  end
  return true
end

local function write_ledger()
  local args = {}
  append_sorted(args, a.ledger)
  redis.call('HSET', ledger_key, unpack(args))
  redis.call('PEXPIRE', ledger_key, a.ledger_ttl_ms)
end

-- 1. Ledger changes (init / repair) — refused as a whole or done as a whole.
if a.action == 'init' or a.action == 'repair' then
  if not ledger_unchanged() then return refuse('conflict') end
  if a.action == 'repair' then
    for i = 7, pairs_end, 2 do
      if redis.call('EXISTS', KEYS[i]) == 1 then return refuse('evidence_used') end
      -- A fill the brain already applied is part of the ledger: it cannot explain a drift.
      if redis.call('EXISTS', KEYS[i + 1]) == 1 then return refuse('evidence_applied') end
    end
    -- An order a repair already accounted for: another record of it (a retried publish, its
    -- confirmed fill) is part of the ledger too.
    if order_key and redis.call('EXISTS', order_key) == 1 then
      if a.order_marker == 'set' then return refuse('evidence_used') end
      return refuse('evidence_applied')
    end
    for i = 7, pairs_end, 2 do
      redis.call('SET', KEYS[i], '1', 'PX', a.evidence_ttl_ms)
      redis.call('SET', KEYS[i + 1], '1', 'PX', a.applied_ttl_ms, 'NX')
    end
    if order_key and a.order_marker == 'set' then
      local accounted_by = (a.event and a.event.evidence_entry_ids) or '1'
      redis.call('SET', order_key, accounted_by, 'PX', a.applied_ttl_ms)
    end
  end
  write_ledger()
end

-- 2. The hold, by ownership.
local prev = redis.call('HMGET', state_key, 'status', 'reason', 'since_ts', 'since_ts_ms', 'episode_reason')
local prev_status, prev_reason = prev[1] or '', prev[2] or ''
local since_ts, since_ms, prev_episode = prev[3] or '', prev[4] or '', prev[5] or ''
local holder = current_holder()
local lost, cleared = 0, false

local function share_foreign_hold()
  local pttl = redis.call('PTTL', hold_key)
  if pttl >= 0 and pttl < ttl then redis.call('PEXPIRE', hold_key, ttl) end
  redis.call('SET', owner_key, 'shared', 'PX', ttl)
  return 'shared'
end

if a.hold_policy == 'set' then
  if holder == '' then
    redis.call('SET', hold_key, '1', 'PX', ttl)
    if prev_episode == a.reason then lost = 1 end
    holder = mark_own_hold()
  elseif holder == 'p34' then
    holder = rearm_own_hold()
  else
    holder = share_foreign_hold()
  end
elseif a.hold_policy == 'keep' then
  if holder == 'p34' then
    holder = rearm_own_hold()
  elseif holder == 'shared' then
    holder = share_foreign_hold()
  else
    -- No hold, or a foreign one: a marker left beside it vouches for nothing.
    redis.call('DEL', owner_key)
  end
else
  if holder == 'p34' then
    redis.call('DEL', hold_key, owner_key)
    cleared = true
    holder = ''
  else
    redis.call('DEL', owner_key)
    if holder == 'shared' then holder = 'foreign' end
  end
end

-- 3. Episodes and edge-triggered events.
local episode, new_episode = prev_episode, 0
if a.hold_policy == 'set' then
  if prev_episode ~= a.reason then new_episode = 1 end
  episode = a.reason
elseif a.hold_policy == 'clear' then
  episode = ''
end

if a.action == 'init' then emit('LEDGER_INIT', a.reason, a.event) end
if a.action == 'repair' then emit('AUTO_REPAIR', a.reason, a.event) end
if new_episode == 1 then
  emit('HOLD_SET', a.reason, { hold_by = holder })
  if a.status == 'MANUAL_REQUIRED' then emit('MANUAL_REQUIRED', a.reason, {}) end
end
if cleared then
  local was = prev_episode
  if was == '' then was = prev_reason end
  emit('HOLD_CLEARED', was, { resolution = a.status .. '/' .. a.reason })
end

-- 4. The state hash, every call.
if a.status ~= prev_status or a.reason ~= prev_reason or since_ts == '' then
  since_ts, since_ms = a.ts, a.now_ms
end
local args = { state_key, 'status', a.status, 'reason', a.reason, 'since_ts', since_ts,
  'since_ts_ms', since_ms, 'hold_by', holder, 'episode_reason', episode,
  'last_seen_ts', a.ts, 'ts_ms', a.now_ms }
if a.action == 'repair' then
  args[#args + 1] = 'last_fix_ts_ms'
  args[#args + 1] = a.now_ms
end
append_sorted(args, a.state)
redis.call('HSET', unpack(args))

return cjson.encode({ status = 'ok', hold_by = holder, new_episode = new_episode == 1,
  events = emitted, hold_lost = lost == 1 })
