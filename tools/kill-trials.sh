#!/usr/bin/env bash
# The long kill test on demand: 200 trials of tests/robust/kill.sh (CI runs 20).
# usage: tools/kill-trials.sh [PARAPROP] [TRIALS]
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash tests/robust/kill.sh "${1:-build/release/src/app/paraprop}" /tmp/paraprop-kill "${2:-200}"
