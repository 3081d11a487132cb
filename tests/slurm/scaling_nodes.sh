#!/usr/bin/env bash
# Slurm test: the scaling sweep's nodes and ranks-per-node dimensions. On a private cluster of
# two slurmd on this host (n1, n2, 2 CPUs each; cluster.sh CLUSTER_NODES=2, task/affinity),
# jobs/scaling.sbatch runs strong and weak sweeps over NxPxT = 1x1x1 1x2x1 2x1x1 2x2x1 (nodes x
# ranks per node x threads) in one 2-node allocation. (task/affinity binds each rank to a real
# core, so a "node" here holds at most 2 ranks: 2 nodes x 2 ranks has no 1-node counterpart.) Checked, not timings but structure and consistency:
#   - one record per mode and configuration, tagged with what was asked (config,
#     nodes_requested, ranks_per_node_requested, mpi_env), where MPI itself saw N nodes with P
#     ranks each (nodes x ranks per node = ranks) on one host, with every allreduce level timed
#     that exists (world with R > 1, intra-node with P > 1, inter-node exactly when N > 1);
#   - the report: per mode one row per configuration with N x R/N = R and placement "ok", and a
#     communication table per mode whose cells hold numbers exactly where they are defined
#     (inter-node only on 2 nodes, "vs 1 node" where the same R x T ran on one node), and the
#     statement that these inter-node figures come from one host, not a network.
#
#   scaling_nodes.sh PATH/TO/paraprop SCRATCH_DIR
set -euo pipefail
# shellcheck source=tests/slurm/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
export CLUSTER_NODES=2 CLUSTER_CPUS=2
slurm_test_setup "$@"

data=$SCRATCH/tiny.h5
make_tiny_dataset "$data" 512
configs="1x1x1 1x2x1 2x1x1 2x2x1"
out=$SCRATCH/sweep
# ranks on different "nodes" of one host talk over TCP (cluster.sh)
export PARAPROP DATA=$data OUT_DIR=$out CONFIGS=$configs MODES="strong weak" OMPI_MCA_btl=tcp,self OMPI_MCA_btl_tcp_if_include=lo
export LAYERS=16,32,4 STRONG_BATCH=32 WEAK_BATCH_PER_RANK=16 STEPS=10 WARMUP=2
export BENCH_ARGS="--seed 1" SCALING_REPORT=$REPO_DIR/tools/scaling-report REPORT_ARGS=
cd "$SCRATCH"
job=$(submit --job-name=sweepn --nodes=2 --ntasks-per-node=2 --ntasks=4 --cpus-per-task=1 \
  "$REPO_DIR/jobs/scaling.sbatch")
log "submitted 2-node scaling job $job"
state=$(wait_job_done "$job" 400)
job_log=$SCRATCH/sweepn-$job.out
log "job $job: $state $(job_field "$job" ExitCode) on $(job_field "$job" NodeList)"
[ "$state" = COMPLETED ] || fail "scaling job ended $state; log: $(digest "$job_log")"
[ "$(job_field "$job" NumNodes)" = 2 ] || fail "the sweep did not get 2 nodes"

results=$out/results.jsonl
report=$out/report.md
[ -s "$results" ] || fail "no $results; log: $(digest "$job_log")"
[ -s "$report" ] || fail "no $report; log: $(digest "$job_log")"
/usr/bin/python3 - "$results" "$report" "$configs" <<'PY' || fail "see above; report: $(cat "$report")"
import json, re, sys

results, report, configs = sys.argv[1], sys.argv[2], sys.argv[3].split()
want = {(m, c) for m in ("strong", "weak") for c in configs}
recs = [json.loads(l) for l in open(results) if l.strip()]
seen = [(r["mode"], r["config"]) for r in recs]
assert sorted(seen) == sorted(want), f"records {sorted(seen)}, expected {sorted(want)}"
for r in recs:
    N, P, T = map(int, r["config"].split("x"))
    R = N * P
    where = f"{r['mode']} {r['config']}"
    assert (r["nodes_requested"], r["ranks_per_node_requested"]) == (N, P), where
    assert (r["ranks"], r["threads"]) == (R, T), f"{where}: ran as {r['ranks']}x{r['threads']}"
    # MPI's own view of the placement
    assert r["nodes"] == N, f"{where}: MPI saw {r['nodes']} nodes"
    assert r["ranks_per_node"] == [P, P], f"{where}: ranks per node {r['ranks_per_node']}"
    assert r["nodes"] * r["ranks_per_node"][0] == r["ranks"], where
    assert r["hosts"] == 1, f"{where}: {r['hosts']} hosts on one machine"
    assert "OMPI_MCA_btl=tcp,self" in r["mpi_env"], f"{where}: mpi_env {r['mpi_env']!r}"
    assert r["batch_size"] == (32 if r["mode"] == "strong" else 16 * R), where
    lv = r["allreduce_levels"]
    assert lv["bytes"] == r["parameters"] * 4 and lv["reps"] == 10, f"{where}: {lv}"
    for key, defined in (("world", R > 1), ("intra_node", P > 1), ("inter_node", N > 1)):
        v = lv[key]
        assert isinstance(v, (int, float)) and v >= 0, f"{where}: {key} = {v!r}"
        assert (v > 0) == defined, f"{where}: {key} = {v} (expected {'> 0' if defined else '0'})"
    assert r["samples_per_s"] > 0 and r["time_per_step"]["total"] > 0, where

text = open(report).read()
def section(title):
    m = re.search(r"^" + re.escape(title) + r".*?\n(.*?)(?=^##|\Z)", text, re.S | re.M)
    assert m, f"no section '{title}'"
    return m.group(1)
def rows(body):
    lines = [l for l in body.splitlines() if l.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(head, (c.strip() for c in l.strip("|").split("|")))) for l in lines[2:]]
def num(s):
    return float(s.rstrip("%"))
for mode in ("strong", "weak"):
    main = rows(section(f"## {mode} scaling, 16-32-4"))
    assert len(main) == len(configs), f"{mode}: {len(main)} rows"
    got = sorted(f"{r['N']}x{r['R/N']}x{r['T']}" for r in main)
    assert got == sorted(configs), f"{mode}: rows {got}"
    for r in main:
        assert int(r["N"]) * int(r["R/N"]) == int(r["R"]), f"{mode}: {r}"
        assert int(r["R"]) * int(r["T"]) == int(r["R×T"]), f"{mode}: {r}"
        assert r["placement"] == "ok", f"{mode}: {r}"
        for col in ("samples/s", "speedup", "efficiency", "compute %", "allreduce %"):
            num(r[col])
    comm = rows(section(f"### {mode} scaling, 16-32-4"))
    assert len(comm) == len(configs), f"{mode} communication: {len(comm)} rows"
    for r in comm:
        N, P, R = int(r["N"]), int(r["R/N"]), int(r["R"])
        assert N * P == R, r
        for col in ("gradient KB", "allreduce ms/step", "world ms"):
            num(r[col])
        # inter-node: a number exactly on 2 nodes; intra-node: where a node holds > 1 rank,
        # or on one node; "vs 1 node": where the same R x T also ran on one node
        assert (r["inter-node ms"] != "–") == (N > 1), r
        assert (r["inter share"] != "–") == (N > 1), r
        assert (r["intra-node ms"] != "–") == (P > 1 or N == 1), r
        assert (r["vs 1 node ms"] != "–") == (N > 1 and f"1x{R}x{r['T']}" in configs), r
        for col in ("inter-node ms", "intra-node ms", "vs 1 node ms", "inter share"):
            if r[col] != "–":
                num(r[col])
        assert r["hosts"] == "1", r
comm_text = section("## communication: intra-node vs inter-node")
assert "**Not a network.**" in comm_text and "1 physical host(s)" in comm_text, comm_text[:600]
assert "OMPI_MCA_btl=tcp,self" in comm_text, "transport settings not named"
PY
log "records, placement and report OK:"
awk '/^### strong/ {p = 1; print; next} /^##/ {p = 0} p' "$report" >&2
