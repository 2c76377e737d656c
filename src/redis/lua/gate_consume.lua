--[[
gate_consume.lua — the Apply Layer's permit gate (posguard SPEC §6).
Spec (encode/decode): src/redis/scripts/gate-consume.ts

Checks the P3.2 Governor permit and the P3.3 position permit of one plan and consumes
BOTH atomically, or NEITHER. An Apply Layer in any language can run this file as is
(EVAL / EVALSHA with 2 keys and the one argument {}), see docs/apply-layer-integration.md.

KEYS[1]  governor permit   e.g. quantum:permit:governor:<plan_id>
KEYS[2]  P3.3 permit       e.g. quantum:permit:p33:<plan_id>
ARGV[1]  JSON object: no fields yet, pass {}. Anything that is not a JSON object is an
         error reply (nothing deleted).

Reply: JSON object
  {status="consumed", permit=<P3.3 permit JSON exactly as stored, a string>}
      Both permits passed and both keys were deleted. Read safe_close_qty from the
      permit JSON (decode it as a decimal, not a binary float).
  {status="missing_permit_or_redis"}
      No governor permit. Nothing deleted.
  {status="governor_denied", reason}
      reason = not_granted | wrong_type | invalid. Nothing deleted.
  {status="missing_or_denied_p33_permit", reason}
      reason = missing | wrong_type | invalid | <the permit's deny reason> | denied.
      Nothing deleted. Only `missing` is worth waiting for (the brain may not have
      answered the plan yet); every other refusal is final.

Accepted forms (fail closed on anything else):
  governor permit: a JSON object whose `granted` is true, 1, or the string
                   "true"/"1"/"yes" (any case). A bare value ("1", "granted") is invalid.
  P3.3 permit:     a JSON object (as posguard's brain writes it) with string `plan_id`
                   and `symbol`, `allow` exactly JSON true, and `safe_close_qty` a decimal
                   whose double value is > 0 and < 1e18 (JSON number, or a decimal string
                   without blanks, exponent allowed). `allow` false → the permit's
                   `reason` (or `denied`); any other `allow` → invalid.
A key of the wrong type (e.g. a hash written by a bypass script) is refused with
wrong_type, never an error reply (posguard LESSONS #18).
]]

local function read_string(key)
  local value = redis.pcall('GET', key)
  if type(value) == 'table' and value.err then
    return nil, 'wrong_type'
  end
  if not value then
    return nil, 'missing'
  end
  return value, nil
end

local function decode_object(raw)
  local ok, obj = pcall(cjson.decode, raw)
  if not ok or type(obj) ~= 'table' or obj[1] ~= nil then
    return nil
  end
  return obj
end

local TRUE_WORDS = { ['true'] = true, ['1'] = true, ['yes'] = true }

local function is_true(value)
  if value == true or value == 1 then
    return true
  end
  return type(value) == 'string' and TRUE_WORDS[string.lower(value)] == true
end

-- Same grammar as posguard's parseAmount: [+]digits[.digits] or [+].digits, optional
-- exponent of 1–3 digits; at most 64 characters.
local function is_decimal_text(text)
  if string.len(text) == 0 or string.len(text) > 64 then
    return false
  end
  local mantissa, exponent = string.match(text, '^([^eE]+)[eE]([%+%-]?%d%d?%d?)$')
  if not mantissa then
    mantissa = text
  end
  return string.match(mantissa, '^%+?%d+%.?%d*$') ~= nil or string.match(mantissa, '^%+?%.%d+$') ~= nil
end

-- Decimal places as posguard's codec counts them (trailing zeros do not count); the codec
-- refuses more than 30, so the script does too and never consumes a permit the Apply Layer
-- could not read exactly.
local MAX_DECIMALS = 30
local function decimal_places(text)
  local mantissa, exponent = string.match(text, '^([^eE]+)[eE]([%+%-]?%d+)$')
  if not mantissa then
    mantissa, exponent = text, '0'
  end
  local fraction = string.match(mantissa, '%.(%d*)$') or ''
  fraction = string.gsub(fraction, '0+$', '')
  local places = string.len(fraction) - tonumber(exponent)
  if places < 0 then
    return 0
  end
  return places
end

-- The literal text of a JSON number field (cjson hands Lua a double, which hides digits).
-- Nil when the field is not found exactly once as a plain number literal.
local function number_literal(raw, field)
  local needle = '"' .. field .. '"'
  local first = string.find(raw, needle, 1, true)
  if not first or string.find(raw, needle, first + 1, true) then
    return nil
  end
  return string.match(raw, '^%s*:%s*(%-?[%d%.eE%+%-]+)', first + string.len(needle))
end

local function positive_qty(value, raw)
  local n, text
  if type(value) == 'number' then
    n, text = value, number_literal(raw, 'safe_close_qty')
    if not text or not is_decimal_text(text) then
      return false
    end
  elseif type(value) == 'string' and is_decimal_text(value) then
    n, text = tonumber(value), value
  else
    return false
  end
  if decimal_places(text) > MAX_DECIMALS then
    return false
  end
  -- n == n rejects NaN; the upper bound rejects Infinity and absurd sizes.
  return n ~= nil and n == n and n > 0 and n < 1e18
end

local function deny_reason(permit)
  local reason = permit['reason']
  if type(reason) == 'string' and reason ~= '' then
    return string.sub(reason, 1, 200)
  end
  return 'denied'
end

local function reply(status, fields)
  fields = fields or {}
  fields.status = status
  return cjson.encode(fields)
end

if not decode_object(ARGV[1] or '') then
  return redis.error_reply('gate_consume: ARGV[1] must be a JSON object ({}); see docs/apply-layer-integration.md')
end

local gov_raw, gov_problem = read_string(KEYS[1])
if gov_problem == 'missing' then
  return reply('missing_permit_or_redis')
end
if gov_problem then
  return reply('governor_denied', { reason = gov_problem })
end
local governor = decode_object(gov_raw)
if not governor then
  return reply('governor_denied', { reason = 'invalid' })
end
if not is_true(governor['granted']) then
  return reply('governor_denied', { reason = 'not_granted' })
end

local p33_raw, p33_problem = read_string(KEYS[2])
if p33_problem then
  return reply('missing_or_denied_p33_permit', { reason = p33_problem })
end
local permit = decode_object(p33_raw)
if not permit or type(permit['plan_id']) ~= 'string' or type(permit['symbol']) ~= 'string' then
  return reply('missing_or_denied_p33_permit', { reason = 'invalid' })
end
if permit['allow'] == false then
  return reply('missing_or_denied_p33_permit', { reason = deny_reason(permit) })
end
if permit['allow'] ~= true then
  return reply('missing_or_denied_p33_permit', { reason = 'invalid' })
end
if not positive_qty(permit['safe_close_qty'], p33_raw) then
  return reply('missing_or_denied_p33_permit', { reason = 'invalid' })
end

redis.call('DEL', KEYS[1], KEYS[2])
return reply('consumed', { permit = p33_raw })
