#!/usr/bin/env bash
# Kill test: kill -9 a rank at a random instant of a 2-rank run that checkpoints every step.
# Every trial must: end the whole job within 30 s with a non-zero status, leave a loadable
# newest checkpoint, and — run again — resume to the uninterrupted run's bits.
# usage: kill.sh PARAPROP DIR [TRIALS [adam]]   (CI runs 10; tools/kill-trials.sh runs 200)
#   adam: the run trains with Adam, dropout, a validation hold-out, the plateau schedule and
#   early stopping (issue 12), so a kill lands in the middle of the moments, the masks' step,
#   the plateau counter and the patience, and the resume must still reach the same bits
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2 trials=${3:-20} variant=${4:-sgd}; rm -rf "$dir"; mkdir -p "$dir"
synth_h5 "$bin" "$dir/d.h5" 500 50 8 3
# 16 epochs × 50 steps, a checkpoint every step: seconds of run time to land kills in
args=(--data "$dir/d.h5" --layers 8,64,3 --batch-size 10 --epochs 16 --threads 1
      --checkpoint-every 1steps --keep 2 --progress off)
if [ "$variant" = adam ]; then
  args+=(--optimizer adam --learning-rate 0.01 --dropout 0.2 --validation-split 50
         --lr-schedule plateau:1:0.5:1e-6 --early-stop 4)
else
  args+=(--learning-rate 0.2 --momentum 0.5)
fi
mpirun_n 2 "$bin" train "${args[@]}" --run-dir "$dir/ref" > "$dir/ref.txt" || fail "reference run"
want=$(fingerprint_of "$dir/ref.txt")
# whether a checkpoint exists (ls on a glob races with the run pruning old ones)
has_ckpt() { [ -n "$(find "$1/checkpoints" -maxdepth 1 -name 'step-*.h5' -print -quit 2>/dev/null)" ]; }
RANDOM=$$
killed=0
for t in $(seq "$trials"); do
  run="$dir/t$t"
  mpirun_n 2 "$bin" train "${args[@]}" --run-dir "$run" > "$run.txt" 2>&1 &
  launcher=$!
  # kill only once a first checkpoint exists (start-up can take long on a loaded machine)
  for _ in $(seq 3000); do
    has_ckpt "$run" && break
    kill -0 $launcher 2>/dev/null || break
    sleep 0.02
  done
  has_ckpt "$run" || { wait $launcher || true; fail "trial $t: no checkpoint was written: $(tail -3 "$run.txt")"; }
  sleep "0.$(printf '%03d' $((RANDOM % 1000)))"
  ranks=()
  for p in $(pgrep -f -- "--run-dir $run" || true); do
    [ "$(cat /proc/$p/comm 2>/dev/null)" = paraprop ] && ranks+=("$p")
  done
  if [ ${#ranks[@]} -eq 0 ]; then
    wait $launcher || true
    echo "trial $t: finished before the kill"
  else
    victim=${ranks[$((RANDOM % ${#ranks[@]}))]}
    killed=$((killed + 1))
    start=$(date +%s.%N)
    kill -9 "$victim" 2>/dev/null || true
    # the job must end by itself (Open MPI aborts the others) within 30 s
    for _ in $(seq 300); do kill -0 $launcher 2>/dev/null || break; sleep 0.1; done
    if kill -0 $launcher 2>/dev/null; then kill -9 $launcher; fail "trial $t: job still running 30 s after a rank was killed"; fi
    set +e; wait $launcher; rc=$?; set -e
    took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    [ $rc -ne 0 ] || grep -q "^fingerprint" "$run.txt" || fail "trial $t: killed job exited 0"
    newest=$(ls "$run/checkpoints"/step-*.h5 | tail -n 1)
    "$bin" inspect "$newest" > /dev/null || fail "trial $t: newest checkpoint $newest is not loadable"
    echo "trial $t: killed rank pid $victim, job ended in ${took}s (status $rc), newest $(basename "$newest") valid"
  fi
  mpirun_n 2 "$bin" train "${args[@]}" --run-dir "$run" > "$run.resume.txt" 2>&1 || fail "trial $t: resume failed: $(tail -3 "$run.resume.txt")"
  got=$(fingerprint_of "$run.resume.txt")
  [ "$got" = "$want" ] || fail "trial $t: resumed fingerprint $got, uninterrupted $want"
  rm -rf "$run"
done
# a test whose runs all finished before the kill would prove nothing
[ $((2 * killed)) -ge "$trials" ] || fail "only $killed of $trials trials killed a running job"
echo "PASS kill test: $trials trials, $killed killed mid-run"
