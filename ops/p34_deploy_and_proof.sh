#!/usr/bin/env bash
# ops/p34_deploy_and_proof.sh — the P3.4 seed's one-command deployment: install or update
# posguard, restart the Reconcile Engine and then the brain, prove the engine, print PASS
# or FAIL.
#
#   sudo ops/p34_deploy_and_proof.sh [--symbol PROOFUSDT]
#   ops/p34_deploy_and_proof.sh --dry-run            # what it would do; changes nothing
#   ops/p34_deploy_and_proof.sh --root /tmp/stage    # staging tree, no systemctl
#
# Steps (the seed's, each done by the script that owns it):
#   1. install/update  ops/deploy.sh: app into /opt/posguard, /etc/quantum/*.env only when
#                      absent, the units, daemon-reload, enable
#   2. restart         systemctl restart quantum-reconcile-engine, then
#                      quantum-position-state-brain (the seed restarts P3.3 for the hold
#                      check), and wait until both answer /readyz 200
#   3. proof           the installed ops/p34_proof.sh (metrics, heartbeat, state, drift →
#                      hold, manual fix, side mismatch on PROOFUSDT, which must be in
#                      P34_ALLOWLIST and P33_ALLOWLIST)
# Last line: `p34_deploy_and_proof: PASS`, or `p34_deploy_and_proof: FAIL at <step>` (exit 1).
# Build first (npm ci && npm run build); run as root for a real install.
set -euo pipefail

# shellcheck source=ops/lib/deploy-and-proof.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/deploy-and-proof.sh"
DAP_NAME=p34_deploy_and_proof
DAP_PROOF=p34_proof.sh
DAP_PRIMARY=reconcile
DAP_UNITS=(quantum-reconcile-engine.service quantum-position-state-brain.service)

dap_main "${BASH_SOURCE[0]}" "$@"
