# shellcheck shell=bash
# shellcheck disable=SC2154  # PG_* / K_* are assigned by eval of resolve_config's output
# Shared by ops/p33_proof.sh and ops/p34_proof.sh: configuration, redis-cli, the venue's
# control API, waiting, and PASS/FAIL/SKIP reporting. Sourced, never run.
#
# Needs: bash ≥ 4, redis-cli (≥ 6.2), curl, node (the one posguard runs on), GNU date.

PROOF_LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROOF_APP="$(cd "$PROOF_LIB/../.." && pwd)"
NODE_BIN="${NODE_BIN:-node}"

PASSES=0
FAILS=0
SKIPS=0
REQUIRE_ALL=0
VENUE=0
PLAN_ENTRIES=()

pass() {
  PASSES=$((PASSES + 1))
  printf 'PASS  %-28s %s\n' "$1" "${2:-}"
}
fail() {
  FAILS=$((FAILS + 1))
  printf 'FAIL  %-28s %s\n' "$1" "${2:-}"
}
skip() {
  SKIPS=$((SKIPS + 1))
  printf 'SKIP  %-28s %s\n' "$1" "${2:-}"
}

# Prints the totals and exits: 1 on any FAIL (or SKIP under --require-all), else 0.
finish() {
  local name="$1"
  echo "$name: $PASSES PASS, $FAILS FAIL, $SKIPS SKIP"
  if [ "$FAILS" -gt 0 ] || { [ "$REQUIRE_ALL" = 1 ] && [ "$SKIPS" -gt 0 ]; }; then exit 1; fi
  exit 0
}

# A precondition that failed: report it and stop (later checks could only fail too).
fatal() {
  fail "$1" "$2"
  if declare -F cleanup >/dev/null; then cleanup; fi
  finish "${PROOF_NAME:-proof}"
}

need_tools() {
  local tool
  for tool in redis-cli curl "$NODE_BIN" date; do
    command -v "$tool" >/dev/null 2>&1 || fatal "tools" "$tool not found on PATH"
  done
}

# The deployment's configuration as the services see it: their own loader (dist/src/config:
# env file + environment, environment wins, defaults, validation) and key builder
# (dist/src/redis/keys.js), so no default or key name is re-implemented here. Prints quoted
# NAME='value' lines. Usage: resolve_config --brain-env FILE [--reconcile-env FILE]
# --symbol SYM [--plan ID]...  (exit 1 with the problems on stderr when a file is invalid)
resolve_config() {
  PROOF_APP="$PROOF_APP" "$NODE_BIN" --input-type=module -e "$(
    cat <<'JS'
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const app = process.env.PROOF_APP;
const dist = join(app, 'dist', 'src');
if (!existsSync(join(dist, 'config', 'config.js'))) {
  process.stderr.write(`resolve_config: no build under ${app}/dist (run npm run build)\n`);
  process.exit(1);
}
const { loadConfig } = await import(join(dist, 'config', 'config.js'));
const { mergeEnv } = await import(join(dist, 'config', 'env-file.js'));
const { buildKeys } = await import(join(dist, 'redis', 'keys.js'));

function parseArgs(argv) {
  const out = { plans: [] };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--brain-env') out.brainEnv = value;
    else if (flag === '--reconcile-env') out.reconcileEnv = value;
    else if (flag === '--symbol') out.symbol = value;
    else if (flag === '--plan') out.plans.push(value);
    else throw new Error(`unknown option ${flag}`);
  }
  if (!out.brainEnv && !out.reconcileEnv)
    throw new Error('give --brain-env and/or --reconcile-env');
  if (!out.symbol) throw new Error('--symbol is required');
  return out;
}

function load(file) {
  if (!file) return null;
  try {
    return loadConfig(mergeEnv(process.env, file));
  } catch (error) {
    process.stderr.write(`resolve_config: ${file}: ${error.message}\n`);
    process.exit(1);
  }
}

/** An HTTP base URL for a metrics endpoint bound to host:port (wildcards → loopback). */
function httpUrl(host, port) {
  const target = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${target.includes(':') ? `[${target}]` : target}:${port}`;
}

function redisTarget(redis) {
  const url = new URL(redis.url);
  const pathDb = url.pathname.replace(/^\//, '');
  return {
    PG_REDIS_HOST: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    PG_REDIS_PORT: url.port || '6379',
    // ioredis lets a /N path in the URL win over REDIS_DB; so do we
    PG_REDIS_DB: /^\d+$/.test(pathDb) ? pathDb : String(redis.db),
    PG_REDIS_USER: decodeURIComponent(url.username),
    PG_REDIS_PASSWORD: decodeURIComponent(url.password),
    PG_REDIS_TLS: url.protocol === 'rediss:' ? '1' : '0',
  };
}

const quote = (value) => `'${String(value).replaceAll("'", `'\\''`)}'`;

const args = parseArgs(process.argv.slice(1));
const brain = load(args.brainEnv);
const reconcile = load(args.reconcileEnv);
const base = reconcile ?? brain;
const keys = buildKeys(base.keys.prefix, base.keys.governorPermitTemplate);
const sym = args.symbol;
const vars = {
  ...redisTarget(base.redis),
  PG_PREFIX: base.keys.prefix,
  PG_SAME_REDIS:
    brain &&
    reconcile &&
    (brain.redis.url !== reconcile.redis.url || brain.keys.prefix !== reconcile.keys.prefix)
      ? '0'
      : '1',
  K_SNAPSHOT: keys.snapshot(sym),
  K_LEDGER: keys.ledger(sym),
  K_PLAN_STREAM: keys.applyPlanStream,
  K_RESULT_STREAM: keys.applyResultStream,
  K_HOLD: keys.hold(sym),
  K_HOLD_OWNER: keys.holdOwner(sym),
  K_STATE: keys.reconcileState(sym),
  K_EVENTS: keys.reconcileEventsStream,
  K_HEARTBEAT: keys.reconcileHeartbeat,
  K_BRAIN_HEARTBEAT: keys.brainHeartbeat,
  K_LOT: keys.symbolLotSize(sym),
};
args.plans.forEach((plan, i) => {
  vars[`K_PERMIT_${i}`] = keys.permitP33(plan);
});
if (brain) {
  Object.assign(vars, {
    PG_HAVE_BRAIN: '1',
    PG_BRAIN_METRICS: httpUrl(brain.brain.metricsHost, brain.brain.metricsPort),
    PG_P33_ALLOWLIST: brain.brain.allowlist.join(','),
    PG_POLL_SEC: brain.brain.pollSec,
    PG_STALE_SEC: brain.brain.staleThresholdSec,
    PG_COOLDOWN_SEC: brain.brain.cooldownSec,
    PG_QTY_TOLERANCE_PCT: brain.brain.qtyTolerancePct,
    PG_REQUIRE_RECONCILE: brain.brain.requireReconcile ? '1' : '0',
    PG_EXCHANGE_URL: brain.binance.baseUrl,
    PG_POSITION_RISK_PATH: `/fapi/${brain.binance.positionRiskVersion}/positionRisk`,
  });
} else {
  vars.PG_HAVE_BRAIN = '0';
}
if (reconcile) {
  Object.assign(vars, {
    PG_HAVE_RECONCILE: '1',
    PG_RECONCILE_METRICS: httpUrl(reconcile.reconcile.metricsHost, reconcile.reconcile.metricsPort),
    PG_P34_ALLOWLIST: reconcile.reconcile.allowlist.join(','),
    PG_CADENCE_SEC: reconcile.reconcile.cadenceSec,
    PG_FRESHNESS_SEC: reconcile.reconcile.exchangeFreshnessSec,
    PG_HOLD_TTL_SEC: reconcile.reconcile.holdTtlSec,
  });
} else {
  vars.PG_HAVE_RECONCILE = '0';
}
for (const [name, value] of Object.entries(vars)) process.stdout.write(`${name}=${quote(value)}\n`);
JS
  )" -- "$@"
}

# eval's the resolved configuration into PG_* / K_* variables.
load_config() {
  local resolved
  if ! resolved="$(resolve_config "$@" 2>&1)"; then
    fatal "config" "$(echo "$resolved" | tr '\n' ' ')"
  fi
  eval "$resolved"
}

# redis-cli against the deployment's Redis; the password travels in REDISCLI_AUTH, never argv.
rc() {
  local args=(--no-auth-warning -h "$PG_REDIS_HOST" -p "$PG_REDIS_PORT" -n "$PG_REDIS_DB")
  [ -z "$PG_REDIS_USER" ] || args+=(--user "$PG_REDIS_USER")
  [ "$PG_REDIS_TLS" = 0 ] || args+=(--tls)
  if [ -n "$PG_REDIS_PASSWORD" ]; then
    REDISCLI_AUTH="$PG_REDIS_PASSWORD" redis-cli "${args[@]}" "$@"
  else
    env -u REDISCLI_AUTH redis-cli "${args[@]}" "$@"
  fi
}

now_ms() { date +%s%3N; }

# wait_until SECONDS COMMAND... — polls every 100 ms; status 1 on timeout.
wait_until() {
  local deadline=$(($(now_ms) + ${1%.*} * 1000 + 1000))
  shift
  until "$@"; do
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# Seconds (integer, rounded up) for N periods of a decimal number of seconds, plus slack.
periods() { awk -v n="$1" -v s="$2" -v slack="${3:-2}" 'BEGIN { v = n * s + slack; printf "%d", (v == int(v)) ? v : int(v) + 1 }'; }

# An arithmetic expression on amounts, printed with ≤ 8 decimals and no trailing zeros.
decimal() {
  [[ "$1" =~ ^[-+*/0-9.eE\ ]+$ ]] || return 1
  awk "BEGIN { printf \"%.8f\", $1 }" | sed -e 's/0*$//' -e 's/\.$//'
}

# Decimal equality (amounts in the proofs have at most 8 decimals).
num_eq() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && b != "" && (a - b) * (a - b) < 1e-18) }'; }

# One field of a JSON object (objects and arrays printed as JSON).
json_field() {
  "$NODE_BIN" -e '
    let o; try { o = JSON.parse(process.argv[1]); } catch { process.exit(2); }
    const v = o === null || typeof o !== "object" ? undefined : o[process.argv[2]];
    if (v === undefined) process.exit(1);
    process.stdout.write(typeof v === "object" ? JSON.stringify(v) : String(v));' "$1" "$2"
}

in_list() { case ",$2," in *",$1,"*) return 0 ;; *) return 1 ;; esac }

# ---- the simulated venue's control API (BINANCE_BASE_URL/_control/...) -----------------
venue() {
  local method="$1" path="$2" body="${3:-}"
  if [ -n "$body" ]; then
    curl -fsS --max-time 5 -X "$method" -H 'content-type: application/json' -d "$body" "$PG_EXCHANGE_URL$path"
  else
    curl -fsS --max-time 5 -X "$method" "$PG_EXCHANGE_URL$path"
  fi
}

# Sets VENUE=1 when BINANCE_BASE_URL is a posguard venue that lists the proof symbol.
detect_venue() {
  VENUE=0
  [ "${PG_HAVE_BRAIN:-0}" = 1 ] || return 0
  local positions
  positions="$(venue GET '/_control/positions?all=true' 2>/dev/null)" || return 0
  if [[ "$positions" == *"\"symbol\":\"$SYMBOL\""* ]]; then
    # shellcheck disable=SC2034 # read by the proof scripts that source this file
    VENUE=1
  else
    fatal "venue" "$PG_EXCHANGE_URL is a simulated venue without $SYMBOL: start it with --symbols …,$SYMBOL"
  fi
}

venue_set_position() { venue POST /_control/position "{\"symbol\":\"$SYMBOL\",\"amount\":\"$1\"}" >/dev/null; }

# ---- reading state ------------------------------------------------------------------------
snapshot_amt() { rc HGET "$K_SNAPSHOT" position_amt; }
ledger_amt() { rc HGET "$K_LEDGER" ledger_amt; }
state_field() { rc HGET "$K_STATE" "$1"; }
hold_present() { [ "$(rc EXISTS "$K_HOLD")" = 1 ]; }
hold_absent() { [ "$(rc EXISTS "$K_HOLD")" = 0 ]; }

snapshot_is() { num_eq "$(snapshot_amt)" "$1"; }
ledger_is() { num_eq "$(ledger_amt)" "$1"; }
state_is() { [ "$(state_field status)" = "$1" ] && [ "$(state_field reason)" = "${2:-$(state_field reason)}" ]; }

# A snapshot written after time $1 (ms) showing amount $2.
fresh_snapshot_is() {
  local ts
  ts="$(rc HGET "$K_SNAPSHOT" ts_ms)"
  [ -n "$ts" ] && [ "$ts" -ge "$1" ] && num_eq "$(snapshot_amt)" "$2"
}

snapshot_age_ms() {
  local ts
  ts="$(rc HGET "$K_SNAPSHOT" ts_ms)"
  [ -n "$ts" ] || { echo 999999999; return; }
  echo $(($(now_ms) - ts))
}

# The symbol is reconciled and clean: OK, no hold, ledger = $1.
symbol_ok_at() { ledger_is "$1" && state_is OK && hold_absent; }

# Waits until the engine's hold on the symbol is gone and its state is OK (any reason).
wait_symbol_ok() { wait_until "$1" state_is OK && wait_until "$1" hold_absent; }

# ---- plans and permits --------------------------------------------------------------------
# write_plan PLAN_ID ACTION — XADD an EXECUTE plan for the proof symbol; remembers the entry.
write_plan() {
  local id
  id="$(rc XADD "$K_PLAN_STREAM" '*' plan_id "$1" symbol "$SYMBOL" decision EXECUTE \
    action "$2" reduceOnly true timestamp "$(now_ms)")"
  PLAN_ENTRIES+=("$id")
}

# read_permit KEY SECONDS — prints the permit JSON once written, then deletes it (no Apply
# Layer may ever use a proof permit). Status 1 when none appears in time.
read_permit() {
  local key="$1" json=""
  permit_written() { json="$(rc GET "$key" 2>/dev/null)" && [ -n "$json" ]; }
  wait_until "$2" permit_written || return 1
  rc DEL "$key" >/dev/null
  printf '%s' "$json"
}

# The proof's plans leave apply.plan once answered, so nothing downstream acts on them.
forget_plans() {
  [ "${#PLAN_ENTRIES[@]}" -eq 0 ] || rc XDEL "$K_PLAN_STREAM" "${PLAN_ENTRIES[@]}" >/dev/null || true
  PLAN_ENTRIES=()
}

# expect_deny NAME PERMIT_JSON REASON — PASS when the permit denies with that reason.
expect_deny() {
  local name="$1" permit="$2" want="$3" allow reason
  allow="$(json_field "$permit" allow || echo '?')"
  reason="$(json_field "$permit" reason || echo '?')"
  if [ "$allow" = false ] && [ "$reason" = "$want" ]; then
    pass "$name" "DENY reason=$reason failed=$(json_field "$permit" details | "$NODE_BIN" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{process.stdout.write(JSON.stringify(JSON.parse(s).failed??[]))}catch{process.stdout.write("?")}})')"
  else
    fail "$name" "expected DENY $want, got allow=$allow reason=$reason: $permit"
  fi
}
