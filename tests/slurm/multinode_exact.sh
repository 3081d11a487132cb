#!/usr/bin/env bash
# Slurm test: several nodes. A private cluster of four slurmd on this host (n1..n4, cluster.sh
# CLUSTER_NODES=4, TaskPlugin=task/affinity). jobs/train.sbatch trains in exact mode on 2 nodes
# x 2 ranks (--nodes=2 --ntasks-per-node=2), is signalled once (SIGUSR1 after its first
# checkpoint), requeues itself and resumes on 2 nodes; its final fingerprint equals that of the
# same training as a 1-node, 1-rank job, submitted and run as the unprivileged user nobody.
# Open MPI's ranks on different "nodes" talk over TCP
# (OMPI_MCA_btl=tcp,self), as between real nodes.
#
#   multinode_exact.sh PATH/TO/paraprop SCRATCH_DIR
set -euo pipefail
# shellcheck source=tests/slurm/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
export CLUSTER_NODES=4 CLUSTER_CPUS=2
slurm_test_setup "$@"

DATA=$SCRATCH/tiny.h5
make_tiny_dataset "$DATA" 2000
# shellcheck disable=SC2054  # commas inside --layers
args=(--layers 16,32,4 --batch-size 32 --epochs 6 --learning-rate 0.05 --seed 11
  --reduction exact --checkpoint-every 20steps --keep 2 --progress off)
cd "$SCRATCH"
export PARAPROP DATA OMPI_MCA_btl=tcp,self OMPI_MCA_btl_tcp_if_include=lo

multi=$(RUN_DIR=$SCRATCH/run-multi submit --job-name=multi --nodes=2 --ntasks-per-node=2 \
  --ntasks=4 "$REPO_DIR/jobs/train.sbatch" -- "${args[@]}")
# The 1x1 job runs as an unprivileged user (nobody), from a folder it owns: the script must
# not depend on root (it sets OMPI_ALLOW_RUN_AS_ROOT only for root).
nobody_home "$SCRATCH/nobody"
single=$(cd "$SCRATCH/nobody" && RUN_DIR=$SCRATCH/nobody/run-single \
  runuser -u nobody -- env -u OMPI_ALLOW_RUN_AS_ROOT -u OMPI_ALLOW_RUN_AS_ROOT_CONFIRM \
  sbatch --parsable --job-name=single --nodes=1 --ntasks=1 \
  "$REPO_DIR/jobs/train.sbatch" -- "${args[@]}") || fail "sbatch as nobody failed"
single=${single%%;*}
log "submitted 2x2 job $multi and 1x1 job $single (as nobody)"
multi_log=$(job_log_of multi "$multi")
single_log=$SCRATCH/nobody/single-$single.out
start_nudger "$multi"

start=$SECONDS
until [ -n "$(ls -A "$SCRATCH/run-multi/checkpoints" 2>/dev/null)" ]; do
  case $(job_field "$multi" JobState) in
    COMPLETED | FAILED | CANCELLED) fail "2x2 job ended $(job_field "$multi" JobState) before its first checkpoint; log: $(digest "$multi_log")" ;;
  esac
  [ $((SECONDS - start)) -lt 120 ] || fail "2x2 job wrote no checkpoint in 120 s; log: $(digest "$multi_log")"
  sleep 0.1
done
nodes=$(job_field "$multi" NodeList)
scancel --signal=USR1 "$multi" || fail "scancel --signal=USR1 $multi failed"
log "2x2 job on $nodes signalled"

multi_state=$(wait_job_done "$multi" 240)
single_state=$(wait_job_done "$single" 120)
log "2x2: $multi_state Restarts=$(job_field "$multi" Restarts); 1x1: $single_state"
[ "$single_state" = COMPLETED ] || fail "1x1 job ended $single_state; log: $(digest "$single_log")"
[ "$multi_state" = COMPLETED ] || fail "2x2 job ended $multi_state; log: $(digest "$multi_log")"
[ "$(job_field "$multi" Restarts)" = 1 ] || fail "2x2 job Restarts=$(job_field "$multi" Restarts), expected 1"
[ "$(job_field "$multi" NumNodes)" = 2 ] || fail "2x2 job ran on NumNodes=$(job_field "$multi" NumNodes)"
case $nodes in n\[[1-4]-[1-4]\] | n\[[1-4],[1-4]\]) ;; *) fail "2x2 job's NodeList '$nodes' is not two of n1..n4" ;; esac
[ "$(grep -c '^paraprop .*: 4 rank(s)' "$multi_log")" = 2 ] || fail "2x2 job did not run twice on 4 ranks; log: $(digest "$multi_log")"
grep -q '(2 node(s)): 4 tasks x 1 cpus' "$multi_log" || fail "the script did not see 2 nodes x 4 tasks"
grep -q 'task plugin=task/affinity srun --cpu-bind=cores' "$multi_log" \
  || fail "the script did not bind with task/affinity; log: $(digest "$multi_log")"
# srun reports the stop (exit 75) per node: ranks 0-1 on one node, 2-3 on the other
for tasks in 0-1 2-3; do
  grep -Eq "^srun: error: n[1-4]: tasks $tasks: Exited with exit code 75" "$multi_log" \
    || fail "ranks $tasks did not share a node (2 per node); log: $(digest "$multi_log")"
done
grep -q 'requeueing job' "$multi_log" || fail "2x2 job did not requeue itself"
grep -q '^paraprop: resuming from' "$multi_log" || fail "2x2 job did not resume"
grep -q '^paraprop .*: 1 rank(s)' "$single_log" || fail "1x1 job did not run on 1 rank"
case $(job_field "$single" UserId) in nobody\(*) ;; *) fail "1x1 job ran as $(job_field "$single" UserId), not nobody" ;; esac
[ -s "$SCRATCH/nobody/run-single/final.h5" ] || fail "the unprivileged job wrote no final.h5"
[ "$(stat -c %U "$SCRATCH/nobody/run-single/final.h5")" = nobody ] || fail "final.h5 of the 1x1 job is not nobody's"
want=$(fingerprint_of "$single_log")
got=$(fingerprint_of "$multi_log")
[ -n "$want" ] || fail "1x1 job printed no fingerprint"
[ "$got" = "$want" ] || fail "2 nodes x 2 ranks with a requeue ended with $got, 1 rank with $want"
log "2 nodes x 2 ranks (requeued once) and 1 rank end with the same bits: $got"
