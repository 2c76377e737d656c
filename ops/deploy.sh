#!/usr/bin/env bash
# ops/deploy.sh — install posguard's two services on this host, idempotently.
#
#   sudo ops/deploy.sh                      # install / upgrade in place
#   sudo ops/deploy.sh --account acct1      # one account's deployment (template units …@acct1)
#   ops/deploy.sh --dry-run                 # print what would be done, change nothing
#   ops/deploy.sh --root /tmp/stage         # install under a staging root (no users, no systemctl)
#
# Steps (each one is skipped when already done, so running it twice changes nothing):
#   1. system user and group `posguard` (no login, no home)
#   2. the built app (dist/, src/redis/lua/, production node_modules, package*.json, docs/,
#      ops/, deploy/) mirrored to PREFIX (default /opt/posguard), owned by root, read-only
#      for the service
#   3. /etc/quantum/{position-state-brain,reconcile-engine}.env installed ONLY when absent —
#      an operator's file is never overwritten (variables it lacks are listed: defaults apply);
#      with --account NAME instead /etc/quantum/{…}-NAME.env: the shipped files with
#      KEY_PREFIX=quantum-NAME and the account's own metrics ports
#   4. the systemd units (and the …@.service templates) into /etc/systemd/system (PREFIX
#      substituted), daemon-reload when a unit changed, units enabled (with --account: only
#      the …@NAME instances). Services are not (re)started: do that yourself, then run
#      ops/p34_proof.sh and ops/p33_proof.sh (docs/operations.md, "Deploying").
#
# Build first: npm ci && npm run build. Needs bash, rsync, npm (to list production
# dependencies), Node 20 ≥ 20.19 at --node (default /usr/bin/node), and root for a real install.
set -euo pipefail

UNITS=(quantum-position-state-brain.service quantum-reconcile-engine.service)
TEMPLATE_UNITS=(quantum-position-state-brain@.service quantum-reconcile-engine@.service)
ENV_FILES=(position-state-brain.env reconcile-engine.env)
# Each env file's metrics port variable (same order as ENV_FILES), and an account's
# default ports: slot n ≥ 1 → 8045 + 100·n and 8046 + 100·n, the first slot no env file
# in /etc/quantum uses (the single-account deployment keeps 8045/8046).
PORT_VARS=(P33_METRICS_PORT P34_PROMETHEUS_PORT)
DEFAULT_PORTS=(8045 8046)
ACCOUNT_RE='^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$'
SERVICE_USER=posguard

SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=/opt/posguard
ROOT=""
DRY_RUN=0
NODE_BIN=/usr/bin/node
CHANGED_UNITS=0
ACCOUNTS=()
METRICS_PORTS=""
TAKEN_PORTS=()

usage() {
  sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  cat <<'EOF'
Options:
  --prefix DIR   where the app goes (default /opt/posguard)
  --root DIR     install under DIR (a staging tree): paths become DIR/opt/posguard, DIR/etc/...;
                 no user is created, no ownership is changed, systemctl is not run
  --source DIR   the built checkout to install from (default: this script's repository)
  --node PATH    node binary the units run (default /usr/bin/node)
  --account NAME deploy account NAME (repeatable): /etc/quantum/<service>-NAME.env with
                 KEY_PREFIX=quantum-NAME and ports of their own, enable …@NAME.service
                 (not the single-account units). Letters, digits, _ and -, ≤ 32 characters
  --metrics-ports BRAIN,RECONCILE
                 with one --account: its metrics ports (default: the first free pair of
                 8145,8146 / 8245,8246 / …); use the same on every host
  --dry-run      print every action instead of doing it
  -h, --help     this help
EOF
}

die() {
  echo "deploy: $*" >&2
  exit 1
}

say() { echo "deploy: $*"; }

# Runs a command, or prints it under --dry-run.
act() {
  if [ "$DRY_RUN" = 1 ]; then
    echo "[dry-run] $*"
  else
    "$@"
  fi
}

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --prefix) PREFIX="${2:?--prefix needs a directory}"; shift 2 ;;
      --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
      --source) SOURCE="${2:?--source needs a directory}"; shift 2 ;;
      --node) NODE_BIN="${2:?--node needs a path}"; shift 2 ;;
      --account) ACCOUNTS+=("${2?--account needs a name}"); shift 2 ;;
      --metrics-ports) METRICS_PORTS="${2?--metrics-ports needs BRAIN,RECONCILE}"; shift 2 ;;
      --dry-run) DRY_RUN=1; shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; exit 2 ;;
    esac
  done
  case "$PREFIX" in /*) ;; *) die "--prefix must be absolute (got $PREFIX)" ;; esac
  local account
  for account in "${ACCOUNTS[@]}"; do
    [[ "$account" =~ $ACCOUNT_RE ]] ||
      die "--account: \"$account\" is not an account name (letters, digits, _ and -, starting with a letter or digit, ≤ 32 characters)"
  done
  if [ -n "$METRICS_PORTS" ]; then
    [ "${#ACCOUNTS[@]}" = 1 ] || die "--metrics-ports needs exactly one --account (got ${#ACCOUNTS[@]})"
    [[ "$METRICS_PORTS" =~ ^[0-9]{1,5},[0-9]{1,5}$ ]] ||
      die "--metrics-ports: expected BRAIN,RECONCILE port numbers (got \"$METRICS_PORTS\")"
  fi
  if [ -n "$ROOT" ]; then
    [ "$DRY_RUN" = 1 ] || mkdir -p "$ROOT"
    ROOT="$(cd "$ROOT" 2>/dev/null && pwd || echo "$ROOT")"
  fi
}

# The real system is touched only without --root and --dry-run.
real_system() { [ -z "$ROOT" ] && [ "$DRY_RUN" = 0 ]; }

preflight() {
  [ -f "$SOURCE/dist/src/cli/main.js" ] || die "no build in $SOURCE: run npm ci && npm run build first"
  [ -d "$SOURCE/node_modules" ] || die "no node_modules in $SOURCE: run npm ci first"
  command -v rsync >/dev/null || die "rsync is required (apt-get install rsync)"
  command -v npm >/dev/null || die "npm is required to list the production dependencies"
  if real_system && [ "$(id -u)" != 0 ]; then die "a real install needs root (or use --root DIR / --dry-run)"; fi
  # taken --metrics-ports stop the run before anything is changed
  if [ -n "$METRICS_PORTS" ]; then (choose_ports "${ACCOUNTS[0]}" "$ROOT/etc/quantum") || exit 1; fi
  # package.json engines.node (^20.19.0): the Node line CI runs and the toolchain needs.
  local version=""
  if [ -x "$NODE_BIN" ]; then version="$("$NODE_BIN" -p 'process.versions.node' 2>/dev/null || true)"; fi
  if ! [[ "$version" =~ ^20\.(19|[2-9][0-9])\. ]]; then
    local what="$NODE_BIN is ${version:+node $version, }not Node 20 ≥ 20.19 (package.json engines ^20.19.0)"
    if real_system; then die "$what: use --node PATH"; fi
    say "WARNING: $what; the units need it (--node PATH)"
  fi
}

ensure_user() {
  if [ -n "$ROOT" ]; then
    say "user: skipped under --root (the real install creates system user $SERVICE_USER)"
  elif getent passwd "$SERVICE_USER" >/dev/null; then
    say "user: $SERVICE_USER exists"
  else
    say "user: creating system user $SERVICE_USER"
    act useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin --comment "posguard position safety services" "$SERVICE_USER"
  fi
}

# rsync filter rules selecting exactly the production packages of node_modules.
production_filter() {
  local list
  list="$(cd "$SOURCE" && npm ls --omit=dev --all --parseable 2>/dev/null)" ||
    die "npm ls --omit=dev failed in $SOURCE: run npm ci (the tree is incomplete)"
  local root_dir
  root_dir="$(cd "$SOURCE" && pwd -P)"
  printf '%s\n' "$list" | sed -n "s|^$root_dir/node_modules/||p" | awk -F/ '
    /^@/ { print "+ /" $1 "/" } { print "+ /" $0 "/***" }' | sort -u
  echo "- *"
}

# rsync SRC/ → DEST/ (mirror); prints how many entries changed. Under --dry-run rsync
# itself runs with --dry-run, so the count is what a real run would change.
sync_tree() {
  local label="$1" changes count
  shift
  local flags=(-a --delete --out-format='%i %n')
  [ "$DRY_RUN" = 0 ] || flags+=(--dry-run)
  changes="$(rsync "${flags[@]}" "$@")"
  count="$(printf '%s' "$changes" | grep -c . || true)"
  say "app: $label: $count entries $([ "$DRY_RUN" = 1 ] && echo "would change" || echo "changed")"
}

install_app() {
  local dest="$ROOT$PREFIX" dir filter
  say "app: $SOURCE → $dest"
  act mkdir -p "$dest/node_modules"
  for dir in dist docs ops deploy; do
    [ -d "$SOURCE/$dir" ] || continue
    [ "$DRY_RUN" = 1 ] || mkdir -p "$dest/$dir"
    sync_tree "$dir/" --exclude '*.map' "$SOURCE/$dir/" "$dest/$dir/"
  done
  # The Lua scripts are read at run time from PREFIX/src/redis/lua (src/redis/lua-script.ts).
  [ "$DRY_RUN" = 1 ] || mkdir -p "$dest/src/redis/lua"
  sync_tree "src/redis/lua/" --include '*.lua' --exclude '*' "$SOURCE/src/redis/lua/" "$dest/src/redis/lua/"
  sync_tree "package.json, package-lock.json" "$SOURCE/package.json" "$SOURCE/package-lock.json" "$dest/"
  filter="$(mktemp)"
  production_filter >"$filter"
  sync_tree "node_modules/ ($(grep -c '/\*\*\*$' "$filter") production packages)" \
    --delete-excluded --filter="merge $filter" "$SOURCE/node_modules/" "$dest/node_modules/"
  rm -f "$filter"
  if [ "$DRY_RUN" = 0 ]; then chmod -R u=rwX,go=rX "$dest"; fi
  if real_system; then chown -R root:root "$dest"; fi
}

# Names of the variables a env file sets.
env_names() { sed -n 's/^\([A-Z][A-Z0-9_]*\)=.*/\1/p' "$1" | sort -u; }

# The value an env file gives NAME (up to a space or `#`), or $3 when it sets none.
env_value() {
  local value
  value="$(sed -n "s/^$2=\([^[:space:]#]*\).*/\1/p" "$1" | tail -n 1)"
  echo "${value:-$3}"
}

# Installs the env file $2 from the shipped $1 unless $2 exists; sed expressions $3… (if
# any) are applied to the copy. An existing file is kept; the variables it lacks are listed.
install_env_file() {
  local shipped="$1" target="$2" missing rendered
  shift 2
  if [ -e "$target" ]; then
    say "config: $target exists — kept (never overwritten)"
    missing="$(comm -23 <(env_names "$shipped") <(env_names "$target") | tr '\n' ' ')"
    [ -z "$missing" ] || say "config: NOTE $target does not set: ${missing}(built-in defaults apply; see $shipped)"
    return
  fi
  say "config: installing $target (edit the BINANCE_* placeholders before starting)"
  if [ $# -eq 0 ]; then
    act install -m 0640 "$shipped" "$target"
  else
    rendered="$(mktemp)"
    sed "$@" "$shipped" >"$rendered"
    act install -m 0640 "$rendered" "$target"
    rm -f "$rendered"
  fi
  if real_system; then chown root:"$SERVICE_USER" "$target"; fi
}

# "PORT FILE" for every metrics port an env file in $1 sets, except account $2's own files.
ports_in_use() {
  local etc="$1" own="$2" file name base
  for file in "$etc"/*.env; do
    [ -e "$file" ] || continue
    name="$(basename "$file")"
    for base in "${ENV_FILES[@]}"; do
      [ "$name" != "${base%.env}-$own.env" ] || continue 2
    done
    sed -n "s/^\(${PORT_VARS[0]}\|${PORT_VARS[1]}\)=\([0-9][0-9]*\).*/\2 ${file//\//\\/}/p" "$file"
  done
  [ "${#TAKEN_PORTS[@]}" = 0 ] || printf '%s\n' "${TAKEN_PORTS[@]}"
}

# Sets ACCOUNT_PORTS to account $1's metrics ports (brain, reconcile): its own files' when
# they exist, else --metrics-ports (refused when another file uses one), else the first
# free slot.
choose_ports() {
  local account="$1" etc="$2" used port n i file holder
  local wanted=()
  used="$(ports_in_use "$etc" "$account")"
  if [ -n "$METRICS_PORTS" ]; then
    wanted=("${METRICS_PORTS%,*}" "${METRICS_PORTS#*,}")
    for port in "${wanted[@]}"; do
      [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "--metrics-ports: $port is not a port number"
      holder="$(awk -v p="$port" '$1 == p { $1 = ""; print substr($0, 2); exit }' <<<"$used")"
      [ -z "$holder" ] || die "--metrics-ports: port $port is already used by $holder"
    done
    [ "${wanted[0]}" != "${wanted[1]}" ] || die "--metrics-ports: the two ports must differ"
  else
    for ((n = 1; n <= 500; n++)); do
      wanted=($((DEFAULT_PORTS[0] + 100 * n)) $((DEFAULT_PORTS[1] + 100 * n)))
      if ! awk -v a="${wanted[0]}" -v b="${wanted[1]}" '$1 == a || $1 == b { found = 1 } END { exit !found }' <<<"$used"; then
        break
      fi
    done
  fi
  ACCOUNT_PORTS=()
  for i in 0 1; do
    file="$etc/${ENV_FILES[$i]%.env}-$account.env"
    if [ -e "$file" ]; then
      ACCOUNT_PORTS+=("$(env_value "$file" "${PORT_VARS[$i]}" "${DEFAULT_PORTS[$i]}")")
    else
      ACCOUNT_PORTS+=("${wanted[$i]}")
    fi
    TAKEN_PORTS+=("${ACCOUNT_PORTS[$i]} $file")
  done
}

# Account $1's env files: the shipped ones with its KEY_PREFIX, its ports and its file
# names in the comments.
install_account_env_files() {
  local account="$1" etc="$2" i base prefix
  local names=()
  prefix="quantum-$account"
  choose_ports "$account" "$etc"
  for base in "${ENV_FILES[@]}"; do
    names+=(-e "s|\(${base%.env}\)\.env|\1-$account.env|g"
      -e "s|(quantum-${base%.env}\.service)|(quantum-${base%.env}@$account.service)|")
  done
  for i in 0 1; do
    base="${ENV_FILES[$i]}"
    grep -q '^KEY_PREFIX=' "$SOURCE/deploy/config/$base" && grep -q "^${PORT_VARS[$i]}=" "$SOURCE/deploy/config/$base" ||
      die "$SOURCE/deploy/config/$base sets no KEY_PREFIX or ${PORT_VARS[$i]}: cannot make an account's copy"
    install_env_file "$SOURCE/deploy/config/$base" "$etc/${base%.env}-$account.env" "${names[@]}" \
      -e "3a\\
# Account $account (ops/deploy.sh --account $account): except KEY_PREFIX and the metrics port, which are the account's own." \
      -e "s|^KEY_PREFIX=.*|KEY_PREFIX=$prefix|" \
      -e "s|^${PORT_VARS[$i]}=.*|${PORT_VARS[$i]}=${ACCOUNT_PORTS[$i]}|"
  done
  base="$etc/${ENV_FILES[0]%.env}-$account.env"
  [ ! -e "$base" ] || prefix="$(env_value "$base" KEY_PREFIX quantum)"
  say "account $account: KEY_PREFIX=$prefix, metrics brain :${ACCOUNT_PORTS[0]}, reconcile :${ACCOUNT_PORTS[1]} (scrape them with the label account=$account)"
}

install_env_files() {
  local etc="$ROOT/etc/quantum" name account
  act mkdir -p "$etc"
  if real_system; then
    chown root:"$SERVICE_USER" "$etc"
    chmod 0750 "$etc"
  fi
  if [ "${#ACCOUNTS[@]}" = 0 ]; then
    for name in "${ENV_FILES[@]}"; do
      install_env_file "$SOURCE/deploy/config/$name" "$etc/$name"
    done
  else
    for account in "${ACCOUNTS[@]}"; do install_account_env_files "$account" "$etc"; done
  fi
  check_shared_prefixes "$etc"
}

# Two accounts on one KEY_PREFIX (and one Redis) would read and write each other's
# positions: warn about every prefix the env files in $1 give to more than one account.
check_shared_prefixes() {
  local etc="$1" file name base account pairs=""
  for file in "$etc"/*.env; do
    [ -e "$file" ] || continue
    name="$(basename "$file" .env)"
    for base in "${ENV_FILES[@]}"; do
      base="${base%.env}"
      case "$name" in
        "$base") account="(single-account)" ;;
        "$base"-*) account="${name#"$base"-}" ;;
        *) continue ;;
      esac
      pairs+="$(env_value "$file" KEY_PREFIX quantum) $account"$'\n'
    done
  done
  sort -u <<<"$pairs" | awk 'NF == 2 { n[$1]++; who[$1] = who[$1] (n[$1] > 1 ? " and " : "") $2 }
    END { for (p in n) if (n[p] > 1) print p, who[p] }' | sort | while read -r prefix who; do
    say "WARNING: KEY_PREFIX=$prefix is used by accounts $who: two accounts on one prefix (and one Redis) mix their positions — give each its own KEY_PREFIX"
  done
}

install_units() {
  local dir="$ROOT/etc/systemd/system" unit rendered
  act mkdir -p "$dir"
  for unit in "${UNITS[@]}" "${TEMPLATE_UNITS[@]}"; do
    rendered="$(mktemp)"
    sed -e "s|/opt/posguard|$PREFIX|g" -e "s|^ExecStart=/usr/bin/node |ExecStart=$NODE_BIN |" \
      "$SOURCE/deploy/systemd/$unit" >"$rendered"
    if [ -f "$dir/$unit" ] && cmp -s "$rendered" "$dir/$unit"; then
      say "unit: $dir/$unit unchanged"
    else
      say "unit: installing $dir/$unit"
      act install -m 0644 "$rendered" "$dir/$unit"
      CHANGED_UNITS=1
    fi
    rm -f "$rendered"
  done
}

# The units to enable: the single-account pair, or each account's …@NAME instances.
enabled_units() {
  local account unit
  if [ "${#ACCOUNTS[@]}" = 0 ]; then
    printf '%s\n' "${UNITS[@]}"
    return
  fi
  for account in "${ACCOUNTS[@]}"; do
    for unit in "${TEMPLATE_UNITS[@]}"; do echo "${unit%@.service}@$account.service"; done
  done
}

enable_units() {
  if [ -n "$ROOT" ]; then
    say "systemd: skipped under --root (the real install runs daemon-reload and enable)"
    return
  fi
  if [ "$CHANGED_UNITS" = 1 ]; then act systemctl daemon-reload; else say "systemd: units unchanged, no daemon-reload"; fi
  local enable=()
  mapfile -t enable < <(enabled_units)
  act systemctl enable "${enable[@]}"
}

next_steps() {
  local account
  if [ "${#ACCOUNTS[@]}" = 0 ]; then
    say "done. Next: systemctl restart ${UNITS[*]}; then $PREFIX/ops/p34_proof.sh and $PREFIX/ops/p33_proof.sh"
    return
  fi
  say "done. Next, for each account:"
  for account in "${ACCOUNTS[@]}"; do
    say "  systemctl restart quantum-reconcile-engine@$account quantum-position-state-brain@$account; then" \
      "$PREFIX/ops/p34_proof.sh --env-file /etc/quantum/reconcile-engine-$account.env --brain-env-file /etc/quantum/position-state-brain-$account.env and" \
      "$PREFIX/ops/p33_proof.sh --env-file /etc/quantum/position-state-brain-$account.env --reconcile-env-file /etc/quantum/reconcile-engine-$account.env"
  done
}

main() {
  parse_args "$@"
  preflight
  [ "$DRY_RUN" = 0 ] || say "dry run: nothing will be changed"
  ensure_user
  install_app
  install_env_files
  install_units
  enable_units
  next_steps
}

main "$@"
