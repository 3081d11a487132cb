#!/usr/bin/env bash
# Slurm test: the real clock, no scancel. Two jobs of jobs/train.sbatch with a 1-minute limit:
#   "timer"  keeps the script's --signal, moved to USR1@40: Slurm's own warning timer sends
#            SIGUSR1 (here 5 s early to 26 s late), the trainer checkpoints and exits 75, the script
#            requeues it (cause "signal");
#   "limit"  a copy of the script without its --signal line, as a site that forgets it: the time
#            limit itself sends SIGTERM, the trainer checkpoints within KillWait, the script reads
#            Reason=TimeLimit from the job record and requeues (cause "timelimit").
# Both would train for 100000 epochs (from a --config file); once a job is requeued, the test
# rewrites that file to end 2 epochs after the stop and gives the pending job TimeLimit=5, so the
# requeued run finishes (COMPLETED) after resuming from the stop checkpoint. (Resuming with a
# different --epochs is allowed; the clock decides when the first run stops, not a calibration.)
#
#   time_limit.sh PATH/TO/paraprop SCRATCH_DIR
set -euo pipefail
# shellcheck source=tests/slurm/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
slurm_test_setup "$@"

DATA=$SCRATCH/tiny.h5
make_tiny_dataset "$DATA" 10000
# shellcheck disable=SC2054  # commas inside --layers
base=(--layers 16,32,4 --batch-size 8 --learning-rate 0.05 --seed 3 --checkpoint-every 500steps
  --keep 2 --progress off)
cd "$SCRATCH"
export PARAPROP DATA
printf 'epochs = 100000\n' >"$SCRATCH/timer.cfg"
printf 'epochs = 100000\n' >"$SCRATCH/limit.cfg"

sed '/^#SBATCH --signal=/d' "$REPO_DIR/jobs/train.sbatch" >"$SCRATCH/train-nosignal.sbatch"
grep -q '^#SBATCH --signal' "$SCRATCH/train-nosignal.sbatch" && fail "could not drop --signal"

# --signal=USR1@40 on a 1-minute limit: due at 20 s, which Slurm's timer hits 5 s early to 26 s
# late; @50 could come before the trainer's step exists, and be lost.
timer=$(RUN_DIR=$SCRATCH/run-timer submit --job-name=timer --ntasks=1 --time=1 \
  --signal=USR1@40 "$REPO_DIR/jobs/train.sbatch" -- "${base[@]}" --config "$SCRATCH/timer.cfg")
limit=$(RUN_DIR=$SCRATCH/run-limit submit --job-name=limit --ntasks=1 --time=1 \
  "$SCRATCH/train-nosignal.sbatch" "${base[@]}" --config "$SCRATCH/limit.cfg")
log "submitted timer job $timer and limit job $limit"
timer_log=$(job_log_of timer "$timer")
limit_log=$(job_log_of limit "$limit")

# after_requeue JOB CFG LOG: once JOB is requeued, end its training 2 epochs after the stop and
# start it (slurmd refuses a relaunch within the second of the requeue: wait 3 s).
after_requeue() {
  local job=$1 cfg=$2 job_log=$3 start=$SECONDS epoch
  until [ "$(job_field "$job" Restarts)" -ge 1 ]; do
    case $(job_field "$job" JobState) in
      COMPLETED | FAILED | CANCELLED | TIMEOUT) fail "job $job ended $(job_field "$job" JobState) without a requeue; log: $(digest "$job_log")" ;;
    esac
    [ $((SECONDS - start)) -lt 150 ] || fail "job $job not requeued within 150 s; log: $(digest "$job_log")"
    sleep 0.2
  done
  epoch=$(sed -n 's/^paraprop: stop requested; checkpoint written to .* (epoch \([0-9]*\), .*/\1/p' "$job_log" | tail -n 1)
  [ -n "$epoch" ] || fail "job $job requeued without a stop checkpoint in its log: $(digest "$job_log")"
  printf 'epochs = %d\n' $((epoch + 2)) >"$cfg"
  scontrol update JobId="$job" TimeLimit=5 || fail "cannot update job $job"
  log "job $job requeued after stopping in epoch $epoch; it ends at epoch $((epoch + 2))"
  start_requeued "$job" 3
}
after_requeue "$timer" "$SCRATCH/timer.cfg" "$timer_log"
after_requeue "$limit" "$SCRATCH/limit.cfg" "$limit_log"

timer_state=$(wait_job_done "$timer" 120)
limit_state=$(wait_job_done "$limit" 120)
log "timer: $timer_state $(job_field "$timer" ExitCode) Restarts=$(job_field "$timer" Restarts);" \
  "limit: $limit_state $(job_field "$limit" ExitCode) Restarts=$(job_field "$limit" Restarts)"

# --- timer: the warning signal, not the limit, stopped the first run ---------------------------
[ "$timer_state" = COMPLETED ] || fail "timer job ended $timer_state; log: $(digest "$timer_log")"
[ "$(job_field "$timer" Restarts)" = 1 ] || fail "timer job: Restarts=$(job_field "$timer" Restarts), expected 1; log: $(digest "$timer_log")"
grep -q '^paraprop: stop requested; checkpoint written' "$timer_log" \
  || fail "timer job: the trainer did not stop on the warning signal; log: $(digest "$timer_log")"
grep -q 'stopped early with a checkpoint (status 75): requeueing job .*(cause: signal;' "$timer_log" \
  || fail "timer job: no requeue with cause signal; log: $(digest "$timer_log")"
if grep -q 'batch shell got SIGTERM\|DUE TO TIME LIMIT' "$timer_log"; then
  fail "timer job: the time limit was reached although the warning came first; log: $(digest "$timer_log")"
fi
grep -q '^paraprop: resuming from' "$timer_log" || fail "timer job: the requeued run did not resume"
grep -q '^paraprop: stop checkpoint written in [0-9.]* s' "$timer_log" \
  || fail "timer job: the trainer did not print its stop checkpoint's write time"
[ -s "$SCRATCH/run-timer/final.h5" ] || fail "timer job wrote no final.h5"

# --- limit: the time limit stopped the first run, the script told it apart and requeued -------
[ "$limit_state" = COMPLETED ] || fail "limit job ended $limit_state; log: $(digest "$limit_log")"
[ "$(job_field "$limit" Restarts)" = 1 ] || fail "limit job: Restarts=$(job_field "$limit" Restarts), expected 1"
grep -q 'DUE TO TIME LIMIT' "$limit_log" || fail "limit job: Slurm did not report the time limit; log: $(digest "$limit_log")"
grep -q 'batch shell got SIGTERM' "$limit_log" || fail "limit job: the script saw no SIGTERM"
grep -q '^paraprop: stop requested; checkpoint written' "$limit_log" \
  || fail "limit job: the trainer did not checkpoint on SIGTERM; log: $(digest "$limit_log")"
grep -q 'the time limit stopped the trainer' "$limit_log" \
  || fail "limit job: the script did not recognise the time limit; log: $(digest "$limit_log")"
grep -q 'requeueing job .*(cause: timelimit;' "$limit_log" \
  || fail "limit job: no requeue with cause timelimit; log: $(digest "$limit_log")"
grep -q '^paraprop: resuming from' "$limit_log" || fail "limit job: the requeued run did not resume"
[ -s "$SCRATCH/run-limit/final.h5" ] || fail "limit job wrote no final.h5"
for f in "$timer_log" "$limit_log"; do
  n=$(grep -c 'train.sbatch: job ' "$f")
  [ "$n" = 2 ] || fail "$f holds $n runs, expected 2"
done
log "the warning timer and the time limit each requeued once and the jobs finished"
