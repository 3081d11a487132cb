# shellcheck shell=bash
# Shared helpers for the tests/slurm/*.sh tests (sourced, not run).
#
# A test calls `slurm_test_setup "$@"` first: it checks the arguments (PARAPROP SCRATCH), wipes
# SCRATCH, starts a private cluster in SCRATCH/cluster, and stops it again on exit, pass or fail.

SLURM_TEST_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034  # used by the tests that source this file
REPO_DIR=$(cd -- "$SLURM_TEST_DIR/../.." && pwd)
TEST_NAME=$(basename -- "$0" .sh)

log() { printf '[%s] %s: %s\n' "$(date +%T)" "$TEST_NAME" "$*" >&2; }
fail() {
  printf '%s: FAIL: %s\n' "$TEST_NAME" "$*" >&2
  exit 1
}
# digest FILE: what a failure message quotes of a job log. CI shows only the head and the tail
# of a long failure, so the lines that say what went wrong come first (errors, aborts, refusals,
# signals), then the log's last lines; the whole log stays in the scratch folder.
digest() {
  [ -f "$1" ] || { printf '(no log %s)' "$1"; return; }
  printf '%s (%s lines); error lines:\n' "$1" "$(wc -l <"$1")"
  grep -inE 'error|fail|abort|refus|cannot|killed|signal|denied|timed? ?out' "$1" | head -n 20 || true
  printf -- '--- last lines:\n'
  tail -n 15 "$1"
}

# nobody_home DIR: a folder owned by the unprivileged user nobody, from which a test submits as
# nobody, who must also reach everything the job runs: the paraprop binary and the libraries
# beside it, jobs/, slurm.conf and the data. A checkout under /root (mode 700, where a fresh
# machine's root clones) is out of reach: each folder above those that others cannot enter
# gets o+x (enter, not list) for the test's duration, and its mode back at exit.
RESTORE_MODES=()
nobody_home() {
  local p d path
  mkdir -p "$1"
  chown nobody "$1" || fail "cannot chown $1 to nobody"
  for p in "$1" "$PARAPROP" "$REPO_DIR/jobs" "$SLURM_CONF" "${DATA:-$1}"; do
    path=/
    # from the top down: a folder others can enter below one they cannot is still out of reach
    while IFS= read -r d; do
      [ -n "$d" ] || continue
      path=${path%/}/$d
      [ -d "$path" ] || break
      case $(stat -c %A "$path") in
        ?????????[xt]) ;;
        *)
          RESTORE_MODES+=("$(stat -c %a "$path"):$path")
          chmod o+x "$path" || fail "cannot let nobody enter $path"
          log "nobody cannot enter $path (the checkout's folder): o+x until the test ends"
          ;;
      esac
    done < <(dirname -- "$(readlink -f -- "$p")" | tr '/' '\n')
  done
}

slurm_test_cleanup() {
  local rc=$?
  trap - EXIT
  local m
  for m in "${RESTORE_MODES[@]}"; do chmod "${m%%:*}" "${m#*:}" 2>/dev/null || true; done
  if [ -n "${NUDGER_PID:-}" ]; then
    kill "$NUDGER_PID" 2>/dev/null || true
    wait "$NUDGER_PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR/log" ]; then
    # The daemons' side of a failure (a step that could not start, a node that went down).
    printf '%s: Slurm daemon errors:\n' "$TEST_NAME" >&2
    grep -hiE 'error|fatal' "$CLUSTER_DIR"/log/*.log 2>/dev/null | tail -n 20 >&2 || true
  fi
  if [ -n "${CLUSTER_DIR:-}" ]; then
    "$SLURM_TEST_DIR/cluster.sh" stop "$CLUSTER_DIR" || true
  fi
  if [ "$rc" -eq 0 ]; then
    printf '%s: PASS\n' "$TEST_NAME" >&2
  else
    printf '%s: failed with status %s (scratch: %s)\n' "$TEST_NAME" "$rc" "${SCRATCH:-?}" >&2
  fi
  exit "$rc"
}

# slurm_test_setup PARAPROP SCRATCH: sets PARAPROP, SCRATCH, CLUSTER_DIR and SLURM_CONF.
slurm_test_setup() {
  [ $# -eq 2 ] || { echo "usage: $0 PATH/TO/paraprop SCRATCH_DIR" >&2; exit 2; }
  PARAPROP=$1
  SCRATCH=$2
  # The private cluster runs its daemons as root (SlurmUser=root); elsewhere report "skipped"
  # (exit 77, which CMake's SKIP_RETURN_CODE maps to a skipped test).
  if [ "$(id -u)" != 0 ]; then
    echo "$TEST_NAME: SKIP: needs root to run a private Slurm cluster" >&2
    exit 77
  fi
  case "$PARAPROP" in /*) ;; */*) PARAPROP=$PWD/$PARAPROP ;; esac
  case "$SCRATCH" in /*) ;; *) SCRATCH=$PWD/$SCRATCH ;; esac
  if [[ "$PARAPROP" == */* ]]; then
    [ -x "$PARAPROP" ] || fail "paraprop binary '$PARAPROP' does not exist or is not executable"
  else
    PARAPROP=$(command -v "$PARAPROP") || fail "paraprop '$1' not found on PATH"
  fi
  # Only clear a scratch folder this harness made (or an empty/missing one).
  if [ -d "$SCRATCH" ] && [ -n "$(ls -A "$SCRATCH")" ] && [ ! -f "$SCRATCH/.slurm-test-scratch" ]; then
    fail "scratch folder '$SCRATCH' is not empty and was not made by a slurm test"
  fi
  # A cluster left running by an interrupted earlier run of this test is stopped first.
  if [ -d "$SCRATCH/cluster" ]; then
    "$SLURM_TEST_DIR/cluster.sh" stop "$SCRATCH/cluster" || true
  fi
  rm -rf -- "$SCRATCH"
  mkdir -p "$SCRATCH"
  : >"$SCRATCH/.slurm-test-scratch"

  trap slurm_test_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  CLUSTER_DIR=$SCRATCH/cluster
  local envs
  envs=$("$SLURM_TEST_DIR/cluster.sh" start "$CLUSTER_DIR") || fail "could not start the Slurm cluster"
  eval "$envs"
  if [ "$(id -u)" = 0 ]; then
    # Open MPI refuses root without these; only needed for programs run outside the job scripts.
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
  log "paraprop: $PARAPROP; scratch: $SCRATCH"
}

# job_field ID FIELD: one field of `scontrol show job -o ID` (empty if the job is unknown).
job_field() {
  scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# wait_job_done ID TIMEOUT: waits until the job reached a final state; prints that state.
# (No accounting here, so no sacct; `sbatch --wait` returns 0 even for cancelled jobs.)
wait_job_done() {
  local id=$1 timeout=$2 state='' start=$SECONDS
  while [ $((SECONDS - start)) -lt "$timeout" ]; do
    state=$(job_field "$id" JobState)
    case "$state" in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED)
        printf '%s\n' "$state"
        return 0
        ;;
    esac
    sleep 0.2
  done
  fail "job $id not finished after ${timeout}s (state ${state:-unknown}): $(scontrol show job -o "$id" 2>&1)"
}

# start_requeued ID WAIT: a requeued job waits cred_expire before it may start again, and the
# credential revocation is stamped in whole seconds (a relaunch within the same second is refused
# with "Job credential revoked"): waits WAIT seconds, then moves its StartTime to now until it
# leaves PENDING (at most 60 s).
start_requeued() {
  local id=$1 start
  sleep "$2"
  start=$SECONDS
  while [ "$(job_field "$id" JobState)" = PENDING ] && [ $((SECONDS - start)) -lt 60 ]; do
    scontrol update JobId="$id" StartTime=now >/dev/null 2>&1 || true
    sleep 0.5
  done
}

# submit ARGS...: sbatch --parsable, prints the job id.
submit() {
  local out
  out=$(sbatch --parsable "$@") || fail "sbatch $* failed"
  printf '%s\n' "${out%%;*}"
}

# make_tiny_dataset OUT.h5 ROWS: a deterministic 16-feature, 4-class CSV, converted by paraprop.
# The classes are separable (label = quadrant of two feature sums), so training makes progress.
make_tiny_dataset() {
  local out=$1 rows=$2 csv=${1%.h5}.csv
  /usr/bin/python3 - "$csv" "$rows" <<'PY'
import random, sys
path, rows = sys.argv[1], int(sys.argv[2])
rng = random.Random(12345)
with open(path, "w") as f:
    for _ in range(rows):
        x = [rng.uniform(-1.0, 1.0) for _ in range(16)]
        label = (sum(x[:8]) > 0) * 2 + (sum(x[8:]) > 0)
        f.write(",".join([str(label)] + ["%.6f" % v for v in x]) + "\n")
PY
  "$PARAPROP" convert csv --train "$csv" --label-column 0 -o "$out" >"$out.log" 2>&1 \
    || fail "paraprop convert csv failed: $(cat "$out.log")"
  [ -s "$out" ] || fail "paraprop convert csv wrote no $out"
}

# fingerprint_of FILE: the last "fingerprint: <64 hex>" in FILE.
fingerprint_of() {
  grep -Eo 'fingerprint: [0-9a-f]{64}' "$1" | tail -n 1 | cut -d' ' -f2
}

# start_nudger JOB...: in the background, starts each JOB soon after it was requeued, instead of
# after cred_expire. slurmd stamps the revocation of a requeued job's credential in whole
# seconds and refuses a relaunch within that second ("Job credential revoked"), so it waits 3 s
# after first seeing the job pending. NUDGE_UPDATE: further `scontrol update` fields to set on
# each requeued job first (e.g. "TimeLimit=5"). Stopped by slurm_test_cleanup.
start_nudger() {
  (
    declare -A seen=()
    while :; do
      for j in "$@"; do
        rec=$(scontrol show job -o "$j" 2>/dev/null | head -n 1) || continue
        state=$(sed -n 's/.* JobState=\([A-Z_]*\).*/\1/p' <<<"$rec")
        restarts=$(sed -n 's/.* Restarts=\([0-9]*\).*/\1/p' <<<"$rec")
        if [ "$state" != PENDING ] || [ "${restarts:-0}" -lt 1 ]; then continue; fi
        key=$j:$restarts
        if [ -z "${seen[$key]:-}" ]; then
          seen[$key]=$SECONDS
          if [ -n "${NUDGE_UPDATE:-}" ]; then
            # shellcheck disable=SC2086  # several fields
            scontrol update JobId="$j" $NUDGE_UPDATE >/dev/null 2>&1 || true
          fi
        elif [ $((SECONDS - seen[$key])) -ge 3 ]; then
          scontrol update JobId="$j" StartTime=now >/dev/null 2>&1 || true
        fi
      done
      sleep 0.5
    done
  ) &
  NUDGER_PID=$!
}

# calibrate_epochs SECONDS ROWS TRAIN_ARGS...: epochs of TRAIN_ARGS (batch size from
# --batch-size, default 10; ROWS training samples) that take about SECONDS on one rank with one
# thread here. Measured as steps per second of a 2-second run (--stop-after 2s), so the start-up
# time, which dominates a short timed run, does not count. At least 20.
calibrate_epochs() {
  local seconds=$1 rows=$2 batch=10 i steps
  shift 2
  local args=("$@")
  for ((i = 0; i < ${#args[@]}; i++)); do
    [ "${args[$i]}" != --batch-size ] || batch=${args[$((i + 1))]}
  done
  rm -rf "$SCRATCH/calibrate"
  OMP_NUM_THREADS=1 mpiexec -n 1 --bind-to none "$PARAPROP" train --data "$DATA" \
    --run-dir "$SCRATCH/calibrate" "$@" --epochs 100000 --stop-after 2s \
    >"$SCRATCH/calibrate.txt" 2>&1 && fail "calibration run did not stop after 2 s"
  steps=$(sed -n 's/.*--stop-after reached; .*global step \([0-9]*\)).*/\1/p' "$SCRATCH/calibrate.txt")
  [ -n "$steps" ] || fail "calibration run failed: $(tail -3 "$SCRATCH/calibrate.txt")"
  rm -rf "$SCRATCH/calibrate"
  awk -v st="$steps" -v s="$seconds" -v r="$rows" -v b="$batch" \
    'BEGIN { spe = int((r + b - 1) / b); e = int(st / 2 * s / spe); print (e < 20 ? 20 : e > 100000 ? 100000 : e) }'
}

# job_log_of NAME ID: the log of a job submitted with --job-name=NAME from SCRATCH.
job_log_of() { printf '%s/%s-%s.out\n' "$SCRATCH" "$1" "$2"; }
