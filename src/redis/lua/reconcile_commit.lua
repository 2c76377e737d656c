--[[
reconcile_commit — applies one symbol's reconcile decision atomically (SPEC §7).

Everything that must change together changes here: the ledger (init / auto-repair, with a
compare-and-set), the evidence-used markers, the hold and its owner marker, the state hash
and the edge-triggered events. Events are detected HERE by comparing the stored state with
the new one, so two engines running at once can never emit the same event twice.

Hold ownership: the engine's hold is KEYS[1] = "1" plus KEYS[2] = "p34", same TTL. A hold
without the marker is foreign (operator, CLI, redis-cli SETEX): when the engine needs a hold
and a foreign one exists, the marker becomes "shared" and the hold's TTL is raised to at
least the engine's (never shortened). A foreign hold is never deleted; when the condition
clears, a "shared" marker is dropped and the foreign hold lives on.

KEYS[1]  hold                 P:reconcile:hold:SYM
KEYS[2]  hold owner marker    P:posguard:hold:owner:SYM
KEYS[3]  state hash           P:reconcile:state:SYM
KEYS[4]  events stream        P:stream:reconcile.events
KEYS[5]  ledger hash          P:position:ledger:SYM
KEYS[6…] repair only, in pairs per evidence entry:
         evidence-used marker P:posguard:evidence:used:ENTRY
         result-applied marker P:posguard:result:applied:ENTRY (refused when already set:
         the fill is in the ledger; set by the repair so the brain never applies a fill the
         repair accounted for)

ARGV[1]  JSON object, every scalar a string:
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
  evidence_ttl_ms, applied_ttl_ms   repair: marker TTLs

Reply: { code, hold_by, new_episode, events }
  code         "ok"
               "conflict"       the ledger changed since it was read: ledger untouched
               "evidence_used"  an evidence entry already justified a repair: ledger untouched
               "evidence_applied" an evidence entry was already applied to the ledger by the
                                brain (its result-applied marker exists), so it cannot explain
                                the drift: ledger untouched
               (on both refusals only last_seen_ts is refreshed and an engine hold re-armed;
               the next cycle decides again)
  hold_by      "p34" | "shared" | "foreign" | ""   who holds the symbol after the call
  new_episode  1 when a hold episode started (or its reason changed), else 0
  events       number of events written
]]
local p = cjson.decode(ARGV[1])
local hold_key, owner_key, state_key, events_key, ledger_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local ttl = tonumber(p.hold_ttl_ms)

local function current_holder()
  if redis.call('EXISTS', hold_key) == 0 then return '' end
  local owner = redis.call('GET', owner_key)
  if owner == 'p34' or owner == 'shared' then return owner end
  return 'foreign'
end

local function rearm_own_hold(holder)
  if holder == 'p34' then
    redis.call('PEXPIRE', hold_key, ttl)
    redis.call('PEXPIRE', owner_key, ttl)
  end
end

-- Refusal: nothing changes but liveness (last_seen_ts, an engine hold's TTL).
local function refuse(code)
  local holder = current_holder()
  rearm_own_hold(holder)
  redis.call('HSET', state_key, 'last_seen_ts', p.ts, 'ts_ms', p.now_ms)
  return { code, holder, 0, 0 }
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
  local args = { events_key, 'MAXLEN', '~', p.events_maxlen, '*',
    'event', event, 'symbol', p.symbol, 'ts', p.ts, 'ts_ms', p.now_ms, 'reason', reason }
  append_sorted(args, p.details)
  append_sorted(args, extra)
  redis.call('XADD', unpack(args))
  emitted = emitted + 1
end

local function ledger_unchanged()
  for field, want in pairs(p.expect) do
    local have = redis.call('HGET', ledger_key, field)
    if have == false then have = '' end
    if have ~= want then return false end
  end
  return true
end

local function write_ledger()
  local args = {}
  append_sorted(args, p.ledger)
  redis.call('HSET', ledger_key, unpack(args))
  redis.call('PEXPIRE', ledger_key, p.ledger_ttl_ms)
end

-- 1. Ledger changes (init / repair) — refused as a whole or done as a whole.
if p.action == 'init' or p.action == 'repair' then
  if not ledger_unchanged() then return refuse('conflict') end
  if p.action == 'repair' then
    for i = 6, #KEYS, 2 do
      if redis.call('EXISTS', KEYS[i]) == 1 then return refuse('evidence_used') end
      -- A fill the brain already applied is part of the ledger: it cannot explain a drift.
      if redis.call('EXISTS', KEYS[i + 1]) == 1 then return refuse('evidence_applied') end
    end
    for i = 6, #KEYS, 2 do
      redis.call('SET', KEYS[i], '1', 'PX', p.evidence_ttl_ms)
      redis.call('SET', KEYS[i + 1], '1', 'PX', p.applied_ttl_ms, 'NX')
    end
  end
  write_ledger()
end

-- 2. The hold, by ownership.
local prev = redis.call('HMGET', state_key, 'status', 'reason', 'since_ts', 'since_ts_ms', 'episode_reason')
local prev_status, prev_reason = prev[1] or '', prev[2] or ''
local since_ts, since_ms, prev_episode = prev[3] or '', prev[4] or '', prev[5] or ''
local holder = current_holder()
local restored, cleared = false, false

local function share_foreign_hold()
  local pttl = redis.call('PTTL', hold_key)
  if pttl >= 0 and pttl < ttl then redis.call('PEXPIRE', hold_key, ttl) end
  redis.call('SET', owner_key, 'shared', 'PX', ttl)
  return 'shared'
end

if p.hold_policy == 'set' then
  if holder == '' then
    redis.call('SET', hold_key, '1', 'PX', ttl)
    redis.call('SET', owner_key, 'p34', 'PX', ttl)
    restored = (prev_episode == p.reason)
    holder = 'p34'
  elseif holder == 'p34' then
    rearm_own_hold(holder)
  else
    holder = share_foreign_hold()
  end
elseif p.hold_policy == 'keep' then
  if holder == 'p34' then
    rearm_own_hold(holder)
  elseif holder == 'shared' then
    holder = share_foreign_hold()
  elseif holder == '' then
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
if p.hold_policy == 'set' then
  if prev_episode ~= p.reason then new_episode = 1 end
  episode = p.reason
elseif p.hold_policy == 'clear' then
  episode = ''
end

if p.action == 'init' then emit('LEDGER_INIT', p.reason, p.event) end
if p.action == 'repair' then emit('AUTO_REPAIR', p.reason, p.event) end
if new_episode == 1 then
  emit('HOLD_SET', p.reason, { hold_by = holder })
  if p.status == 'MANUAL_REQUIRED' then emit('MANUAL_REQUIRED', p.reason, {}) end
elseif restored then
  emit('HOLD_SET', p.reason, { hold_by = holder, restored = '1' })
end
if cleared then
  local was = prev_episode
  if was == '' then was = prev_reason end
  emit('HOLD_CLEARED', was, { resolution = p.status .. '/' .. p.reason })
end

-- 4. The state hash, every call.
if p.status ~= prev_status or p.reason ~= prev_reason or since_ts == '' then
  since_ts, since_ms = p.ts, p.now_ms
end
local args = { state_key, 'status', p.status, 'reason', p.reason, 'since_ts', since_ts,
  'since_ts_ms', since_ms, 'hold_by', holder, 'episode_reason', episode,
  'last_seen_ts', p.ts, 'ts_ms', p.now_ms }
if p.action == 'repair' then
  args[#args + 1] = 'last_fix_ts_ms'
  args[#args + 1] = p.now_ms
end
append_sorted(args, p.state)
redis.call('HSET', unpack(args))

return { 'ok', holder, new_episode, emitted }
