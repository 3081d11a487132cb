#!/usr/bin/env bash
# Resume equivalence: a run resumed from any of its checkpoints (mid-epoch or at an epoch
# boundary) ends with the bits of the uninterrupted run, at R×T = $3×$4. Corrupt newest
# checkpoints are reported and skipped. Mismatched configurations are refused.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2 R=${3:-1} T=${4:-1}; rm -rf "$dir"; mkdir -p "$dir"
synth_h5 "$bin" "$dir/d.h5" 230 50 6 3
args=(--data "$dir/d.h5" --layers 6,12,3 --epochs 3 --batch-size 16 --learning-rate 0.3
      --momentum 0.5 --l2 0.1 --threads "$T" --progress off)
run() { mpirun_n "$R" "$bin" train "$@"; }
run "${args[@]}" --run-dir "$dir/full" --checkpoint-every 5steps --keep 100 > "$dir/full.txt" \
  || fail "uninterrupted run failed"
want=$(fingerprint_of "$dir/full.txt")
[ -n "$want" ] || fail "no fingerprint printed"
# 230 samples / 16 = 15 steps per epoch: step 5 and 10 are mid-epoch, 15 is an epoch boundary
for s in 5 10 15 25; do
  name=$(printf 'step-%012d.h5' "$s")
  rm -rf "$dir/r$s"; mkdir -p "$dir/r$s/checkpoints"
  cp "$dir/full/checkpoints/$name" "$dir/r$s/checkpoints/"
  run "${args[@]}" --run-dir "$dir/r$s" --checkpoint-every 5steps > "$dir/r$s.txt" \
    || fail "resume from step $s failed: $(cat "$dir/r$s.txt")"
  grep -q "resuming from" "$dir/r$s.txt" || fail "step $s: did not resume"
  got=$(fingerprint_of "$dir/r$s.txt")
  [ "$got" = "$want" ] || fail "resume from step $s: fingerprint $got, uninterrupted $want"
  cmp -s <(grep '"epoch": 3' "$dir/full/metrics.jsonl" | sed 's/"elapsed_s": [0-9.e+-]*//; s/"samples_per_s": [0-9.e+-]*//') \
         <(grep '"epoch": 3' "$dir/r$s/metrics.jsonl" | sed 's/"elapsed_s": [0-9.e+-]*//; s/"samples_per_s": [0-9.e+-]*//') \
    || fail "resume from step $s: epoch-3 metrics differ"
done
# corrupt newest: flipped bytes, truncation, missing 'complete' → reported and skipped
mk() { rm -rf "$dir/c"; mkdir -p "$dir/c/checkpoints"; cp "$dir/full/checkpoints"/step-0000000000{10,15}.h5 "$dir/c/checkpoints/"; }
newest="$dir/c/checkpoints/step-000000000015.h5"
mk; size=$(stat -c %s "$newest"); truncate -s $((size / 2)) "$newest"
run "${args[@]}" --run-dir "$dir/c" > "$dir/c.txt" 2>&1 || fail "truncated newest: run failed"
grep -q "skipping checkpoint.*step-000000000015.h5" "$dir/c.txt" || fail "truncated newest not reported"
grep -q "resuming from.*step-000000000010.h5" "$dir/c.txt" || fail "did not fall back to step 10"
[ "$(fingerprint_of "$dir/c.txt")" = "$want" ] || fail "fallback run fingerprint differs"
mk
# flip bytes inside the stored weights of layer 1: the seal must catch it, and behind a renewed
# seal (paraprop seal) the fletcher32 checksum must (HDF5 addresses start after the user block)
off=$(/usr/bin/python3 -c 'import h5py,sys; f=h5py.File(sys.argv[1]); d=f["/model/layer_1/weights"]; print(f.userblock_size + d.id.get_chunk_info(0).byte_offset)' "$newest")
for reseal in no yes; do
  mk
  printf '\xff\x00\xff\x00\xff\x00\xff\x00' | dd of="$newest" bs=1 seek=$((off + 4)) conv=notrunc status=none
  if [ $reseal = yes ]; then "$bin" seal "$newest" > /dev/null; fi
  run "${args[@]}" --run-dir "$dir/c" > "$dir/c.txt" 2>&1 || fail "flipped newest (re-sealed: $reseal): run failed"
  grep -q "skipping checkpoint" "$dir/c.txt" || fail "flipped bytes (re-sealed: $reseal) not detected: $(head -3 "$dir/c.txt")"
  if [ $reseal = no ]; then want_msg="seal"; else want_msg="checksum mismatch"; fi
  grep -q "skipping checkpoint.*$want_msg" "$dir/c.txt" || fail "flipped bytes (re-sealed: $reseal): reason should say '$want_msg': $(grep skipping "$dir/c.txt")"
  [ "$(fingerprint_of "$dir/c.txt")" = "$want" ] || fail "fallback run fingerprint differs (re-sealed: $reseal)"
done
# no valid checkpoint at all: a clear error, exit 3
rm -rf "$dir/c"; mkdir -p "$dir/c/checkpoints"; echo garbage > "$dir/c/checkpoints/step-000000000001.h5"
set +e; run "${args[@]}" --run-dir "$dir/c" > "$dir/c.txt" 2>&1; rc=$?; set -e
[ $rc -eq 3 ] || fail "no valid checkpoint: exit $rc, expected 3"
grep -q "none is valid" "$dir/c.txt" || fail "no valid checkpoint: message"
# refusals
set +e
run "${args[@]/--batch-size/--batch-size}" --batch-size 17 --run-dir "$dir/x" --resume "$dir/full/checkpoints/step-000000000010.h5" > "$dir/x.txt" 2>&1; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "global batch size 16, this run 17" "$dir/x.txt" || fail "batch change not refused: $rc $(cat "$dir/x.txt")"
set +e
run --data "$dir/d.h5" --layers 6,13,3 --epochs 3 --batch-size 16 --progress off --run-dir "$dir/y" --resume "$dir/full/checkpoints/step-000000000010.h5" > "$dir/y.txt" 2>&1; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "layers 6,12,3, this run 6,13,3" "$dir/y.txt" || fail "architecture change not refused: $rc $(cat "$dir/y.txt")"
echo "PASS resume R=$R T=$T"
