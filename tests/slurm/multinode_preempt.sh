#!/usr/bin/env bash
# Slurm test: preemption on several nodes. On a private cluster of four slurmd on this host
# (n1..n4, cluster.sh CLUSTER_NODES=4, TaskPlugin=task/affinity), jobs/train.sbatch, submitted
# as the unprivileged user nobody, trains in exact mode on 2 nodes x 2 ranks. Once it trains, a
# job in the higher-tier partition "urgent" asks for every CPU of every node: Slurm preempts the
# trainer (PreemptMode=REQUEUE: SIGTERM, SIGKILL after KillWait) and requeues it. The script
# recognises the preemption and leaves the requeue to Slurm; the requeued run resumes on 2 nodes
# from the checkpoint the preempted run wrote on its way out, and ends with the bits of an
# uninterrupted 1-rank run. Ranks on different "nodes" talk over TCP (OMPI_MCA_btl=tcp,self).
#
#   multinode_preempt.sh PATH/TO/paraprop SCRATCH_DIR
set -euo pipefail
# shellcheck source=tests/slurm/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
export CLUSTER_NODES=4 CLUSTER_CPUS=2
slurm_test_setup "$@"

DATA=$SCRATCH/tiny.h5
make_tiny_dataset "$DATA" 2000
# shellcheck disable=SC2054  # commas inside --layers
args=(--layers 16,32,4 --batch-size 32 --epochs 8 --learning-rate 0.05 --seed 5
  --reduction exact --checkpoint-every 20steps --keep 2 --progress off)

# The uninterrupted reference, outside Slurm and meanwhile (exact mode: any rank count gives
# the same bits).
mpiexec -n 1 --bind-to none "$PARAPROP" train --data "$DATA" --run-dir "$SCRATCH/reference" \
  "${args[@]}" >"$SCRATCH/reference.txt" 2>&1 &
reference=$!

export PARAPROP DATA OMPI_MCA_btl=tcp,self OMPI_MCA_btl_tcp_if_include=lo
# nobody submits from a folder it owns, into a run folder it owns
home=$SCRATCH/nobody
nobody_home "$home"
job=$(cd "$home" && RUN_DIR=$home/run runuser -u nobody -- \
  env -u OMPI_ALLOW_RUN_AS_ROOT -u OMPI_ALLOW_RUN_AS_ROOT_CONFIRM \
  sbatch --parsable --job-name=mnpreempt --nodes=2 --ntasks-per-node=2 --ntasks=4 \
  "$REPO_DIR/jobs/train.sbatch" -- "${args[@]}") || fail "sbatch as nobody failed"
job=${job%%;*}
job_log=$home/mnpreempt-$job.out
log "submitted 2x2 job $job as nobody"
start_nudger "$job"

# preempt once the job trains (its first checkpoint is there), at a random moment after that
start=$SECONDS
until [ -n "$(ls -A "$home/run/checkpoints" 2>/dev/null)" ]; do
  case $(job_field "$job" JobState) in
    COMPLETED | FAILED | CANCELLED) fail "job ended $(job_field "$job" JobState) before its first checkpoint; log: $(digest "$job_log")" ;;
  esac
  [ $((SECONDS - start)) -lt 120 ] || fail "job wrote no checkpoint in 120 s; log: $(digest "$job_log")"
  sleep 0.1
done
first_nodes=$(job_field "$job" NodeList)
RANDOM=$$
sleep "0.$(printf '%03d' $((RANDOM % 1000)))"
[ "$(job_field "$job" JobState)" = RUNNING ] || fail "job is $(job_field "$job" JobState) before the preemption; log: $(digest "$job_log")"
urgent=$(submit --job-name=urgent --partition=urgent --nodes=4 --ntasks=8 --output=/dev/null --wrap "sleep 2")
start=$SECONDS
until [ "$(job_field "$job" Restarts)" -ge 1 ]; do
  [ $((SECONDS - start)) -lt 60 ] || fail "job not preempted 60 s after urgent job $urgent (state $(job_field "$job" JobState))"
  sleep 0.1
done
log "job $job on $first_nodes preempted by urgent job $urgent (Restarts=$(job_field "$job" Restarts))"
[ "$(wait_job_done "$urgent" 90)" = COMPLETED ] || fail "urgent job $urgent did not complete"

state=$(wait_job_done "$job" 300)
wait "$reference" || fail "reference run failed: $(tail -3 "$SCRATCH/reference.txt")"
log "job $job: $state Restarts=$(job_field "$job" Restarts) NodeList=$(job_field "$job" NodeList)"
[ "$state" = COMPLETED ] || fail "job ended $state; log: $(digest "$job_log")"
[ "$(job_field "$job" Restarts)" = 1 ] || fail "Restarts=$(job_field "$job" Restarts), expected 1"
[ "$(job_field "$job" NumNodes)" = 2 ] || fail "job ran on NumNodes=$(job_field "$job" NumNodes)"
case $(job_field "$job" UserId) in nobody\(*) ;; *) fail "job ran as $(job_field "$job" UserId), not nobody" ;; esac
[ "$(grep -c '^paraprop .*: 4 rank(s)' "$job_log")" = 2 ] || fail "job did not run twice on 4 ranks; log: $(digest "$job_log")"
grep -q '(2 node(s)): 4 tasks x 1 cpus, restart count 1' "$job_log" \
  || fail "the requeued run did not start on 2 nodes with SLURM_RESTART_COUNT=1; log: $(digest "$job_log")"
grep -q 'task plugin=task/affinity srun --cpu-bind=cores' "$job_log" || fail "the script did not bind with task/affinity"
# the script saw the preemption (not a cancel) and did not requeue by itself
grep -q "job $job was preempted" "$job_log" || fail "the script did not recognise the preemption; log: $(digest "$job_log")"
! grep -q 'requeueing job' "$job_log" || fail "the script requeued a preempted job itself; log: $(digest "$job_log")"
# the requeued run resumed from the checkpoint the preempted run wrote on SIGTERM
stop=$(sed -n 's/^paraprop: stop requested; checkpoint written to \(.*\) (epoch .*, global step \([0-9]*\)).*/\1 \2/p' "$job_log")
resume=$(sed -n 's/^paraprop: resuming from \(.*\) (epoch .*, global step \([0-9]*\),.*/\1 \2/p' "$job_log")
[ -n "$stop" ] || fail "the preempted run wrote no stop checkpoint; log: $(digest "$job_log")"
[ "$resume" = "$stop" ] || fail "resumed from '$resume', the preempted run stopped at '$stop'"
[ "$(stat -c %U "$home/run/final.h5")" = nobody ] || fail "final.h5 is not nobody's"
want=$(fingerprint_of "$SCRATCH/reference.txt")
got=$(fingerprint_of "$job_log")
[ -n "$want" ] || fail "the reference run printed no fingerprint"
[ "$got" = "$want" ] || fail "2 nodes x 2 ranks, preempted once, ended with $got, uninterrupted $want"
log "preempted on 2 nodes and resumed at global step ${stop##* }: same bits as uninterrupted ($got)"
