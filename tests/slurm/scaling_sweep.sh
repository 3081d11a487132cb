#!/usr/bin/env bash
# Slurm test: a tiny strong + weak sweep through jobs/scaling.sbatch produces one bench record
# and one report row per configuration, and three valid PNG plots.
#
#   scaling_sweep.sh PATH/TO/paraprop SCRATCH_DIR
set -euo pipefail
# shellcheck source=tests/slurm/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
slurm_test_setup "$@"

data=$SCRATCH/tiny.h5
make_tiny_dataset "$data" 512
configs="1x1 1x2 2x1 2x2"
n_configs=4
out=$SCRATCH/sweep
export PARAPROP DATA=$data OUT_DIR=$out CONFIGS=$configs MODES="strong weak"
export LAYERS=16,32,4 STRONG_BATCH=32 WEAK_BATCH_PER_RANK=16 STEPS=20 WARMUP=2
export BENCH_ARGS="--seed 1" SCALING_REPORT=$REPO_DIR/tools/scaling-report REPORT_ARGS=--model
cd "$SCRATCH"
job=$(submit --job-name=sweep --ntasks=2 --cpus-per-task=2 "$REPO_DIR/jobs/scaling.sbatch")
log "submitted scaling job $job"
state=$(wait_job_done "$job" 400)
job_log=$SCRATCH/sweep-$job.out
log "job $job: $state $(job_field "$job" ExitCode)"
[ "$state" = COMPLETED ] || fail "scaling job ended $state; log: $(digest "$job_log")"

# One record per configuration and mode, each tagged by the sweep.
results=$out/results.jsonl
[ -s "$results" ] || fail "no $results"
records=$(grep -c . "$results")
[ "$records" -eq $((2 * n_configs)) ] || fail "$records records in $results, expected $((2 * n_configs))"
/usr/bin/python3 - "$results" <<'PY' || fail "bad records in $results"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in recs:
    # the sweep tags "RxT" as NxPxT with N = 1 (one node)
    N, P, T = map(int, r["config"].split("x"))
    R = N * P
    assert N == 1 and r["nodes"] == 1 and r["ranks_per_node"] == [R, R], f"config {r['config']} not on one node"
    assert (r["ranks"], r["threads"]) == (R, T), f"config {r['config']} ran as {r['ranks']}x{r['threads']}"
    want = 32 if r["mode"] == "strong" else 16 * R
    assert r["batch_size"] == want, f"{r['mode']} {r['config']}: batch {r['batch_size']} != {want}"
    assert r["samples_per_s"] > 0
PY

# The report: one table per mode, one row per configuration.
report=$out/report.md
[ -s "$report" ] || fail "no report $report; log: $(digest "$job_log")"
for mode in strong weak; do
  rows=$(awk -v m="## $mode scaling" 'index($0, m) == 1 {t = 1; next} /^## / {t = 0}
    t && /^\| [0-9]/ {n++} END {print n + 0}' "$report")
  [ "$rows" -eq "$n_configs" ] || fail "$mode table has $rows rows, expected $n_configs: $(cat "$report")"
done
for png in speedup efficiency phases; do
  f=$out/plots/$png.png
  [ -s "$f" ] || fail "no plot $f"
  [ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$f is not a PNG"
  if command -v file >/dev/null 2>&1; then
    [[ "$(file "$f")" == *'PNG image data'* ]] || fail "$f: $(file "$f")"
  fi
done
log "report and plots OK:"
awk '/^## strong/ {p = 1; print; next} /^## / {p = 0} p' "$report" >&2
