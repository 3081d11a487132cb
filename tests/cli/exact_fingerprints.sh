#!/usr/bin/env bash
# Exact mode: after several epochs the parameter fingerprint is the same for every
# (R, T) ∈ {1,2,3,4} × {1,2}, for each accepted activation × cost pair, with batches that divide
# unevenly; and a run resumed on another R×T ends with the uninterrupted run's fingerprint.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2; rm -rf "$dir"; mkdir -p "$dir"
synth_h5 "$bin" "$dir/d.h5" 333 40 6 3
# every (R, T) of {1,2,3,4} × {1,2} must end with R=1 T=1's fingerprint; prints it
same_everywhere() { # NAME TRAIN-ARGS...
  local name=$1 ref="" fp out R T; shift
  for R in 1 2 3 4; do
    for T in 1 2; do
      out="$dir/$name-$R-$T"
      mpirun_n "$R" "$bin" train "$@" --threads "$T" --run-dir "$out" > "$out.txt" \
        || fail "$name R=$R T=$T: run failed: $(tail -3 "$out.txt")"
      fp=$(fingerprint_of "$out.txt")
      [ -n "$ref" ] || ref=$fp
      [ "$fp" = "$ref" ] || fail "$name: R=$R T=$T fingerprint $fp differs from R=1 T=1 $ref"
    done
  done
  echo "$ref"
}
pairs=("sigmoid softmax log-likelihood 10" "relu sigmoid cross-entropy 70" "tanh identity quadratic 150" "sigmoid softmax quadratic 10")
for p in "${pairs[@]}"; do
  set -- $p
  ref=$(same_everywhere "$1-$2-$3" --data "$dir/d.h5" --layers 6,9,7,3 --hidden-activation "$1" \
    --output-activation "$2" --cost "$3" --batch-size "$4" --epochs 3 --learning-rate 0.2 \
    --momentum 0.3 --reduction exact --checkpoint-every none --progress off)
  echo "ok $p: $ref"
done
# products large enough for the large-product engine (oneDNN when built with it: 64-row blocks,
# and ∇W¹ in 3 tiles of units, 83 + 83 + 34), batches of 64 + 64 + 22 samples
synth_h5 "$bin" "$dir/wide.h5" 600 50 784 10
ref=$(same_everywhere wide --data "$dir/wide.h5" --layers 784,200,64,10 --hidden-activation relu \
  --batch-size 150 --epochs 2 --learning-rate 0.05 --momentum 0.5 --reduction exact \
  --checkpoint-every none --progress off)
echo "ok 784-200-64-10 on $("$bin" --version | sed -n 's/^products: //p'): $ref"
# resume on another R×T: 2×1 → 3×1 and 1×2 → 4×1
args=(--data "$dir/d.h5" --layers 6,9,7,3 --batch-size 10 --epochs 3 --learning-rate 0.2
      --momentum 0.3 --reduction exact --progress off)
mpirun_n 1 "$bin" train "${args[@]}" --threads 1 --run-dir "$dir/u" > "$dir/u.txt" || fail "uninterrupted"
want=$(fingerprint_of "$dir/u.txt")
for combo in "2 1 3 1" "1 2 4 1"; do
  set -- $combo
  w="$dir/w$1$2"; rm -rf "$w"
  mpirun_n "$1" "$bin" train "${args[@]}" --threads "$2" --run-dir "$w" --checkpoint-every 13steps --keep 100 > /dev/null || fail "first part"
  # keep only a mid-epoch checkpoint (step 13 of epoch 1), resume it on the other shape
  find "$w/checkpoints" -name 'step-*.h5' ! -name 'step-000000000013.h5' -delete
  rm -f "$w/final.h5"
  [ -f "$w/checkpoints/step-000000000013.h5" ] || { ls "$w/checkpoints"; fail "no step-13 checkpoint"; }
  mpirun_n "$3" "$bin" train "${args[@]}" --threads "$4" --run-dir "$w" --checkpoint-every none > "$w.txt" || fail "resume"
  grep -q "resuming from" "$w.txt" || fail "did not resume"
  got=$(fingerprint_of "$w.txt")
  [ "$got" = "$want" ] || fail "resume $1×$2 → $3×$4: $got, uninterrupted $want"
done
echo "PASS exact fingerprints"
