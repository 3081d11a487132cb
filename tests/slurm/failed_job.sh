#!/usr/bin/env bash
# Slurm test: a training job pointed at a data file that does not exist ends FAILED (not
# COMPLETED, not requeued), with a non-zero exit code and paraprop's error message in its log.
#
#   failed_job.sh PATH/TO/paraprop SCRATCH_DIR
set -euo pipefail
# shellcheck source=tests/slurm/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
slurm_test_setup "$@"

missing=$SCRATCH/no-such-data.h5
export PARAPROP DATA=$missing RUN_DIR=$SCRATCH/run
export TRAIN_ARGS="--layers 16,32,4 --epochs 2 --batch-size 8 --seed 1"
cd "$SCRATCH"
job=$(submit --job-name=bad-data "$REPO_DIR/jobs/train.sbatch")
log "submitted job $job with DATA=$missing"

state=$(wait_job_done "$job" 120)
exit_code=$(job_field "$job" ExitCode)
restarts=$(job_field "$job" Restarts)
job_log=$SCRATCH/bad-data-$job.out
log "job $job: JobState=$state ExitCode=$exit_code Restarts=$restarts"
[ -f "$job_log" ] || fail "no job log $job_log"

[ "$state" = FAILED ] || fail "job ended $state, expected FAILED; log: $(digest "$job_log")"
[ "${exit_code%%:*}" != 0 ] || fail "ExitCode is $exit_code, expected non-zero"
[ "${restarts:-0}" = 0 ] || fail "a failed job must not requeue (Restarts=$restarts)"
# paraprop's own message (not this script's log lines) names the missing file.
paraprop_lines() { grep -F -- "$missing" "$job_log" | grep -v 'train.sbatch:' || true; }
paraprop_lines | grep -Eqi 'error|cannot|no such|fail|not found' \
  || fail "log lacks paraprop's error about $missing; log: $(digest "$job_log")"
grep -q 'trainer failed with status' "$job_log" || fail "log lacks the script's failure line"
if grep -q 'requeueing' "$job_log"; then fail "the failed job tried to requeue itself"; fi
log "paraprop said: $(paraprop_lines | head -n 1)"
