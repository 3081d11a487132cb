#!/usr/bin/env bash
# A rank SIGKILLed at a chosen instant of an 8-rank run (oversubscribed): during the gradient
# allreduce, during the checkpoint write (rank 0 writes; the kill lands after the temporary file
# is written and before its rename), and during the dataset read at start-up. Each time every
# rank must exit within 30 s of the kill, the newest complete checkpoint must be intact, and a
# rerun must resume to the uninterrupted run's bits. The kills come from PARAPROP_FAULT
# (SITE:RANK@N: the N-th time that rank reaches SITE), compiled into test builds only.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2; rm -rf "$dir"; mkdir -p "$dir"
synth_h5 "$bin" "$dir/d.h5" 640 64 8 3
args=(--data "$dir/d.h5" --layers 8,32,3 --batch-size 16 --epochs 3 --learning-rate 0.2
      --momentum 0.5 --threads 1 --checkpoint-every 10steps --keep 2 --progress off)
mpirun_n 8 "$bin" train "${args[@]}" --run-dir "$dir/ref" > "$dir/ref.txt" 2>&1 || fail "reference run: $(tail -3 "$dir/ref.txt")"
want=$(fingerprint_of "$dir/ref.txt")
[ -n "$want" ] || fail "no reference fingerprint"

# case NAME FAULT: run with the fault, then check the end, the newest checkpoint and a resume
case_kill() {
  local name=$1 fault=$2 run=$dir/$1 rc took
  rm -rf "$run"
  set +e
  PARAPROP_FAULT=$fault timeout -k 10 120 mpiexec -n 8 --oversubscribe --bind-to none \
    "$bin" train "${args[@]}" --run-dir "$run" > "$run.txt" 2>&1
  rc=$?
  local ended; ended=$(date +%s.%N)
  set -e
  [ $rc -ne 124 ] || fail "$name: the job was still running after 120 s (a rank left in a collective?)"
  [ $rc -ne 0 ] || fail "$name: exit 0 although a rank was killed: $(tail -3 "$run.txt")"
  grep -q "fault injection: SIGKILL" "$run.txt" || fail "$name: the fault did not fire: $(tail -5 "$run.txt")"
  # the victim wrote the time of its kill; the launcher's exit came within 30 s of it
  local killed_at
  killed_at=$(sed -n 's/.*fault injection: SIGKILL .* at \([0-9.]*\)$/\1/p' "$run.txt" | head -n 1)
  [ -n "$killed_at" ] || fail "$name: the victim did not say when it was killed"
  took=$(awk -v a="$killed_at" -v b="$ended" 'BEGIN { printf "%.1f", b - a }')
  awk -v t="$took" 'BEGIN { exit !(t < 30) }' || fail "$name: the job ended ${took} s after the kill"
  local newest
  newest=$(find "$run/checkpoints" -maxdepth 1 -name 'step-*.h5' 2>/dev/null | sort | tail -n 1)
  if [ -n "$newest" ]; then
    "$bin" inspect "$newest" > /dev/null || fail "$name: newest checkpoint $newest is damaged"
  fi
  if [ "$name" = checkpoint-write ]; then
    # the kill came mid-write: the written temporary file is there, never renamed into place
    [ -n "$(find "$run/checkpoints" -name 'step-*.h5.tmp' -print -quit)" ] || fail "$name: no interrupted write left behind"
  fi
  mpirun_n 8 "$bin" train "${args[@]}" --run-dir "$run" > "$run.resume.txt" 2>&1 \
    || fail "$name: rerun failed: $(tail -3 "$run.resume.txt")"
  [ "$(fingerprint_of "$run.resume.txt")" = "$want" ] || fail "$name: the rerun's fingerprint differs from the uninterrupted run's"
  echo "ok $name: status $rc, ended ${took} s after the kill, newest $([ -n "$newest" ] && basename "$newest" || echo none)"
}

case_kill allreduce-r3 "kill-allreduce:3@25"
case_kill allreduce-r0 "kill-allreduce:0@47"
case_kill checkpoint-write "kill-checkpoint-write:0@3"
case_kill dataset-read "kill-dataset-read:5@1"
echo "PASS kill_sites"
