#!/usr/bin/env bash
# Slurm test: real preemption, five times. jobs/train.sbatch trains in exact mode in the default
# partition; at a random moment of each run a job in the higher-tier partition "urgent" takes
# every CPU, Slurm preempts the trainer (SIGTERM, then SIGKILL after KillWait) and requeues it.
# After the third preemption the pending job is resized to 1 task (scontrol update), so the run
# continues on another rank count. Every run resumes from the checkpoint the previous one wrote
# on its way out, and the job's last run ends with the bits of an uninterrupted run.
#
#   preempt_exact.sh PATH/TO/paraprop SCRATCH_DIR
# Knobs: PREEMPT_SECONDS (about how long the job trains, default 30), PREEMPTIONS (default 5).
set -euo pipefail
# shellcheck source=tests/slurm/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
slurm_test_setup "$@"

preemptions=${PREEMPTIONS:-5}
data=$SCRATCH/tiny.h5
make_tiny_dataset "$data" 2000
DATA=$data
base_args="--layers 16,32,4 --batch-size 8 --learning-rate 0.05 --seed 7"
base_args+=" --checkpoint-every 200steps --keep 3 --reduction exact --progress off"
cd "$SCRATCH"

# Enough epochs for about PREEMPT_SECONDS (default 30) of training on one rank, from the step
# rate of a short run (lib.sh), so that five preemptions at random moments land on any machine.
# shellcheck disable=SC2086
epochs=$(calibrate_epochs "${PREEMPT_SECONDS:-30}" 2000 $base_args)
[ "$epochs" -ge 40 ] || epochs=40
train_args="$base_args --epochs $epochs"
log "$epochs epochs"

# The uninterrupted reference, outside Slurm and meanwhile (exact mode: any rank count gives
# the same bits).
# shellcheck disable=SC2086
mpiexec -n 1 --bind-to none "$PARAPROP" train --data "$data" --run-dir "$SCRATCH/reference" \
  $train_args >"$SCRATCH/reference.txt" 2>&1 &
reference=$!

export PARAPROP DATA=$data TRAIN_ARGS=$train_args
run_dir=$SCRATCH/run-preempted
job=$(RUN_DIR=$run_dir submit --job-name=preempted "$REPO_DIR/jobs/train.sbatch")
job_log=$SCRATCH/preempted-$job.out
log "submitted job $job"

resumes() { grep -c '^paraprop: resuming from' "$job_log" 2>/dev/null || true; }
running_or_fail() {
  local state
  state=$(job_field "$job" JobState)
  case "$state" in
    COMPLETED) fail "job $job completed after $1 preemptions: too fast for $preemptions (raise PREEMPT_EPOCHS)" ;;
    FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) fail "job $job ended $state; log: $(digest "$job_log")" ;;
  esac
  [ "$state" = RUNNING ]
}

RANDOM=$$
for k in $(seq "$preemptions"); do
  # wait until this run trains: the first writes a checkpoint, later ones report their resume
  start=$SECONDS
  until running_or_fail $((k - 1)) &&
    if [ "$k" -eq 1 ]; then [ -n "$(ls -A "$run_dir/checkpoints" 2>/dev/null)" ]; else [ "$(resumes)" -ge $((k - 1)) ]; fi; do
    [ $((SECONDS - start)) -lt 120 ] || fail "run $k of job $job did not start training within 120 s; log: $(tail -5 "$job_log")"
    sleep 0.05
  done
  sleep "$((RANDOM % 2)).$(printf '%03d' $((RANDOM % 1000)))"
  running_or_fail $((k - 1)) || fail "job $job is $(job_field "$job" JobState) before preemption $k"
  urgent=$(submit --job-name=urgent --partition=urgent --ntasks=4 --output=/dev/null --wrap "sleep 1")
  start=$SECONDS
  until [ "$(job_field "$job" Restarts)" -ge "$k" ]; do
    [ $((SECONDS - start)) -lt 60 ] || fail "job $job not preempted 60 s after urgent job $urgent (state $(job_field "$job" JobState))"
    sleep 0.1
  done
  log "preemption $k: job $job requeued (Restarts=$(job_field "$job" Restarts))"
  [ "$(wait_job_done "$urgent" 60)" = COMPLETED ] || fail "urgent job $urgent did not complete"
  if [ "$k" -eq 3 ]; then
    scontrol update JobId="$job" NumTasks=1 NumCPUs=1 || fail "could not resize pending job $job"
    log "job $job resized to 1 task"
  fi
  start_requeued "$job" 2
done

state=$(wait_job_done "$job" 600)
wait "$reference" || fail "reference run failed: $(tail -3 "$SCRATCH/reference.txt")"
want=$(fingerprint_of "$SCRATCH/reference.txt")
[ -n "$want" ] || fail "the reference run printed no fingerprint"
[ "$state" = COMPLETED ] || fail "job $job ended $state; log: $(digest "$job_log")"
[ "$(job_field "$job" Restarts)" -ge "$preemptions" ] || fail "Restarts=$(job_field "$job" Restarts)"

# every run after the first resumed from the checkpoint that the run before wrote when preempted
mapfile -t stops < <(sed -n 's/^paraprop: stop requested; checkpoint written to \(.*\) (epoch .*, global step \([0-9]*\)).*/\1 \2/p' "$job_log")
mapfile -t starts < <(sed -n 's/^paraprop: resuming from \(.*\) (epoch .*, global step \([0-9]*\),.*/\1 \2/p' "$job_log")
[ "${#stops[@]}" -eq "$preemptions" ] || fail "${#stops[@]} stop checkpoints in the log, expected $preemptions: $(grep -E 'stop requested|resuming' "$job_log")"
[ "${#starts[@]}" -eq "$preemptions" ] || fail "${#starts[@]} resumes in the log, expected $preemptions"
for i in $(seq 0 $((preemptions - 1))); do
  [ "${starts[$i]}" = "${stops[$i]}" ] || fail "run $((i + 2)) resumed from '${starts[$i]}', the run before stopped at '${stops[$i]}'"
  [ "$i" -eq 0 ] || [ "${stops[$i]##* }" -gt "${stops[$((i - 1))]##* }" ] || fail "preemption $((i + 1)) did not advance past global step ${stops[$((i - 1))]##* }"
done
grep -q '^paraprop .*: 1 rank(s)' "$job_log" || fail "no run on 1 rank after the resize"
grep -q '^paraprop .*: 2 rank(s)' "$job_log" || fail "no run on 2 ranks"
got=$(fingerprint_of "$job_log")
[ "$got" = "$want" ] || fail "fingerprint after $preemptions preemptions $got, uninterrupted $want"
log "fingerprints match after $preemptions preemptions and a rank change: $got"
