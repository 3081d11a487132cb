#!/usr/bin/env bash
# slow: the main job end to end on Fashion-MNIST must reach test accuracy ≥ 0.875.
set -euo pipefail
bin=$1 dir=$2 src=$(cd "$(dirname "$0")/../.." && pwd)
bash "$src/tools/main-job.sh" "$bin" "$dir" > "$dir.log" 2>&1 || { cat "$dir.log"; echo "FAIL: main job failed"; exit 1; }
tail -n 4 "$dir.log"
acc=$(sed -n 's/^test accuracy: \([0-9.]*\).*/\1/p' "$dir.log")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.875) }' || { echo "FAIL: test accuracy ${acc:-none} < 0.875"; exit 1; }
echo "PASS fashion main job (accuracy $acc)"
