#!/usr/bin/env bash
# Divergence: a learning rate that blows up stops training at that step with status 4 and a
# message naming step and layer; no checkpoint of the diverged state is written and the
# previous checkpoint stays the newest, valid one. An update that overflows the parameters
# from a finite gradient is caught before any checkpoint of it.
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

# An update that overflows the parameters from a finite gradient: inputs near 1e31 through an
# identity hidden layer keep cost and gradient finite (float max 3.4e38), and η = 1e9 sends the
# first step's weights to ±inf. The parameters are checked before every checkpoint: status 4, a
# message about the parameters, and no checkpoint of the overflowed state.
awk 'BEGIN { srand(3); for (i = 0; i < 40; i++)
  printf "%d,%.3e,%.3e\n", i % 3, (rand() - 0.5) * 2e31, (rand() - 0.5) * 2e31 }' > "$dir/big.csv"
"$bin" convert csv --train "$dir/big.csv" --classes 3 -o "$dir/big.h5" > /dev/null
set +e
mpirun_n 2 "$bin" train --data "$dir/big.h5" --layers 2,4,3 --hidden-activation identity \
  --learning-rate 1e9 --batch-size 10 --epochs 2 --checkpoint-every 1steps --threads 1 \
  --run-dir "$dir/run2" --progress off > "$dir/out2.txt" 2>&1
rc=$?
set -e
[ $rc -eq 4 ] || fail "overflowing update: exit status $rc, expected 4: $(tail -3 "$dir/out2.txt")"
grep -Eq "training diverged: the parameters are not finite after 1 step.*layer 1: the weights hold a non-finite value" \
  "$dir/out2.txt" || fail "overflowing update: message: $(grep error "$dir/out2.txt")"
grep -q "no checkpoint of the diverged state was written" "$dir/out2.txt" || fail "overflow: no word on checkpoints"
[ ! -f "$dir/run2/final.h5" ] || fail "overflowing update: a final model was written"
left=$(ls "$dir/run2/checkpoints" | wc -l)
[ "$left" -eq 0 ] || fail "overflowing update: checkpoint(s) of the overflowed state: $(ls "$dir/run2/checkpoints")"
echo "PASS divergence"
