#!/usr/bin/env bash
# shellcheck disable=SC2154  # PG_* / K_* are assigned by load_config (eval of resolve_config in lib/proof-common.sh)
# ops/p33_proof.sh — proves a RUNNING P3.3 Position State Brain behaves as the seed says,
# by writing EXECUTE plans to apply.plan with redis-cli and reading the permits back.
#
#   ops/p33_proof.sh [--env-file /etc/quantum/position-state-brain.env]
#                    [--reconcile-env-file /etc/quantum/reconcile-engine.env]
#                    [--symbol PROOFUSDT] [--require-all]
#
# The seed's five tests, on a DEDICATED symbol (default PROOFUSDT) so real symbols are not
# touched; it must be in P33_ALLOWLIST and P34_ALLOWLIST:
#   1 normal execution  position 0.038, CLOSE_PARTIAL_75 → ALLOW safe_close_qty=0.028 (step 0.001)
#   2 stale snapshot    the symbol disappears from positionRisk → DENY stale_exchange_state
#   3 no position       position 0 → DENY no_position
#   4 cooldown          an order just filled (venue trade + apply.result fill) → DENY cooldown_in_flight
#   5 qty mismatch      ledger_amt edited 10% off → DENY reconcile_required_qty_mismatch
# Exchange positions are set through the simulated venue's control API (BINANCE_BASE_URL,
# posguard venue). Against a real exchange nothing is traded: tests that need a position
# change are SKIPped, 3 runs if the symbol is flat, 5 if it is not.
#
# Every permit is deleted as soon as it is read and every proof plan is XDEL'd from
# apply.plan, so no Apply Layer can act on them. The symbol is left flat, ledger 0, OK.
# Output: one PASS/FAIL/SKIP line per check; exit 1 on any FAIL (or SKIP with --require-all).
set -uo pipefail

# shellcheck source=ops/lib/proof-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/proof-common.sh"
PROOF_NAME=p33_proof

ENV_FILE=/etc/quantum/position-state-brain.env
RECONCILE_ENV_FILE=/etc/quantum/reconcile-engine.env
SYMBOL=PROOFUSDT

while [ $# -gt 0 ]; do
  case "$1" in
    --env-file) ENV_FILE="${2:?}"; shift 2 ;;
    --reconcile-env-file) RECONCILE_ENV_FILE="${2:?}"; shift 2 ;;
    --symbol) SYMBOL="${2:?}"; shift 2 ;;
    --require-all) REQUIRE_ALL=1; shift ;;
    -h | --help) sed -n '3,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "p33_proof: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done

RUN="$(date +%s)-$$"
PLANS=(normal stale no-position cooldown qty-mismatch)
plan_args=()
for name in "${PLANS[@]}"; do plan_args+=(--plan "proof-$RUN-$name"); done
need_tools
config_args=(--brain-env "$ENV_FILE" --symbol "$SYMBOL" "${plan_args[@]}")
[ ! -f "$RECONCILE_ENV_FILE" ] || config_args+=(--reconcile-env "$RECONCILE_ENV_FILE")
load_config "${config_args[@]}"

plan_id() { echo "proof-$RUN-${PLANS[$1]}"; }
permit_key() { local var="K_PERMIT_$1"; echo "${!var}"; }

POLL_WAIT="$(periods 3 "$PG_POLL_SEC" 3)"
CYCLE_WAIT="$(periods 10 "${PG_CADENCE_SEC:-1}" 5)"

# ---- preconditions ------------------------------------------------------------------------
preconditions() {
  [ "$(rc PING 2>&1)" = PONG ] || fatal "redis" "no PONG from $PG_REDIS_HOST:$PG_REDIS_PORT db $PG_REDIS_DB"
  in_list "$SYMBOL" "$PG_P33_ALLOWLIST" ||
    fatal "allowlist" "$SYMBOL is not in P33_ALLOWLIST ($PG_P33_ALLOWLIST): add it to both allowlists, restart"
  if [ "${PG_HAVE_RECONCILE:-0}" = 1 ]; then
    in_list "$SYMBOL" "$PG_P34_ALLOWLIST" || fatal "allowlist" "$SYMBOL is not in P34_ALLOWLIST ($PG_P34_ALLOWLIST)"
    [ "$PG_SAME_REDIS" = 1 ] || fatal "config" "the two env files point at different Redis servers or prefixes"
  fi
  local metrics
  metrics="$(curl -fsS --max-time 5 "$PG_BRAIN_METRICS/metrics" 2>/dev/null)"
  grep -q '^# TYPE p33_permit_total ' <<<"$metrics" ||
    fatal "brain" "no p33 metrics at $PG_BRAIN_METRICS/metrics: is quantum-position-state-brain running?"
  if [ "$PG_REQUIRE_RECONCILE" = 1 ] && [ "$(rc EXISTS "$K_HEARTBEAT")" != 1 ]; then
    fatal "reconcile heartbeat" "$K_HEARTBEAT missing: every permit denies reconcile_engine_down (start P3.4)"
  fi
  # a brain that just started writes lot sizes within seconds (it retries exchangeInfo every 5 s)
  lot_known() { STEP="$(rc HGET "$K_LOT" step_size)" && [ -n "$STEP" ]; }
  wait_until "$(periods 1 "$PG_POLL_SEC" 8)" lot_known ||
    fatal "lot size" "$K_LOT missing: the brain has no lot size for $SYMBOL (exchangeInfo)"
  detect_venue
  pass "preconditions" "redis, brain, reconcile heartbeat, $SYMBOL allowlisted, step $STEP, $([ "$VENUE" = 1 ] && echo "venue $PG_EXCHANGE_URL" || echo "real exchange (no trades)")"
}

# Puts the symbol at AMOUNT on the venue with a ledger initialised from it by P3.4 (OK, no hold).
venue_reset_to() {
  local t0
  t0="$(now_ms)"
  venue_set_position "$1" || return 1
  wait_until "$POLL_WAIT" fresh_snapshot_is "$t0" "$1" || return 1
  rc DEL "$K_LEDGER" "$K_STATE" >/dev/null
  wait_until "$CYCLE_WAIT" symbol_ok_at "$1"
}

# Plan $1 (index) with action $2 → its permit JSON in PERMIT, or check $3 fails.
ask() {
  PERMIT=""
  write_plan "$(plan_id "$1")" "$2"
  if ! PERMIT="$(read_permit "$(permit_key "$1")" 5)"; then
    fail "$3" "no permit for $(plan_id "$1") within 5 s (is the brain consuming $K_PLAN_STREAM?)"
    return 1
  fi
}

test_normal() {
  local name="1 normal execution" permit
  [ "$VENUE" = 1 ] || { skip "$name" "needs the simulated venue to open a 0.038 position"; return; }
  [ "$STEP" = 0.001 ] || { skip "$name" "the seed example needs step 0.001 (venue step for $SYMBOL: $STEP)"; return; }
  venue_reset_to 0.038 || { fail "$name" "could not reach exchange=ledger=0.038, OK, no hold (state $(state_field status)/$(state_field reason))"; return; }
  ask 0 CLOSE_PARTIAL_75 "$name" || return
  permit="$PERMIT"
  if [ "$(json_field "$permit" allow)" = true ] && [ "$(json_field "$permit" safe_close_qty)" = 0.028 ] &&
    num_eq "$(json_field "$permit" exchange_position_amt)" 0.038; then
    pass "$name" "ALLOW safe_close_qty=0.028 (exchange 0.038 × 0.75 = 0.0285, floored to step 0.001)"
  else
    fail "$name" "expected ALLOW safe_close_qty=0.028: $permit"
  fi
}

test_stale() {
  local name="2 stale snapshot" permit limit_ms duration_ms
  [ "$VENUE" = 1 ] || { skip "$name" "needs the simulated venue to hide $SYMBOL from positionRisk (or stop the brain ${PG_STALE_SEC}s)"; return; }
  limit_ms="$(awk -v s="$PG_STALE_SEC" 'BEGIN { printf "%d", s * 1000 + 300 }')"
  duration_ms="$(awk -v s="$PG_STALE_SEC" -v p="$PG_POLL_SEC" 'BEGIN { printf "%d", (s + 2 * p + 3) * 1000 }')"
  venue POST /_control/faults "{\"kind\":\"omit_symbols\",\"symbols\":[\"$SYMBOL\"],\"path\":\"$PG_POSITION_RISK_PATH\",\"durationMs\":$duration_ms}" >/dev/null ||
    { fail "$name" "venue refused the omit_symbols fault"; return; }
  stale_enough() { [ "$(snapshot_age_ms)" -gt "$limit_ms" ]; }
  wait_until "$(periods 1 "$PG_STALE_SEC" "$(periods 3 "$PG_POLL_SEC" 3)")" stale_enough ||
    { fail "$name" "snapshot never aged past ${PG_STALE_SEC}s (age $(snapshot_age_ms) ms)"; return; }
  ask 1 CLOSE_PARTIAL_75 "$name" || return
  permit="$PERMIT"
  expect_deny "$name" "$permit" stale_exchange_state
  # the fault expires by itself; wait for fresh snapshots and P3.4 back to OK
  fresh_again() { [ "$(snapshot_age_ms)" -lt "$limit_ms" ]; }
  wait_until "$(awk -v d="$duration_ms" 'BEGIN { printf "%d", d / 1000 + 5 }')" fresh_again &&
    wait_symbol_ok "$CYCLE_WAIT" || fail "$name recovery" "snapshots did not resume after the fault"
}

test_no_position() {
  local name="3 no position" permit t0 amount
  if [ "$VENUE" = 1 ]; then
    t0="$(now_ms)"
    venue_set_position 0 && wait_until "$POLL_WAIT" fresh_snapshot_is "$t0" 0 ||
      { fail "$name" "snapshot never showed the closed position"; return; }
  else
    amount="$(snapshot_amt)"
    num_eq "$amount" 0 || { skip "$name" "$SYMBOL has a position ($amount) on the exchange"; return; }
  fi
  ask 2 CLOSE_PARTIAL_75 "$name" || return
  permit="$PERMIT"
  expect_deny "$name" "$permit" no_position
  if [ "$VENUE" = 1 ]; then
    t0="$(now_ms)"
    venue_set_position 0.038 && wait_until "$POLL_WAIT" fresh_snapshot_is "$t0" 0.038 &&
      wait_symbol_ok "$CYCLE_WAIT" || fail "$name recovery" "position 0.038 not reconciled back to OK"
  fi
}

test_cooldown() {
  local name="4 cooldown" permit t0
  [ "$VENUE" = 1 ] || { skip "$name" "needs the simulated venue to execute an order"; return; }
  wait_until "$CYCLE_WAIT" symbol_ok_at 0.038 || { fail "$name" "setup: $SYMBOL not OK at 0.038"; return; }
  t0="$(now_ms)"
  # what the Apply Layer does: execute a reduce-only SELL 0.010 on the exchange, then report it
  venue POST /_control/trade "{\"symbol\":\"$SYMBOL\",\"quantity\":\"-0.010\"}" >/dev/null ||
    { fail "$name" "venue refused the trade"; return; }
  rc XADD "$K_RESULT_STREAM" '*' plan_id "proof-$RUN-fill" symbol "$SYMBOL" executed true side SELL \
    filled_qty 0.010 order_id "proof-$RUN-fill" reduceOnly true ts_ms "$t0" >/dev/null
  wait_until "$POLL_WAIT" ledger_is 0.028 && wait_until "$POLL_WAIT" fresh_snapshot_is "$t0" 0.028 ||
    { fail "$name" "fill not reflected (ledger $(ledger_amt), snapshot $(snapshot_amt))"; return; }
  ask 3 CLOSE_PARTIAL_75 "$name" || return
  permit="$PERMIT"
  expect_deny "$name" "$permit" cooldown_in_flight
}

test_qty_mismatch() {
  local name="5 qty mismatch" permit ex good bad
  ex="$(snapshot_amt)"
  if num_eq "$ex" 0 || [ -z "$ex" ]; then skip "$name" "needs a position on $SYMBOL"; return; fi
  wait_until "$CYCLE_WAIT" symbol_ok_at "$ex" || { fail "$name" "setup: $SYMBOL not OK at $ex"; return; }
  good="$(ledger_amt)"
  bad="$(decimal "$ex * 0.9")"
  rc HSET "$K_LEDGER" ledger_amt "$bad" >/dev/null # the seed's manual edit (10% off)
  ask 4 CLOSE_PARTIAL_75 "$name"
  local asked=$?
  permit="$PERMIT"
  rc HSET "$K_LEDGER" ledger_amt "$good" >/dev/null
  [ "$asked" = 0 ] || return
  expect_deny "$name" "$permit" reconcile_required_qty_mismatch
  wait_symbol_ok "$CYCLE_WAIT" || fail "$name recovery" "hold not cleared after restoring ledger_amt=$good"
}

CLEANED=0
cleanup() {
  [ "$CLEANED" = 0 ] || return 0
  CLEANED=1
  local i
  forget_plans
  for i in "${!PLANS[@]}"; do rc DEL "$(permit_key "$i")" >/dev/null 2>&1 || true; done
  [ "$VENUE" = 1 ] || return 0
  if venue_reset_to 0; then
    pass "cleanup" "$SYMBOL flat, ledger 0 (re-initialised by P3.4), OK, no hold"
  else
    fail "cleanup" "$SYMBOL not back to flat/OK: state $(state_field status)/$(state_field reason)"
  fi
}
trap 'cleanup; exit 130' INT TERM

preconditions
test_normal
test_stale
test_no_position
test_cooldown
test_qty_mismatch
cleanup
finish "$PROOF_NAME"
