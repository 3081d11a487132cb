#!/usr/bin/env bash
# No rank left in a collective: a failure injected on one rank of 3 (PARAPROP_FAULT=SITE:RANK,
# compiled into test builds only) at each point where that rank used to return while the others
# entered a collective. Every rank must leave within 30 s with a non-zero status, and the
# output must carry the failing rank's message: agreed failures print it once (rank 0 prints
# "rank R: …" and every rank exits cleanly); the one failure left unagreed on purpose
# (grad-allreduce) is printed by the failing rank, which aborts the job.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2; rm -rf "$dir"; mkdir -p "$dir"
synth_h5 "$bin" "$dir/d.h5" 200 30 6 3
common=(--data "$dir/d.h5" --threads 1)
train=(train "${common[@]}" --layers 6,16,3 --output-activation softmax --epochs 1 --batch-size 10 --progress off)
bench=(bench "${common[@]}" --layers 6,16,3 --output-activation softmax --batch-size 10 --steps 3 --warmup 1)

# a model for eval, and a fault-free run of each command: a failure below comes from the fault
mpirun_n 3 "$bin" "${train[@]}" --run-dir "$dir/model" > "$dir/clean-train.txt" 2>&1 \
  || fail "fault-free train: $(cat "$dir/clean-train.txt")"
eval=(eval --data "$dir/d.h5" --model "$dir/model/final.h5" --threads 1)
mpirun_n 3 "$bin" "${eval[@]}" > "$dir/clean-eval.txt" 2>&1 || fail "fault-free eval: $(cat "$dir/clean-eval.txt")"
mpirun_n 3 "$bin" "${bench[@]}" > "$dir/clean-bench.txt" 2>&1 || fail "fault-free bench: $(cat "$dir/clean-bench.txt")"

n=0
# check SITE RANK COMMAND EXPECTED_STATUS(or "any") MESSAGE_REGEX [EXTRA_ARGS...]
check() {
  local site=$1 rank=$2 cmd=$3 want=$4 msg=$5 out="$dir/$1-$2.txt" args rc took start
  shift 5
  case $cmd in
    train) args=("${train[@]}" --run-dir "$dir/run-$site-$rank") ;;
    resume) # a second epoch from the fault-free run's checkpoint: resume_from agrees too
      rm -rf "$dir/run-$site-$rank"; cp -r "$dir/model" "$dir/run-$site-$rank"
      args=("${train[@]}" --epochs 2 --run-dir "$dir/run-$site-$rank") ;;
    eval) args=("${eval[@]}") ;;
    bench) args=("${bench[@]}") ;;
  esac
  args+=("$@")
  start=$(date +%s)
  set +e
  PARAPROP_FAULT="$site:$rank" timeout 30 mpiexec -n 3 --oversubscribe --bind-to none \
    -x PARAPROP_FAULT "$bin" "${args[@]}" > "$out" 2>&1
  rc=$?
  set -e
  took=$(( $(date +%s) - start ))
  [ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "$site on rank $rank: the job hung (killed after 30 s): $(tail -5 "$out")"
  [ $rc -ne 0 ] || fail "$site on rank $rank: exit 0; the fault did not fire: $(tail -5 "$out")"
  [ "$want" = any ] || [ $rc -eq "$want" ] || fail "$site on rank $rank: exit $rc, expected $want: $(cat "$out")"
  grep -Eq "paraprop: error: rank $rank: $msg" "$out" || fail "$site on rank $rank: message: $(cat "$out")"
  [ "$(grep -c 'paraprop: error' "$out")" -eq 1 ] || fail "$site on rank $rank: the error should be printed once: $(cat "$out")"
  # an agreed failure ends every rank cleanly; only grad-allreduce is meant to abort
  if [ "$site" != grad-allreduce ] && grep -q "on this rank only" "$out"; then
    fail "$site on rank $rank: not agreed, the job was aborted: $(cat "$out")"
  fi
  echo "ok $site on rank $rank: exit $rc in ${took}s: $(grep 'paraprop: error' "$out")"
  n=$((n + 1))
}

check dataset-probe 1 train 3 ".*d\.h5: probing failed \(injected fault\)"
# rank mode's own allocations (auto picks node mode for 3 ranks on one node)
check dataset-alloc 1 train 6 ".*d\.h5: cannot allocate rows [0-9]+…[0-9]+ of /train \(injected fault\)" --data-mode rank
check dataset-read 1 train 3 ".*d\.h5: reading '/train/inputs' rows [0-9]+…[0-9]+ failed"
check dataset-read 0 train 3 ".*d\.h5: reading '/train/inputs' rows 0…[0-9]+ failed"
check trainer-alloc 1 train 6 "cannot allocate the slice table of 3 ranks" --data-mode rank
check dataset-read 2 train 3 ".*d\.h5: reading '/train/inputs' rows [0-9]+…[0-9]+ failed" --data-mode rank
# node mode's shared block (the dataset-read checks above read straight into it)
check shared-alloc 1 train 6 "cannot allocate a shared-window handle" --data-mode node
check config-format 1 resume 6 "out of memory formatting the configuration"
check config-format 0 resume 6 "out of memory formatting the configuration"
check evaluate-alloc 1 train 6 "out of memory for the evaluation's sums"
check history-alloc 1 resume 6 "out of memory for the metrics history"
check bench-alloc 1 bench 6 "out of memory for the peak-RSS table of 3 ranks"
check eval-alloc 1 eval 6 "out of memory for the 3 × 3 confusion matrix"
# unagreed: rank 1 alone fails and returns; the others wait in the allreduce until it aborts
check grad-allreduce 1 train any "(MPI gradient allreduce|node gradient reduction|node factor exchange) failed: injected fault \(on this rank only: aborting all ranks\)"
check grad-allreduce 0 train any "(MPI gradient allreduce|node gradient reduction|node factor exchange) failed: injected fault \(on this rank only: aborting all ranks\)"
# the overlapped step's nonblocking sums (reduce.h): the same fault site, once per step
PARAPROP_REDUCE=mpi PARAPROP_OVERLAP=on check grad-allreduce 2 train any "MPI gradient allreduce failed: injected fault \(on this rank only: aborting all ranks\)"
echo "PASS no rank left: $n injected faults"
