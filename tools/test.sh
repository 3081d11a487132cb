#!/usr/bin/env bash
# The second README command: installs the Debian packages, then builds and runs the whole test
# suite in three builds: `ci` (release, -Werror: everything, including the slow Fashion-MNIST
# job and the real-Slurm tests), `double` (gradient checks to 1e-6) and `asan` (ASan+UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh --test
status=0
for preset in ci double asan; do
  echo "=== build: $preset"
  cmake --preset "$preset" > /dev/null
  cmake --build --preset "$preset"
done
for preset in ci double asan; do
  echo "=== tests: $preset"
  ctest --preset "$preset" --timeout 900 || status=1
done
exit $status
