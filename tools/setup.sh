#!/usr/bin/env bash
# The first README command: installs the Debian packages, builds paraprop (release preset),
# converts Fashion-MNIST and trains the main job on 2 ranks (tools/main-job.sh), printing its
# test accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake --preset release
cmake --build --preset release
bash tools/main-job.sh build/release/src/app/paraprop out
