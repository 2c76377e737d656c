#!/usr/bin/env bash
# ops/p33_deploy_and_proof.sh — the P3.3 seed's one-command deployment: install or update
# posguard, restart the Position State Brain, prove it, print PASS or FAIL.
#
#   sudo ops/p33_deploy_and_proof.sh [--also-restart quantum-apply-layer] [--symbol PROOFUSDT]
#   ops/p33_deploy_and_proof.sh --dry-run            # what it would do; changes nothing
#   ops/p33_deploy_and_proof.sh --root /tmp/stage    # staging tree, no systemctl
#
# Steps (the seed's, each done by the script that owns it):
#   1. install/update  ops/deploy.sh: app into /opt/posguard, /etc/quantum/*.env only when
#                      absent, the units, daemon-reload, enable
#   2. restart         systemctl restart quantum-position-state-brain (then any
#                      --also-restart unit, e.g. the Apply Layer, as the seed does), and
#                      wait until the brain's /readyz answers 200
#   3. proof           the installed ops/p33_proof.sh (the seed's five tests on PROOFUSDT;
#                      PROOFUSDT must be in P33_ALLOWLIST and P34_ALLOWLIST)
# Last line: `p33_deploy_and_proof: PASS`, or `p33_deploy_and_proof: FAIL at <step>` (exit 1).
# Build first (npm ci && npm run build); run as root for a real install.
set -euo pipefail

# shellcheck source=ops/lib/deploy-and-proof.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/deploy-and-proof.sh"
DAP_NAME=p33_deploy_and_proof
DAP_PROOF=p33_proof.sh
DAP_PRIMARY=brain
DAP_UNITS=(quantum-position-state-brain.service)

dap_main "${BASH_SOURCE[0]}" "$@"
