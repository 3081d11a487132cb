#!/usr/bin/env bash
# Divergence: a learning rate that blows up stops training at that step with status 4 and a
# message naming step and layer; no checkpoint of the diverged state is written and the
# previous checkpoint stays the newest, valid one.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2; rm -rf "$dir"; mkdir -p "$dir"
synth_h5 "$bin" "$dir/d.h5" 400 50 6 3
set +e
mpirun_n 2 "$bin" train --data "$dir/d.h5" --layers 6,32,3 --hidden-activation relu \
  --output-activation identity --cost quadratic --learning-rate 50 --batch-size 10 --epochs 5 \
  --checkpoint-every 1steps --keep 1000 --run-dir "$dir/run" --progress off > "$dir/out.txt" 2>&1
rc=$?
set -e
[ $rc -eq 4 ] || fail "exit status $rc, expected 4: $(tail -3 "$dir/out.txt")"
grep -Eq "training diverged at epoch [0-9]+, step [0-9]+: (layer [0-9]+: .*non-finite|.*not finite)" "$dir/out.txt" \
  || fail "message: $(grep error "$dir/out.txt")"
grep -q "learning-rate" "$dir/out.txt" || fail "no hint about the learning rate"
[ ! -f "$dir/run/final.h5" ] || fail "a final model of a diverged run was written"
newest=$(ls "$dir/run/checkpoints"/step-*.h5 | tail -n 1)
[ -n "$newest" ] || fail "no checkpoint before divergence (make the test diverge later)"
"$bin" inspect "$newest" > "$dir/inspect.txt" || fail "newest checkpoint $newest is not valid"
# the newest checkpoint is the last finite state: its step is below the diverging one
step=$(sed -n 's/.*diverged at epoch \([0-9]*\), step \([0-9]*\).*/\1 \2/p' "$dir/out.txt")
echo "diverged at (epoch, step) = ($step); newest checkpoint $(basename "$newest")"
/usr/bin/python3 - "$newest" <<'PY' || fail "the newest checkpoint holds non-finite parameters"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
ok = all(np.isfinite(f[f"/model/layer_{l}/{k}"][...]).all() for l in (1, 2) for k in ("weights", "biases"))
sys.exit(0 if ok else 1)
PY
echo "PASS divergence"
