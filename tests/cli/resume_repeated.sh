#!/usr/bin/env bash
# Repeated stops and resumes lose nothing: the same command, stopped by --stop-after every few
# steps and run again on the same run directory (as a requeued Slurm job is), on 2 ranks with a
# step cadence and --keep 3. Every checkpoint a segment reports exists when it exits, every
# segment resumes where the previous one stopped (names and stored positions count on across
# resumes), and the last segment ends with the bits of an uninterrupted run. Then the same in
# exact mode with the rank count changing between segments, and a directory whose names lie
# about the positions (as versions before the fix wrote them): the furthest position wins.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2; rm -rf "$dir"; mkdir -p "$dir"
synth_h5 "$bin" "$dir/d.h5" 230 50 6 3
# 230 samples / 16 = 15 steps per epoch, 6 epochs = 90 steps
args=(--data "$dir/d.h5" --layers 6,12,3 --epochs 6 --batch-size 16 --learning-rate 0.3
      --momentum 0.5 --l2 0.1 --threads 1 --progress off --checkpoint-every 7steps --keep 3)
strip() { sed 's/"elapsed_s": [0-9.e+-]*//; s/"samples_per_s": [0-9.e+-]*//' "$1" | grep '"event": "epoch"'; }

# segments MODE RUN_DIR WANT RANKS...: reruns the command until it finishes, one rank count per
# segment from RANKS (cycled), and checks each stop and each resume
segments() {
  local mode=$1 run=$2 want=$3; shift 3
  local ranks=("$@") seg=0 prev_step=0 prev_ckpt="" rc out
  while :; do
    local r=${ranks[$((seg % ${#ranks[@]}))]}
    out="$dir/$(basename "$run")-seg$seg.txt"
    set +e
    mpirun_n "$r" "$bin" train "${args[@]}" --reduction "$mode" --stop-after 13steps \
      --run-dir "$run" > "$out" 2>&1
    rc=$?
    set -e
    if [ $seg -gt 0 ]; then
      grep -q "resuming from $prev_ckpt (.*global step $prev_step," "$out" \
        || fail "$mode segment $seg did not resume from $prev_ckpt (global step $prev_step): $(grep -m1 resuming "$out")"
    fi
    [ $rc -eq 0 ] && break
    [ $rc -eq 75 ] || fail "$mode segment $seg ($r ranks): exit $rc: $(tail -3 "$out")"
    prev_ckpt=$(sed -n 's/.*checkpoint written to \(.*\) (epoch.*/\1/p' "$out")
    [ -n "$prev_ckpt" ] || fail "$mode segment $seg: no checkpoint reported"
    [ -f "$prev_ckpt" ] || fail "$mode segment $seg: reported checkpoint $prev_ckpt does not exist"
    local step=$(sed -n 's/.*global step \([0-9]*\)); exiting.*/\1/p' "$out")
    [ "$step" -eq $((prev_step + 13)) ] || fail "$mode segment $seg stopped at global step $step, expected $((prev_step + 13))"
    [ "$(basename "$prev_ckpt")" = "$(printf 'step-%012d.h5' "$step")" ] \
      || fail "$mode segment $seg: checkpoint $prev_ckpt is not named for global step $step"
    n=$(ls "$run/checkpoints" | wc -l)
    [ "$n" -le 3 ] || fail "$mode segment $seg: $n checkpoints kept with --keep 3"
    prev_step=$step
    seg=$((seg + 1))
    [ $seg -le 10 ] || fail "$mode: no end after 10 segments (a requeue loop)"
  done
  [ $seg -ge 4 ] || fail "$mode: only $seg stops, expected at least 4"
  [ "$prev_step" -eq 78 ] || fail "$mode: last stop at global step $prev_step, expected 78"
  local got; got=$(fingerprint_of "$out")
  [ "$got" = "$want" ] || fail "$mode after $seg stops: fingerprint $got, uninterrupted $want"
  [ -f "$run/checkpoints/step-000000000090.h5" ] || fail "$mode: no final checkpoint step-000000000090.h5"
  echo "ok $mode: $seg stops, rank counts ${ranks[*]}"
}

for mode in fast exact; do
  mpirun_n 2 "$bin" train "${args[@]}" --reduction "$mode" --run-dir "$dir/full-$mode" > "$dir/full-$mode.txt" \
    || fail "uninterrupted $mode run failed"
  ls "$dir/full-$mode/checkpoints"  > "$dir/full-$mode.ls"
  want=$(fingerprint_of "$dir/full-$mode.txt")
  [ -n "$want" ] || fail "no fingerprint printed"
  if [ $mode = fast ]; then segments fast "$dir/seg-fast" "$want" 2
  else segments exact "$dir/seg-exact" "$want" 2 1 3; fi
  cmp -s <(strip "$dir/full-$mode/metrics.jsonl") <(strip "$dir/seg-$mode/metrics.jsonl") \
    || fail "$mode: the epoch metrics of the resumed run differ from the uninterrupted run's"
done

# names that lie: the furthest stored position is resumed, whatever the names say
run=$dir/lying; rm -rf "$run"; mkdir -p "$run/checkpoints"
cp "$dir/full-fast/checkpoints/step-000000000084.h5" "$run/checkpoints/step-000000000001.h5"
cp "$dir/full-fast/checkpoints/step-000000000077.h5" "$run/checkpoints/step-000000000077.h5"
mpirun_n 2 "$bin" train "${args[@]}" --run-dir "$run" > "$dir/lying.txt" 2>&1 || fail "lying names: run failed"
grep -q "resuming from $run/checkpoints/step-000000000001.h5 (.*global step 84," "$dir/lying.txt" \
  || fail "lying names: did not resume from the furthest position: $(grep -m1 resuming "$dir/lying.txt")"
[ "$(fingerprint_of "$dir/lying.txt")" = "$(fingerprint_of "$dir/full-fast.txt")" ] || fail "lying names: fingerprint differs"

# an explicit --resume from behind the newest: a warning that the newer ones are from another
# path, and the stop checkpoint it writes survives retention although three names sort above it
run=$dir/behind; rm -rf "$run"; cp -r "$dir/full-fast" "$run"
set +e
mpirun_n 1 "$bin" train "${args[@]}" --run-dir "$run" --resume "$dir/full-fast/checkpoints/step-000000000077.h5" \
  --keep 2 --stop-after 1steps > "$dir/behind.txt" 2>&1
rc=$?
set -e
[ $rc -eq 75 ] || fail "explicit resume with --stop-after 1steps: exit $rc: $(tail -3 "$dir/behind.txt")"
grep -q "warning: .* holds checkpoints beyond this one (up to global step 90)" "$dir/behind.txt" \
  || fail "explicit resume from behind the newest: no warning"
[ -f "$run/checkpoints/step-000000000078.h5" ] || fail "the stop checkpoint was pruned as it was written: $(ls "$run/checkpoints")"
[ "$(ls "$run/checkpoints" | wc -l)" -eq 2 ] || fail "--keep 2 kept $(ls "$run/checkpoints")"
echo "PASS resume_repeated"
