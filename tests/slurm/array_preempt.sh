#!/usr/bin/env bash
# Slurm test: a job array where only the interrupted tasks requeue. On a private cluster of four
# slurmd on this host (n1..n4, 2 CPUs each), the unprivileged user nobody submits
# jobs/train.sbatch as a 3-task array (--array=0-2), each task 2 ranks on one node, so each
# task fills its own node. Once every task trains:
#   the task whose job id is the array's own id (Slurm gives split-off tasks new ids, and the
#          last one keeps the array's; a requeue by that bare id is the case the script's
#          ARRAYID_TASKID reference exists for) gets the checkpoint signal (scancel
#          --signal=USR1 ARRAY_i) and requeues itself with `scontrol requeue ARRAY_i`;
#   another task is preempted: a job in the "urgent" partition asks for exactly that task's
#          node, so Slurm preempts that task alone (PreemptMode=REQUEUE) and requeues it;
#   the third task is left alone.
# Each task's Restarts (scontrol show job ARRAY_i; no accounting here, so no sacct) and the
# SLURM_RESTART_COUNT its runs logged must be exactly 1, 1 and 0; the third task must have run
# once, never stopped, never resumed. Every task trained in its own run folder (runs/<name>-ARRAY_i, the
# default) and ends with the fingerprint of an uninterrupted 1-rank run.
#
#   array_preempt.sh PATH/TO/paraprop SCRATCH_DIR
set -euo pipefail
# shellcheck source=tests/slurm/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
export CLUSTER_NODES=4 CLUSTER_CPUS=2
slurm_test_setup "$@"

DATA=$SCRATCH/tiny.h5
make_tiny_dataset "$DATA" 2000
# 60 epochs: ~12 s per task on this 2-core VM, so the interruptions land mid-run (20 epochs
# took 4.3 s on a Zen 5 VM in CI, and the preempted task finished its last epoch before the
# signal reached it: 2026-12-07)
# shellcheck disable=SC2054  # commas inside --layers
args=(--layers 16,32,4 --batch-size 32 --epochs 60 --learning-rate 0.05 --seed 9
  --reduction exact --checkpoint-every 20steps --keep 2 --progress off)

mpiexec -n 1 --bind-to none "$PARAPROP" train --data "$DATA" --run-dir "$SCRATCH/reference" \
  "${args[@]}" >"$SCRATCH/reference.txt" 2>&1 &
reference=$!

export PARAPROP DATA OMPI_MCA_btl=tcp,self OMPI_MCA_btl_tcp_if_include=lo
unset RUN_DIR # the default run folder, keyed on ARRAYID_TASKID, is under test
home=$SCRATCH/nobody
nobody_home "$home"
array=$(cd "$home" && runuser -u nobody -- \
  env -u OMPI_ALLOW_RUN_AS_ROOT -u OMPI_ALLOW_RUN_AS_ROOT_CONFIRM \
  sbatch --parsable --job-name=arr --array=0-2 --nodes=1 --ntasks=2 --output=%x-%A_%a.out \
  "$REPO_DIR/jobs/train.sbatch" -- "${args[@]}") || fail "sbatch --array as nobody failed"
array=${array%%;*}
tasks=("${array}_0" "${array}_1" "${array}_2")
log "submitted array $array (tasks ${tasks[*]}) as nobody"
task_log() { printf '%s/arr-%s.out\n' "$home" "$1"; }
run_dir() { printf '%s/runs/arr-%s\n' "$home" "$1"; }
start_nudger "${tasks[@]}"

# every task trains (has written a checkpoint); its node is noted while its first run runs
declare -A node=()
start=$SECONDS
for t in "${tasks[@]}"; do
  until [ -n "$(ls -A "$(run_dir "$t")/checkpoints" 2>/dev/null)" ] && [ -n "${node[$t]:-}" ]; do
    case $(job_field "$t" JobState) in
      RUNNING) [ -n "${node[$t]:-}" ] || node[$t]=$(job_field "$t" NodeList) ;;
      COMPLETED | FAILED | CANCELLED) fail "task $t ended $(job_field "$t" JobState) before its first checkpoint; log: $(digest "$(task_log "$t")")" ;;
    esac
    [ $((SECONDS - start)) -lt 180 ] || fail "task $t wrote no checkpoint in 180 s (state $(job_field "$t" JobState)); log: $(digest "$(task_log "$t")")"
    sleep 0.1
  done
done
log "tasks run on ${node[${tasks[0]}]} ${node[${tasks[1]}]} ${node[${tasks[2]}]}"
[ "$(printf '%s\n' "${node[@]}" | sort -u | wc -l)" = 3 ] || fail "the tasks do not have a node each: ${node[*]}"
# roles: sig (signalled, requeues itself), pre (preempted), idle (left alone); sig is the task
# holding the array's own job id if it still runs, else any other
sig='' pre='' idle=''
for t in "${tasks[@]}"; do
  [ "$(job_field "$t" JobId)" != "$array" ] || sig=$t
done
if [ -n "$sig" ] && [ "$(job_field "$sig" JobState)" != RUNNING ]; then
  log "warning: the task with the array's own id ($array), $sig, no longer runs; signalling another"
  sig=''
fi
for t in "${tasks[@]}"; do
  [ "$t" != "$sig" ] || continue
  [ "$(job_field "$t" JobState)" = RUNNING ] || { idle=${idle:-$t}; continue; }
  if [ -z "$sig" ]; then sig=$t; elif [ -z "$pre" ]; then pre=$t; else idle=${idle:-$t}; fi
done
if [ -z "$sig" ] || [ -z "$pre" ] || [ -z "$idle" ]; then
  fail "fewer than two tasks still running to interrupt (sig '$sig', pre '$pre'): the machine ran them too fast"
fi
log "job ids: $(for t in "${tasks[@]}"; do printf '%s=%s ' "$t" "$(job_field "$t" JobId)"; done); signal $sig, preempt $pre, leave $idle"

scancel --signal=USR1 "$sig" || fail "scancel --signal=USR1 $sig failed"
urgent=$(submit --job-name=urgent --partition=urgent --nodelist="${node[$pre]}" --nodes=1 \
  --ntasks=2 --output=/dev/null --wrap "sleep 2")
log "signalled $sig; urgent job $urgent on ${node[$pre]} to preempt $pre"
start=$SECONDS
until [ "$(job_field "$sig" Restarts)" -ge 1 ] && [ "$(job_field "$pre" Restarts)" -ge 1 ]; do
  [ $((SECONDS - start)) -lt 60 ] || fail "not requeued 60 s later: $sig Restarts=$(job_field "$sig" Restarts), $pre Restarts=$(job_field "$pre" Restarts)"
  sleep 0.1
done
[ "$(wait_job_done "$urgent" 90)" = COMPLETED ] || fail "urgent job $urgent did not complete"

for t in "${tasks[@]}"; do
  state=$(wait_job_done "$t" 300)
  log "task $t: $state Restarts=$(job_field "$t" Restarts)"
  [ "$state" = COMPLETED ] || fail "task $t ended $state; log: $(digest "$(task_log "$t")")"
done
wait "$reference" || fail "reference run failed: $(tail -3 "$SCRATCH/reference.txt")"
want=$(fingerprint_of "$SCRATCH/reference.txt")
[ -n "$want" ] || fail "the reference run printed no fingerprint"

# restart counts: from Slurm's record and from what each run saw (SLURM_RESTART_COUNT)
declare -A expect=([$sig]=1 [$pre]=1 [$idle]=0)
for t in "${tasks[@]}"; do
  l=$(task_log "$t")
  [ -s "$l" ] || fail "no log $l for task $t"
  [ "$(job_field "$t" ArrayJobId)_$(job_field "$t" ArrayTaskId)" = "$t" ] || fail "scontrol does not know $t as an array task"
  [ "$(job_field "$t" Restarts)" = "${expect[$t]}" ] || fail "task $t Restarts=$(job_field "$t" Restarts), expected ${expect[$t]}"
  counts=$(sed -n 's/.*train.sbatch: SLURM_RESTART_COUNT=\([0-9]*\) .*/\1/p' "$l" | tr '\n' ' ')
  want_counts="$(seq -s ' ' 0 "${expect[$t]}") "
  [ "$counts" = "$want_counts" ] || fail "task $t ran with SLURM_RESTART_COUNT '$counts', expected '$want_counts'; log: $(digest "$l")"
  [ "$(grep -c '^paraprop .*: 2 rank(s)' "$l")" = $((expect[$t] + 1)) ] || fail "task $t did not run $((expect[$t] + 1)) time(s) on 2 ranks; log: $(digest "$l")"
  [ -s "$(run_dir "$t")/final.h5" ] || fail "task $t wrote no $(run_dir "$t")/final.h5"
  got=$(fingerprint_of "$l")
  [ "$got" = "$want" ] || fail "task $t ended with $got, uninterrupted $want"
done
l0=$(task_log "$sig") l1=$(task_log "$pre") l2=$(task_log "$idle")
grep -q "requeueing job $sig (cause: signal" "$l0" || fail "task $sig did not requeue itself by $sig; log: $(digest "$l0")"
grep -q "job $pre was preempted" "$l1" || fail "task $pre did not see its preemption; log: $(digest "$l1")"
! grep -q 'requeueing job' "$l1" || fail "task $pre requeued itself after a preemption"
for l in "$l0" "$l1"; do
  stop=$(sed -n 's/^paraprop: stop requested; checkpoint written to \(.*\) (epoch .*, global step \([0-9]*\)).*/\1 \2/p' "$l")
  resume=$(sed -n 's/^paraprop: resuming from \(.*\) (epoch .*, global step \([0-9]*\),.*/\1 \2/p' "$l")
  [ -n "$stop" ] || fail "$l: no stop checkpoint"
  [ "$resume" = "$stop" ] || fail "$l: resumed from '$resume', stopped at '$stop'"
done
! grep -Eq 'stop requested|resuming from|requeue' "$l2" || fail "task $idle was touched; log: $(digest "$l2")"
log "only the signalled ($sig) and the preempted ($pre) task requeued, not $idle; all three end with $want"
