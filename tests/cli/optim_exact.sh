#!/usr/bin/env bash
# Exact mode with Adam and dropout (issue 12): the parameter fingerprint after 3 epochs is the
# same for every (R, T) ∈ {1,2,3} × {1,2} — the masks depend only on (seed, step, sample,
# unit) and the optimizer is elementwise on the same reduced gradient everywhere — for adam with
# one dropout value and for adamw + L2 + L1 with a per-layer list, with batches that split
# unevenly; dropout changes the bits; and a
# run resumed mid-epoch on another R×T ends with the uninterrupted run's fingerprint.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2; rm -rf "$dir"; mkdir -p "$dir"
synth_h5 "$bin" "$dir/d.h5" 333 40 6 3
configs=("--optimizer adam --learning-rate 0.01 --dropout 0.3 --batch-size 70"
         "--optimizer adamw --learning-rate 0.02 --l2 2 --l1 0.5 --dropout 0.2,0.5 --batch-size 150 --hidden-activation relu")
for c in "${configs[@]}"; do
  # shellcheck disable=SC2206
  args=(--data "$dir/d.h5" --layers 6,9,7,3 --epochs 3 $c --reduction exact
        --checkpoint-every none --progress off)
  ref=""
  for R in 1 2 3; do
    for T in 1 2; do
      out="$dir/run-$R-$T"
      rm -rf "$out"
      mpirun_n "$R" "$bin" train "${args[@]}" --threads "$T" --run-dir "$out" > "$out.txt" \
        || fail "$c R=$R T=$T: run failed: $(tail -3 "$out.txt")"
      fp=$(fingerprint_of "$out.txt")
      [ -n "$fp" ] || fail "$c R=$R T=$T: no fingerprint"
      [ -n "$ref" ] || ref=$fp
      [ "$fp" = "$ref" ] || fail "$c: R=$R T=$T fingerprint $fp differs from R=1 T=1 $ref"
    done
  done
  echo "ok $c: $ref"
done
# the same configuration without dropout must give other bits (the masks do something)
args=(--data "$dir/d.h5" --layers 6,9,7,3 --epochs 3 --optimizer adam --learning-rate 0.01
      --batch-size 70 --reduction exact --checkpoint-every none --progress off --threads 1)
mpirun_n 1 "$bin" train "${args[@]}" --run-dir "$dir/nodrop" > "$dir/nodrop.txt" || fail "no-dropout run"
mpirun_n 1 "$bin" train "${args[@]}" --dropout 0.3 --run-dir "$dir/drop" > "$dir/drop.txt" || fail "dropout run"
[ "$(fingerprint_of "$dir/nodrop.txt")" != "$(fingerprint_of "$dir/drop.txt")" ] \
  || fail "--dropout 0.3 gave the bits of no dropout"
# resume on another R×T: Adam's moments and t, and the masks of the steps after the resume
args=(--data "$dir/d.h5" --layers 6,9,7,3 --epochs 3 --optimizer adam --learning-rate 0.01
      --dropout 0.3 --batch-size 70 --reduction exact --progress off)
want=$(fingerprint_of "$dir/drop.txt")
for combo in "2 1 3 2" "1 2 2 1"; do
  set -- $combo
  w="$dir/w$1$2"; rm -rf "$w"
  mpirun_n "$1" "$bin" train "${args[@]}" --threads "$2" --run-dir "$w" --checkpoint-every 3steps \
    --keep 100 > /dev/null || fail "first part $1×$2"
  # 333 / 70 = 5 steps per epoch: step 3 is mid-epoch 1, step 9 mid-epoch 2
  find "$w/checkpoints" -name 'step-*.h5' ! -name 'step-000000000009.h5' -delete
  rm -f "$w/final.h5"
  [ -f "$w/checkpoints/step-000000000009.h5" ] || { ls "$w/checkpoints"; fail "no step-9 checkpoint"; }
  mpirun_n "$3" "$bin" train "${args[@]}" --threads "$4" --run-dir "$w" --checkpoint-every none > "$w.txt" \
    || fail "resume $1×$2 → $3×$4: $(tail -3 "$w.txt")"
  grep -q "resuming from" "$w.txt" || fail "did not resume"
  got=$(fingerprint_of "$w.txt")
  [ "$got" = "$want" ] || fail "resume $1×$2 → $3×$4: $got, uninterrupted $want"
done
echo "PASS exact fingerprints with adam and dropout"
