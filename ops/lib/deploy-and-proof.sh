# shellcheck shell=bash
# Shared by ops/p33_deploy_and_proof.sh and ops/p34_deploy_and_proof.sh — the seeds'
# one-command deployments — so the two differ only in which units they restart and which
# proof they run. Sourced, never run. Every step is another script's job:
#   1. install/update   ops/deploy.sh (app, env files only when absent, units, enable)
#   2. restart          systemctl restart the units, in order; then each one's /readyz
#                       must answer 200 (host and port from the services' own config
#                       loader: resolve_config in ops/lib/proof-common.sh)
#   3. proof            the INSTALLED copy of ops/p33_proof.sh / ops/p34_proof.sh
# and one last line: `NAME: PASS`, or `NAME: FAIL at <step>` (exit 1). Usage errors exit 2.
# --dry-run: deploy.sh --dry-run, the rest printed, nothing changed or run.
# --root DIR: deploy.sh --root DIR (a staging tree); systemctl is not run (as in deploy.sh),
#   the env files are the staged ones, and the proof runs against the services already
#   running with them.

DAP_OPS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

DAP_NAME=""         # set by the script: p33_deploy_and_proof / p34_deploy_and_proof
DAP_PROOF=""        # p33_proof.sh / p34_proof.sh
DAP_UNITS=()        # units restarted, in this order
DAP_PRIMARY=""      # brain / reconcile: which env file --env-file names
DAP_DRY_RUN=0
DAP_ROOT=""
DAP_PREFIX=/opt/posguard
DAP_NODE=""
DAP_DEPLOY_ARGS=()
DAP_PROOF_ARGS=()
DAP_BRAIN_ENV=""
DAP_RECONCILE_ENV=""
DAP_SYMBOL=PROOFUSDT
DAP_READY_TIMEOUT=60
DAP_ACCOUNT=""       # --account NAME: the template units …@NAME and /etc/quantum/<service>-NAME.env

dap_say() { echo "$DAP_NAME: $*"; }

dap_usage() {
  sed -n '2,/^set -/p' "$1" | sed -e '/^set -/d' -e 's/^# \{0,1\}//'
  cat <<'EOF'
Options:
  --dry-run              print what would be done; change nothing, run no proof
  --root DIR             install into a staging tree (deploy.sh --root); no systemctl
  --account NAME         one account's deployment (deploy.sh --account NAME): restart
                         …@NAME, env files /etc/quantum/<service>-NAME.env
  --prefix DIR           where the app goes (default /opt/posguard)
  --source DIR           the built checkout to install from (default: this repository)
  --node PATH            node binary the units and the proof run (default /usr/bin/node)
  --env-file FILE        this service's env file (default ROOT/etc/quantum/…)
  --brain-env-file FILE  the brain's env file (default ROOT/etc/quantum/position-state-brain.env)
  --reconcile-env-file FILE  the engine's env file (default ROOT/etc/quantum/reconcile-engine.env)
  --also-restart UNIT    restart this unit too, after ours (e.g. quantum-apply-layer); repeatable
  --ready-timeout SEC    how long a restarted unit may take to answer /readyz 200 (default 60)
  --symbol SYM           the proof's dedicated symbol (default PROOFUSDT)
  --require-all          the proof fails on SKIP too
  -h, --help             this help
EOF
}

# dap_parse SCRIPT ARGS... — the options above; exit 2 on a bad one.
dap_parse() {
  local script="$1"
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --dry-run) DAP_DRY_RUN=1; DAP_DEPLOY_ARGS+=(--dry-run); shift ;;
      --root) DAP_ROOT="${2:?--root needs a directory}"; DAP_DEPLOY_ARGS+=(--root "$2"); shift 2 ;;
      --account) DAP_ACCOUNT="${2:?--account needs a name}"; DAP_DEPLOY_ARGS+=(--account "$2"); shift 2 ;;
      --prefix) DAP_PREFIX="${2:?--prefix needs a directory}"; DAP_DEPLOY_ARGS+=(--prefix "$2"); shift 2 ;;
      --source) DAP_DEPLOY_ARGS+=(--source "${2:?--source needs a directory}"); shift 2 ;;
      --node) DAP_NODE="${2:?--node needs a path}"; DAP_DEPLOY_ARGS+=(--node "$2"); shift 2 ;;
      --env-file)
        if [ "$DAP_PRIMARY" = brain ]; then DAP_BRAIN_ENV="${2:?}"; else DAP_RECONCILE_ENV="${2:?}"; fi
        shift 2 ;;
      --brain-env-file) DAP_BRAIN_ENV="${2:?--brain-env-file needs a file}"; shift 2 ;;
      --reconcile-env-file) DAP_RECONCILE_ENV="${2:?--reconcile-env-file needs a file}"; shift 2 ;;
      --also-restart) DAP_UNITS+=("${2:?--also-restart needs a unit}"); shift 2 ;;
      --ready-timeout) DAP_READY_TIMEOUT="${2:?--ready-timeout needs seconds}"; shift 2 ;;
      --symbol) DAP_SYMBOL="${2:?--symbol needs a symbol}"; shift 2 ;;
      --require-all) DAP_PROOF_ARGS+=(--require-all); shift ;;
      -h | --help) dap_usage "$script"; exit 0 ;;
      *) echo "$DAP_NAME: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
  done
  [[ "$DAP_READY_TIMEOUT" =~ ^[0-9]+$ ]] || { echo "$DAP_NAME: --ready-timeout needs whole seconds" >&2; exit 2; }
  if [ -n "$DAP_ROOT" ] && [ "$DAP_DRY_RUN" = 0 ]; then
    mkdir -p "$DAP_ROOT"
    DAP_ROOT="$(cd "$DAP_ROOT" && pwd)"
  fi
  local suffix="" i
  if [ -n "$DAP_ACCOUNT" ]; then
    # deploy.sh validates the name too; refuse here before anything runs.
    [[ "$DAP_ACCOUNT" =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$ ]] ||
      { echo "$DAP_NAME: --account: \"$DAP_ACCOUNT\" is not an account name" >&2; exit 2; }
    suffix="-$DAP_ACCOUNT"
    for i in "${!DAP_UNITS[@]}"; do
      case "${DAP_UNITS[$i]}" in
        quantum-position-state-brain.service | quantum-reconcile-engine.service)
          DAP_UNITS[i]="${DAP_UNITS[$i]%.service}@$DAP_ACCOUNT.service" ;;
      esac
    done
  fi
  DAP_BRAIN_ENV="${DAP_BRAIN_ENV:-$DAP_ROOT/etc/quantum/position-state-brain$suffix.env}"
  DAP_RECONCILE_ENV="${DAP_RECONCILE_ENV:-$DAP_ROOT/etc/quantum/reconcile-engine$suffix.env}"
}

dap_fail() {
  dap_say "FAIL at $1"
  exit 1
}

# The installed app (what the units run and the proof is taken from).
dap_app() { echo "$DAP_ROOT$DAP_PREFIX"; }

dap_node() {
  if [ -n "$DAP_NODE" ]; then echo "$DAP_NODE"; elif [ -x /usr/bin/node ]; then echo /usr/bin/node; else command -v node; fi
}

dap_install() {
  dap_say "1/3 install/update: ops/deploy.sh ${DAP_DEPLOY_ARGS[*]}"
  bash "$DAP_OPS/deploy.sh" "${DAP_DEPLOY_ARGS[@]}" || dap_fail "install/update (ops/deploy.sh)"
}

# The /readyz URL of each unit we restart, from the installed config loader.
dap_ready_urls() {
  local resolved
  local files=()
  [ ! -f "$DAP_BRAIN_ENV" ] || files+=(--brain-env "$DAP_BRAIN_ENV")
  [ ! -f "$DAP_RECONCILE_ENV" ] || files+=(--reconcile-env "$DAP_RECONCILE_ENV")
  resolved="$(NODE_BIN="$(dap_node)" bash -c 'source "$1" && shift && resolve_config "$@"' _ \
    "$(dap_app)/ops/lib/proof-common.sh" "${files[@]}" --symbol "$DAP_SYMBOL" 2>&1)" ||
    { echo "$resolved" >&2; return 1; }
  local unit
  for unit in "${DAP_UNITS[@]}"; do
    case "$unit" in
      quantum-position-state-brain*) sed -n "s/^PG_BRAIN_METRICS='\(.*\)'$/\1\/readyz/p" <<<"$resolved" ;;
      quantum-reconcile-engine*) sed -n "s/^PG_RECONCILE_METRICS='\(.*\)'$/\1\/readyz/p" <<<"$resolved" ;;
    esac
  done
}

dap_wait_ready() {
  local url="$1" deadline=$((SECONDS + DAP_READY_TIMEOUT)) code
  while :; do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)"
    if [ "$code" = 200 ]; then
      dap_say "ready: $url 200"
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      dap_say "not ready within ${DAP_READY_TIMEOUT}s: $url answered ${code:-nothing} ($(curl -s --max-time 2 "$url" || true))"
      return 1
    fi
    sleep 0.5
  done
}

dap_restart() {
  local unit url urls
  dap_say "2/3 restart: ${DAP_UNITS[*]}"
  if [ "$DAP_DRY_RUN" = 1 ]; then
    for unit in "${DAP_UNITS[@]}"; do echo "[dry-run] systemctl restart $unit"; done
    echo "[dry-run] wait for /readyz 200 of each posguard unit (${DAP_READY_TIMEOUT}s)"
    return 0
  fi
  if [ -n "$DAP_ROOT" ]; then
    dap_say "restart: skipped under --root (no systemctl); the services running with $DAP_ROOT/etc/quantum must answer"
  else
    for unit in "${DAP_UNITS[@]}"; do
      systemctl restart "$unit" || dap_fail "restart ($unit: see journalctl -u $unit)"
    done
  fi
  urls="$(dap_ready_urls)" || dap_fail "restart (cannot read the configuration)"
  for url in $urls; do dap_wait_ready "$url" || dap_fail "restart (not ready)"; done
}

dap_proof() {
  local proof args
  proof="$(dap_app)/ops/$DAP_PROOF"
  if [ "$DAP_PRIMARY" = brain ]; then
    args=(--env-file "$DAP_BRAIN_ENV" --reconcile-env-file "$DAP_RECONCILE_ENV")
  else
    args=(--env-file "$DAP_RECONCILE_ENV" --brain-env-file "$DAP_BRAIN_ENV")
  fi
  args+=(--symbol "$DAP_SYMBOL" "${DAP_PROOF_ARGS[@]}")
  dap_say "3/3 proof: $proof ${args[*]}"
  if [ "$DAP_DRY_RUN" = 1 ]; then
    echo "[dry-run] NODE_BIN=$(dap_node) bash $proof ${args[*]}"
    return 0
  fi
  NODE_BIN="$(dap_node)" bash "$proof" "${args[@]}" || dap_fail "proof ($DAP_PROOF)"
}

# dap_main SCRIPT ARGS... — the three steps, then PASS.
dap_main() {
  dap_parse "$@"
  dap_install
  dap_restart
  dap_proof
  if [ "$DAP_DRY_RUN" = 1 ]; then
    dap_say "DRY RUN (nothing changed, no proof run)"
  else
    dap_say PASS
  fi
}
