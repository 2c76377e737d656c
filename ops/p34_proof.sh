#!/usr/bin/env bash
# shellcheck disable=SC2154  # PG_* / K_* are assigned by load_config (eval of resolve_config in lib/proof-common.sh)
# ops/p34_proof.sh — proves a RUNNING P3.4 Reconcile Engine behaves as the seed says.
#
#   ops/p34_proof.sh [--env-file /etc/quantum/reconcile-engine.env]
#                    [--brain-env-file /etc/quantum/position-state-brain.env]
#                    [--symbol PROOFUSDT] [--require-all]
#
# Checks, on a DEDICATED symbol (default PROOFUSDT, in P34_ALLOWLIST and P33_ALLOWLIST):
#   metrics      :8046/metrics answers with the seed's five p34_reconcile_* metrics; /healthz, /readyz
#   heartbeat    P:reconcile:heartbeat present and fresh
#   state        P:reconcile:state:SYM carries the seed's fields, refreshed every cycle
#   drift → hold ledger_amt edited 10% off (no evidence) → hold set, state HOLD
#                qty_mismatch_no_evidence with the amounts, one HOLD_SET event, hold metric 1
#   manual fix   `HSET ledger_amt <exchange amount>` (the seed's fix) → hold cleared within a
#                few cycles, HOLD_CLEARED event
#   side mismatch ledger_side flipped → MANUAL_REQUIRED side_mismatch with a hold; flipping it
#                back clears it
# The exchange position comes from the simulated venue's control API (BINANCE_BASE_URL from
# the brain's env file): 0.050. Against a real exchange nothing is traded: the drift checks
# use the symbol's current position (a flat symbol works), side mismatch needs a position.
# The ledger is restored after each check; with the venue the symbol is left flat, OK.
# Output: one PASS/FAIL/SKIP line per check; exit 1 on any FAIL (or SKIP with --require-all).
set -uo pipefail

# shellcheck source=ops/lib/proof-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/proof-common.sh"
PROOF_NAME=p34_proof

ENV_FILE=/etc/quantum/reconcile-engine.env
BRAIN_ENV_FILE=/etc/quantum/position-state-brain.env
SYMBOL=PROOFUSDT
SEED_METRICS=(p34_reconcile_drift_total p34_reconcile_auto_repair_total p34_reconcile_hold_active
  p34_reconcile_diff_amt p34_reconcile_last_fix_age_sec)
SEED_STATE_FIELDS=(status reason exchange_amt ledger_amt diff_amt diff_pct last_seen_ts)

while [ $# -gt 0 ]; do
  case "$1" in
    --env-file) ENV_FILE="${2:?}"; shift 2 ;;
    --brain-env-file) BRAIN_ENV_FILE="${2:?}"; shift 2 ;;
    --symbol) SYMBOL="${2:?}"; shift 2 ;;
    --require-all) REQUIRE_ALL=1; shift ;;
    -h | --help) sed -n '3,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "p34_proof: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done

need_tools
config_args=(--reconcile-env "$ENV_FILE" --symbol "$SYMBOL")
[ ! -f "$BRAIN_ENV_FILE" ] || config_args+=(--brain-env "$BRAIN_ENV_FILE")
load_config "${config_args[@]}"

CYCLE_WAIT="$(periods 10 "$PG_CADENCE_SEC" 5)"
POLL_WAIT="$(periods 3 "${PG_POLL_SEC:-5}" 3)"
EX=""

side_of() { awk -v a="$1" 'BEGIN { print (a > 0) ? "LONG" : (a < 0) ? "SHORT" : "FLAT" }'; }
opposite() { [ "$1" = LONG ] && echo SHORT || echo LONG; }
last_event_id() { rc XREVRANGE "$K_EVENTS" + - COUNT 1 | sed -n 1p; }

# Events for the symbol after stream id $1, one "EVENT reason" per line (redis-cli --csv
# prints one entry per line: "id","field","value",…).
events_since() {
  # shellcheck disable=SC2016 # the single-quoted text is a Node.js program, not shell
  rc --csv XRANGE "$K_EVENTS" "(${1:-0-0}" + | "$NODE_BIN" -e '
    const symbol = process.argv[1];
    let text = "";
    process.stdin.on("data", (d) => (text += d)).on("end", () => {
      for (const line of text.split("\n")) {
        let cells;
        try { cells = JSON.parse(`[${line}]`); } catch { continue; }
        const f = {};
        for (let i = 1; i + 1 < cells.length; i += 2) f[cells[i]] = cells[i + 1];
        if (f.symbol === symbol) console.log(`${f.event} ${f.reason ?? ""}`);
      }
    });' "$SYMBOL"
}

metric_value() {
  curl -fsS --max-time 5 "$PG_RECONCILE_METRICS/metrics" | awk -v want="$1{symbol=\"$SYMBOL\"}" '$1 == want { print $2 }'
}
hold_metric_is() { [ "$(metric_value p34_reconcile_hold_active)" = "$1" ]; }

preconditions() {
  [ "$(rc PING 2>&1)" = PONG ] || fatal "redis" "no PONG from $PG_REDIS_HOST:$PG_REDIS_PORT db $PG_REDIS_DB"
  in_list "$SYMBOL" "$PG_P34_ALLOWLIST" ||
    fatal "allowlist" "$SYMBOL is not in P34_ALLOWLIST ($PG_P34_ALLOWLIST): add it to both allowlists, restart"
  if [ "$PG_HAVE_BRAIN" = 1 ]; then
    in_list "$SYMBOL" "$PG_P33_ALLOWLIST" || fatal "allowlist" "$SYMBOL is not in P33_ALLOWLIST: no snapshots"
    [ "$PG_SAME_REDIS" = 1 ] || fatal "config" "the two env files point at different Redis servers or prefixes"
  fi
  detect_venue
  pass "preconditions" "redis, $SYMBOL allowlisted, $([ "$VENUE" = 1 ] && echo "venue $PG_EXCHANGE_URL" || echo "no venue: the symbol's current position is used")"
}

check_metrics() {
  local body missing=() name code
  if ! body="$(curl -fsS --max-time 5 "$PG_RECONCILE_METRICS/metrics")"; then
    fail "metrics" "$PG_RECONCILE_METRICS/metrics does not answer: is quantum-reconcile-engine running?"
    return
  fi
  for name in "${SEED_METRICS[@]}"; do
    grep -q "^# TYPE $name " <<<"$body" || missing+=("$name")
  done
  if [ "${#missing[@]}" = 0 ]; then pass "metrics" "$PG_RECONCILE_METRICS/metrics has the five seed metrics"; else fail "metrics" "missing: ${missing[*]}"; fi
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$PG_RECONCILE_METRICS/healthz")/$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$PG_RECONCILE_METRICS/readyz")"
  if [ "$code" = 200/200 ]; then pass "health" "/healthz 200, /readyz 200"; else fail "health" "/healthz,/readyz answered $code"; fi
}

check_heartbeat() {
  local json ts age ttl limit
  json="$(rc GET "$K_HEARTBEAT")"
  ts="$(json_field "$json" ts_ms 2>/dev/null)" || { fail "heartbeat" "$K_HEARTBEAT missing or not JSON: the brain denies every permit (reconcile_engine_down)"; return; }
  age=$(($(now_ms) - ts))
  ttl="$(rc PTTL "$K_HEARTBEAT")"
  limit="$(awk -v c="$PG_CADENCE_SEC" 'BEGIN { v = 3 * c * 1000; printf "%d", (v < 5000 ? 5000 : v) }')"
  if [ "$age" -le "$limit" ] && [ "$ttl" -gt 0 ]; then
    pass "heartbeat" "$K_HEARTBEAT ${age} ms old, expires in ${ttl} ms"
  else
    fail "heartbeat" "age ${age} ms (limit ${limit}), ttl ${ttl} ms"
  fi
}

# Brings the symbol to exchange = ledger, OK, no hold; sets EX to the exchange amount.
setup_symbol() {
  local t0
  if [ "$VENUE" = 1 ]; then
    t0="$(now_ms)"
    venue_set_position 0.050 && wait_until "$POLL_WAIT" fresh_snapshot_is "$t0" 0.050 ||
      fatal "setup" "the brain never wrote a snapshot of 0.050 for $SYMBOL (is it running?)"
    rc DEL "$K_LEDGER" "$K_STATE" >/dev/null
    EX=0.050
  else
    EX="$(snapshot_amt)"
    [ -n "$EX" ] || fatal "setup" "no snapshot for $SYMBOL (is the brain running with it in P33_ALLOWLIST?)"
  fi
  wait_until "$CYCLE_WAIT" symbol_ok_at "$EX" ||
    fatal "setup" "$SYMBOL not OK at $EX: state $(state_field status)/$(state_field reason), ledger $(ledger_amt)"
}

check_state() {
  local missing=() field first second
  for field in "${SEED_STATE_FIELDS[@]}"; do
    [ "$(rc HEXISTS "$K_STATE" "$field")" = 1 ] || missing+=("$field")
  done
  first="$(state_field ts_ms)"
  newer() { [ "$(state_field ts_ms)" != "$first" ]; }
  if [ "${#missing[@]}" != 0 ]; then
    fail "state" "$K_STATE lacks ${missing[*]}"
  elif ! wait_until "$CYCLE_WAIT" newer; then
    fail "state" "$K_STATE not rewritten within $CYCLE_WAIT s (ts_ms stuck at $first)"
  else
    second="$(state_field ts_ms)"
    pass "state" "seed fields present; status=$(state_field status) exchange_amt=$(state_field exchange_amt) ledger_amt=$(state_field ledger_amt), rewritten each cycle ($first → $second)"
  fi
}

check_drift_hold() {
  local bad side since ttl events
  if num_eq "$EX" 0; then bad=0.5; else bad="$(decimal "$EX * 0.9")"; fi
  side="$(side_of "$bad")"
  since="$(last_event_id)"
  rc HSET "$K_LEDGER" ledger_amt "$bad" ledger_side "$side" >/dev/null
  held() { hold_present && state_is HOLD qty_mismatch_no_evidence; }
  if ! wait_until "$CYCLE_WAIT" held; then
    fail "drift sets hold" "no hold: state $(state_field status)/$(state_field reason)"
    return 1
  fi
  ttl="$(rc PTTL "$K_HOLD")"
  pass "drift sets hold" "ledger $bad vs exchange $EX: $K_HOLD set (ttl ${ttl} ms ≤ ${PG_HOLD_TTL_SEC}s), HOLD qty_mismatch_no_evidence"
  if num_eq "$(state_field exchange_amt)" "$EX" && num_eq "$(state_field ledger_amt)" "$bad" &&
    num_eq "$(state_field diff_amt)" "$(decimal "$EX - $bad")" &&
    [ -n "$(state_field diff_pct)" ]; then
    pass "drift state fields" "exchange_amt=$(state_field exchange_amt) ledger_amt=$(state_field ledger_amt) diff_amt=$(state_field diff_amt) diff_pct=$(state_field diff_pct)"
  else
    fail "drift state fields" "$(rc HGETALL "$K_STATE" | paste -sd ' ')"
  fi
  sleep "$(awk -v c="$PG_CADENCE_SEC" 'BEGIN { print 3 * c }')" # a few more cycles: still one event
  events="$(events_since "$since")"
  if [ "$(grep -c '^HOLD_SET qty_mismatch_no_evidence$' <<<"$events")" = 1 ]; then
    pass "HOLD_SET event" "exactly one for the episode"
  else
    fail "HOLD_SET event" "events since the edit: $(echo "$events" | paste -sd ',')"
  fi
  if wait_until "$CYCLE_WAIT" hold_metric_is 1; then
    pass "hold metric" "p34_reconcile_hold_active{symbol=\"$SYMBOL\"} 1"
  else
    fail "hold metric" "p34_reconcile_hold_active{symbol=\"$SYMBOL\"} = $(metric_value p34_reconcile_hold_active)"
  fi
}

check_manual_fix() {
  local since t0 elapsed
  since="$(last_event_id)"
  t0="$(now_ms)"
  rc HSET "$K_LEDGER" ledger_amt "$EX" ledger_side "$(side_of "$EX")" >/dev/null
  if wait_until "$CYCLE_WAIT" symbol_ok_at "$EX"; then
    elapsed=$(($(now_ms) - t0))
    if grep -q '^HOLD_CLEARED' <<<"$(events_since "$since")"; then
      pass "manual fix clears hold" "HSET ledger_amt $EX → OK, hold gone after ${elapsed} ms (cadence ${PG_CADENCE_SEC}s), HOLD_CLEARED"
    else
      fail "manual fix clears hold" "hold gone but no HOLD_CLEARED event"
    fi
  else
    fail "manual fix clears hold" "still $(state_field status)/$(state_field reason), hold=$(rc EXISTS "$K_HOLD")"
  fi
}

check_side_mismatch() {
  local name="side mismatch" side
  if num_eq "$EX" 0; then skip "$name" "needs a position on $SYMBOL (flat on the exchange)"; return; fi
  side="$(side_of "$EX")"
  rc HSET "$K_LEDGER" ledger_side "$(opposite "$side")" >/dev/null
  manual() { hold_present && state_is MANUAL_REQUIRED side_mismatch; }
  if wait_until "$CYCLE_WAIT" manual; then
    pass "$name" "ledger_side $(opposite "$side") vs exchange $side → MANUAL_REQUIRED side_mismatch, hold set"
  else
    fail "$name" "state $(state_field status)/$(state_field reason), hold=$(rc EXISTS "$K_HOLD")"
  fi
  rc HSET "$K_LEDGER" ledger_side "$side" >/dev/null
  if wait_until "$CYCLE_WAIT" symbol_ok_at "$EX"; then
    pass "$name fixed" "HSET ledger_side $side → OK, hold cleared"
  else
    fail "$name fixed" "still $(state_field status)/$(state_field reason)"
  fi
}

CLEANED=0
cleanup() {
  [ "$CLEANED" = 0 ] || return 0
  CLEANED=1
  [ -n "$EX" ] || return 0
  if [ "$VENUE" = 1 ]; then
    local t0
    t0="$(now_ms)"
    if venue_set_position 0 && wait_until "$POLL_WAIT" fresh_snapshot_is "$t0" 0 &&
      rc DEL "$K_LEDGER" "$K_STATE" >/dev/null && wait_until "$CYCLE_WAIT" symbol_ok_at 0; then
      pass "cleanup" "$SYMBOL flat, ledger 0 (re-initialised by P3.4), OK, no hold"
    else
      fail "cleanup" "$SYMBOL not back to flat/OK: state $(state_field status)/$(state_field reason)"
    fi
  else
    rc HSET "$K_LEDGER" ledger_amt "$EX" ledger_side "$(side_of "$EX")" >/dev/null
  fi
}
trap 'cleanup; exit 130' INT TERM

preconditions
check_metrics
check_heartbeat
setup_symbol
check_state
check_drift_hold && check_manual_fix
check_side_mismatch
cleanup
finish "$PROOF_NAME"
