#!/usr/bin/env bash
# Slurm test: jobs/train.sbatch checkpoints on SIGUSR1, requeues itself, resumes, and ends with
# the same parameters (fingerprint) as an uninterrupted run of the same configuration.
#
#   train_requeue.sh PATH/TO/paraprop SCRATCH_DIR
# Knobs: REQUEUE_EPOCHS (default 40), REQUEUE_ROWS (default 2000 samples).
set -euo pipefail
# shellcheck source=tests/slurm/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
slurm_test_setup "$@"

epochs=${REQUEUE_EPOCHS:-40}
rows=${REQUEUE_ROWS:-2000}
data=$SCRATCH/tiny.h5
make_tiny_dataset "$data" "$rows"

train_args="--layers 16,32,4 --epochs $epochs --batch-size 8 --learning-rate 0.05 --seed 7"
train_args+=" --checkpoint-every 20steps --keep 3"
export PARAPROP DATA=$data TRAIN_ARGS=$train_args
cd "$SCRATCH"

# The uninterrupted reference runs as its own job, at the same time, on the other 2 CPUs.
ref_dir=$SCRATCH/run-reference
ref=$(RUN_DIR=$ref_dir submit --job-name=reference "$REPO_DIR/jobs/train.sbatch")
run_dir=$SCRATCH/run-requeued
job=$(RUN_DIR=$run_dir submit --job-name=requeued "$REPO_DIR/jobs/train.sbatch")
log "submitted reference job $ref and job $job (to be signalled)"
job_log=$SCRATCH/requeued-$job.out
ref_log=$SCRATCH/reference-$ref.out

# 1. Wait for the first checkpoint, then send the pre-time-limit warning the way Slurm does
#    with --signal=USR1@N: to the srun tasks only (no --batch).
start=$SECONDS
until [ -n "$(ls -A "$run_dir/checkpoints" 2>/dev/null)" ]; do
  state=$(job_field "$job" JobState)
  case "$state" in
    PENDING | RUNNING | CONFIGURING) ;;
    *) fail "job $job is $state before writing a checkpoint (too fast? raise REQUEUE_EPOCHS);" \
      "log: $(digest "$job_log")" ;;
  esac
  [ $((SECONDS - start)) -lt 120 ] || fail "no checkpoint in $run_dir/checkpoints after 120 s"
  sleep 0.05
done
log "checkpoint exists ($(find "$run_dir/checkpoints" -mindepth 1 -printf '%f ')); scancel --signal=USR1 $job"
scancel --signal=USR1 "$job" || fail "scancel --signal=USR1 $job failed"

# 2. The job requeues itself; requeued jobs wait cred_expire seconds, so start it sooner.
start=$SECONDS
restarts=0
while :; do
  restarts=$(job_field "$job" Restarts)
  state=$(job_field "$job" JobState)
  [ "${restarts:-0}" -ge 1 ] && break
  case "$state" in
    COMPLETED) fail "job $job completed without requeueing: was the signal too late? log: $(digest "$job_log")" ;;
    FAILED | CANCELLED | TIMEOUT | NODE_FAIL) fail "job $job ended $state instead of requeueing; log: $(digest "$job_log")" ;;
  esac
  [ $((SECONDS - start)) -lt 60 ] || fail "job $job not requeued 60 s after SIGUSR1 (state $state)"
  sleep 0.1
done
log "job $job requeued (Restarts=$restarts, state $(job_field "$job" JobState)); StartTime=now"
# slurmd revokes the job's credential at the requeue, with a time stamp in whole seconds: a
# relaunch within the same second is refused ("Job credential revoked") and the job ends
# FAILED. Slurm itself waits cred_expire; a shortcut must still wait for the next second.
start_requeued "$job" 2

# 3. Both jobs finish COMPLETED with exit code 0:0.
state=$(wait_job_done "$job" 240)
exit_code=$(job_field "$job" ExitCode)
ref_state=$(wait_job_done "$ref" 60)
log "job $job: $state $exit_code; reference $ref: $ref_state $(job_field "$ref" ExitCode)"
if [ "$state" != COMPLETED ] || [ "$exit_code" != 0:0 ]; then
  fail "requeued job ended $state, ExitCode $exit_code; log: $(digest "$job_log")"
fi
[ "$ref_state" = COMPLETED ] || fail "reference job ended $ref_state; log: $(digest "$ref_log")"
[ "$(job_field "$job" Restarts)" -ge 1 ] || fail "scontrol shows Restarts=0 for job $job"

# 4. The log (appended over both runs) shows the early stop, the requeue and the resumed run.
grep -q 'stopped early with a checkpoint (status 75)' "$job_log" \
  || fail "log lacks the trainer's exit 75 (stopped early); log: $(digest "$job_log")"
grep -q 'requeueing job' "$job_log" || fail "log lacks the requeue message"
grep -Eq 'SLURM_RESTART_COUNT=[1-9]' "$job_log" \
  || fail "log shows no run with SLURM_RESTART_COUNT >= 1; log: $(digest "$job_log")"
grep -q 'run folder holds checkpoints' "$job_log" \
  || fail "the requeued run did not find the checkpoints in $run_dir"
# (a file, not a pipe: under pipefail grep -q's early exit can kill the writer and fail the test)
grep -q '^paraprop: resuming from .*step-' "$job_log" \
  || fail "the trainer did not report resuming; log: $(digest "$job_log")"
[ "$(grep -c 'train.sbatch: job ' "$job_log")" -ge 2 ] || fail "log holds fewer than 2 runs"
[ -s "$run_dir/final.h5" ] || fail "no $run_dir/final.h5"

# 5. Resuming changed nothing: same parameters as the uninterrupted run.
fp=$(fingerprint_of "$job_log")
ref_fp=$(fingerprint_of "$ref_log")
[ -n "$fp" ] || fail "no 'fingerprint:' line in $job_log"
[ -n "$ref_fp" ] || fail "no 'fingerprint:' line in $ref_log"
[ "$fp" = "$ref_fp" ] || fail "fingerprint after requeue $fp differs from uninterrupted $ref_fp"
log "fingerprints match: $fp"
