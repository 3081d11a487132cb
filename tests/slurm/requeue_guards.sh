#!/usr/bin/env bash
# Slurm test: what jobs/train.sbatch refuses, and arrays. Three submissions at once:
#   "capped"   the trainer stops after 30 steps every run (--stop-after, exit 75); with
#              MAX_REQUEUES=2 the job runs three times, then the script refuses a third requeue
#              and the job ends FAILED with exit code 75;
#   "stuck"    a stand-in trainer that exits 75 without training, in a run folder that already
#              holds a checkpoint: the newest checkpoint did not advance, so no requeue;
#   "array"    a 2-task array; only task 2 gets SIGUSR1 (scancel --signal=USR1 ARRAY_2): task 2
#              alone requeues (scontrol requeue ARRAY_2, not the whole array), both complete,
#              each in its own run folder and %A_%a log.
#
#   requeue_guards.sh PATH/TO/paraprop SCRATCH_DIR
set -euo pipefail
# shellcheck source=tests/slurm/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
slurm_test_setup "$@"

DATA=$SCRATCH/tiny.h5
make_tiny_dataset "$DATA" 2000
# shellcheck disable=SC2054  # commas inside --layers
base=(--layers 16,32,4 --batch-size 8 --learning-rate 0.05 --seed 5 --progress off)
cd "$SCRATCH"
export PARAPROP DATA

# "stuck": a real checkpoint at global step 20, and a trainer that does nothing but exit 75.
"$PARAPROP" train --data "$DATA" --run-dir "$SCRATCH/run-stuck" "${base[@]}" --epochs 5 \
  --stop-after 20steps >"$SCRATCH/stuck-seed.txt" 2>&1 && fail "seed run did not stop early"
[ -s "$SCRATCH/run-stuck/checkpoints/step-000000000020.h5" ] || fail "seed run wrote no step-20 checkpoint"
cat >"$SCRATCH/stuck-paraprop" <<STUB
#!/usr/bin/env bash
# exits 75 ("stopped early with a checkpoint") without writing one; everything else is paraprop
if [ "\${1:-}" = train ]; then echo "stub trainer: exiting 75 without progress"; exit 75; fi
exec "$PARAPROP" "\$@"
STUB
chmod +x "$SCRATCH/stuck-paraprop"

array_epochs=$(calibrate_epochs 15 2000 "${base[@]}" --checkpoint-every 50steps)

capped=$(MAX_REQUEUES=2 RUN_DIR=$SCRATCH/run-capped submit --job-name=capped --ntasks=1 \
  "$REPO_DIR/jobs/train.sbatch" -- "${base[@]}" --epochs 1000 --stop-after 30steps)
stuck=$(PARAPROP=$SCRATCH/stuck-paraprop RUN_DIR=$SCRATCH/run-stuck submit --job-name=stuck \
  --ntasks=1 "$REPO_DIR/jobs/train.sbatch" "${base[@]}" --epochs 5)
array=$(submit --job-name=array --ntasks=1 --array=1-2 --output="$SCRATCH/%x-%A_%a.out" \
  "$REPO_DIR/jobs/train.sbatch" -- "${base[@]}" --epochs "$array_epochs" --checkpoint-every 50steps)
log "submitted capped $capped, stuck $stuck, array $array (tasks ${array}_1 ${array}_2)"
start_nudger "$capped" "${array}_1" "${array}_2"

# signal task 2 once both tasks train (each has a checkpoint)
start=$SECONDS
until [ -n "$(ls -A "$SCRATCH/runs/array-${array}_1/checkpoints" 2>/dev/null)" ] &&
  [ -n "$(ls -A "$SCRATCH/runs/array-${array}_2/checkpoints" 2>/dev/null)" ]; do
  [ $((SECONDS - start)) -lt 120 ] || fail "array tasks wrote no checkpoints within 120 s; squeue: $(squeue 2>&1)"
  for t in 1 2; do
    case $(job_field "${array}_$t" JobState) in
      COMPLETED | FAILED | CANCELLED) fail "array task $t ended before the signal (raise its epochs)" ;;
    esac
  done
  sleep 0.1
done
scancel --signal=USR1 "${array}_2" || fail "scancel --signal=USR1 ${array}_2 failed"
log "sent SIGUSR1 to ${array}_2"

capped_state=$(wait_job_done "$capped" 180)
stuck_state=$(wait_job_done "$stuck" 60)
a1_state=$(wait_job_done "${array}_1" 180)
a2_state=$(wait_job_done "${array}_2" 180)
capped_log=$(job_log_of capped "$capped")
stuck_log=$(job_log_of stuck "$stuck")
a1_log=$SCRATCH/array-${array}_1.out
a2_log=$SCRATCH/array-${array}_2.out
for j in "$capped" "$stuck" "${array}_1" "${array}_2"; do
  log "job $j: $(job_field "$j" JobState) ExitCode=$(job_field "$j" ExitCode) Restarts=$(job_field "$j" Restarts)"
done

# --- the cap ------------------------------------------------------------------------------------
[ "$capped_state" = FAILED ] || fail "capped job ended $capped_state, expected FAILED; log: $(digest "$capped_log")"
[ "$(job_field "$capped" ExitCode)" = 75:0 ] || fail "capped job ExitCode $(job_field "$capped" ExitCode), expected 75:0"
[ "$(job_field "$capped" Restarts)" = 2 ] || fail "capped job requeued $(job_field "$capped" Restarts) times, expected MAX_REQUEUES=2"
[ "$(grep -c 'requeueing job' "$capped_log")" = 2 ] || fail "capped job: expected 2 requeues in the log; log: $(digest "$capped_log")"
grep -q 'not requeueing: the job has been requeued 2 times (MAX_REQUEUES=2)' "$capped_log" \
  || fail "capped job: no refusal at the cap; log: $(digest "$capped_log")"
# every run made progress: the stop checkpoints are at global steps 30, 60, 90
steps=$(sed -n 's/^paraprop: --stop-after reached; .*global step \([0-9]*\)).*/\1/p' "$capped_log" | tr '\n' ' ')
[ "$steps" = "30 60 90 " ] || fail "capped job stopped at global steps '$steps', expected 30 60 90"

# --- no progress --------------------------------------------------------------------------------
[ "$stuck_state" = FAILED ] || fail "stuck job ended $stuck_state, expected FAILED; log: $(digest "$stuck_log")"
[ "$(job_field "$stuck" ExitCode)" = 75:0 ] || fail "stuck job ExitCode $(job_field "$stuck" ExitCode)"
[ "$(job_field "$stuck" Restarts)" = 0 ] || fail "stuck job was requeued (Restarts=$(job_field "$stuck" Restarts))"
grep -q 'stub trainer: exiting 75' "$stuck_log" || fail "stuck job did not run the stub trainer; log: $(digest "$stuck_log")"
grep -q 'newest at global step 20' "$stuck_log" || fail "stuck job did not read the step of the existing checkpoint; log: $(digest "$stuck_log")"
grep -q 'not requeueing: the newest checkpoint did not advance (global step 20 at the start, 20 now)' "$stuck_log" \
  || fail "stuck job: no no-progress refusal; log: $(digest "$stuck_log")"
if grep -q 'requeueing job' "$stuck_log"; then fail "stuck job tried to requeue"; fi

# --- array: only the signalled task requeued ------------------------------------------------------
[ "$a1_state" = COMPLETED ] || fail "array task 1 ended $a1_state; log: $(digest "$a1_log")"
[ "$a2_state" = COMPLETED ] || fail "array task 2 ended $a2_state; log: $(digest "$a2_log")"
[ "$(job_field "${array}_1" Restarts)" = 0 ] || fail "array task 1 was requeued too (Restarts=$(job_field "${array}_1" Restarts))"
[ "$(job_field "${array}_2" Restarts)" = 1 ] || fail "array task 2: Restarts=$(job_field "${array}_2" Restarts), expected 1"
grep -q "requeueing job ${array}_2 " "$a2_log" || fail "task 2 did not requeue itself as ${array}_2; log: $(digest "$a2_log")"
if grep -q 'requeueing' "$a1_log"; then fail "array task 1 requeued; log: $(digest "$a1_log")"; fi
grep -Eq "^paraprop: resuming from (.*/)?runs/array-${array}_2/checkpoints/" "$a2_log" \
  || fail "task 2 did not resume from its own run folder; log: $(digest "$a2_log")"
[ -s "$SCRATCH/runs/array-${array}_1/final.h5" ] || fail "array task 1 wrote no final.h5"
[ -s "$SCRATCH/runs/array-${array}_2/final.h5" ] || fail "array task 2 wrote no final.h5"
# same data, same seed, same options: the signalled and requeued task ends with task 1's bits
fp1=$(fingerprint_of "$a1_log")
fp2=$(fingerprint_of "$a2_log")
if [ -z "$fp1" ] || [ "$fp1" != "$fp2" ]; then fail "array fingerprints differ: task 1 $fp1, task 2 $fp2"; fi
log "cap, no-progress refusal and array-task requeue behave"
