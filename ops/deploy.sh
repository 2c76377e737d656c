#!/usr/bin/env bash
# ops/deploy.sh — install posguard's two services on this host, idempotently.
#
#   sudo ops/deploy.sh                      # install / upgrade in place
#   ops/deploy.sh --dry-run                 # print what would be done, change nothing
#   ops/deploy.sh --root /tmp/stage         # install under a staging root (no users, no systemctl)
#
# Steps (each one is skipped when already done, so running it twice changes nothing):
#   1. system user and group `posguard` (no login, no home)
#   2. the built app (dist/, src/redis/lua/, production node_modules, package*.json, docs/,
#      ops/, deploy/) mirrored to PREFIX (default /opt/posguard), owned by root, read-only
#      for the service
#   3. /etc/quantum/{position-state-brain,reconcile-engine}.env installed ONLY when absent —
#      an operator's file is never overwritten (variables it lacks are listed: defaults apply)
#   4. the systemd units into /etc/systemd/system (PREFIX substituted), daemon-reload when
#      a unit changed, units enabled. Services are not (re)started: do that yourself, then
#      run ops/p34_proof.sh and ops/p33_proof.sh (docs/operations.md, "Deploying").
#
# Build first: npm ci && npm run build. Needs bash, rsync, npm (to list production
# dependencies), Node 20 ≥ 20.19 at --node (default /usr/bin/node), and root for a real install.
set -euo pipefail

UNITS=(quantum-position-state-brain.service quantum-reconcile-engine.service)
ENV_FILES=(position-state-brain.env reconcile-engine.env)
SERVICE_USER=posguard

SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=/opt/posguard
ROOT=""
DRY_RUN=0
NODE_BIN=/usr/bin/node
CHANGED_UNITS=0

usage() {
  sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  cat <<'EOF'
Options:
  --prefix DIR   where the app goes (default /opt/posguard)
  --root DIR     install under DIR (a staging tree): paths become DIR/opt/posguard, DIR/etc/...;
                 no user is created, no ownership is changed, systemctl is not run
  --source DIR   the built checkout to install from (default: this script's repository)
  --node PATH    node binary the units run (default /usr/bin/node)
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
      --dry-run) DRY_RUN=1; shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; exit 2 ;;
    esac
  done
  case "$PREFIX" in /*) ;; *) die "--prefix must be absolute (got $PREFIX)" ;; esac
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

install_env_files() {
  local etc="$ROOT/etc/quantum" name shipped target missing
  act mkdir -p "$etc"
  if real_system; then
    chown root:"$SERVICE_USER" "$etc"
    chmod 0750 "$etc"
  fi
  for name in "${ENV_FILES[@]}"; do
    shipped="$SOURCE/deploy/config/$name"
    target="$etc/$name"
    if [ -e "$target" ]; then
      say "config: $target exists — kept (never overwritten)"
      missing="$(comm -23 <(env_names "$shipped") <(env_names "$target") | tr '\n' ' ')"
      [ -z "$missing" ] || say "config: NOTE $target does not set: ${missing}(built-in defaults apply; see $shipped)"
    else
      say "config: installing $target (edit the BINANCE_* placeholders before starting)"
      act install -m 0640 "$shipped" "$target"
      if real_system; then chown root:"$SERVICE_USER" "$target"; fi
    fi
  done
}

install_units() {
  local dir="$ROOT/etc/systemd/system" unit rendered
  act mkdir -p "$dir"
  for unit in "${UNITS[@]}"; do
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

enable_units() {
  if [ -n "$ROOT" ]; then
    say "systemd: skipped under --root (the real install runs daemon-reload and enable)"
    return
  fi
  if [ "$CHANGED_UNITS" = 1 ]; then act systemctl daemon-reload; else say "systemd: units unchanged, no daemon-reload"; fi
  act systemctl enable "${UNITS[@]}"
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
  say "done. Next: systemctl restart ${UNITS[*]}; then $PREFIX/ops/p34_proof.sh and $PREFIX/ops/p33_proof.sh"
}

main "$@"
