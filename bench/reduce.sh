#!/usr/bin/env bash
# How the gradient reduction ways compare on one node (issue 10 item 4; src/run/reduce.h):
# per workload, 1 rank × 1 and × 2 threads, then 2 ranks × 1 thread with each PARAPROP_REDUCE
# way, back to back, N rounds; every run's JSON line goes to OUT/reduce.jsonl and the best round
# of each (load only ever slows a run down) to the table on stdout.
# usage: bench/reduce.sh [--paraprop BIN] [--data FILE.h5] [--rounds N] [--out DIR]
#                        [--workloads "MJ W1 W2 W3"] [--rt]
#   --rt  run every measurement at real-time priority (chrt -f 10, root): on a VM shared with
#         other work, the only way two spinning ranks keep their cores. Ratios, not absolute
#         figures, are the result either way.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/../build/ci/src/app/paraprop data="" rounds=3 out=$here/../build/bench-reduce rt=""
workloads="MJ W1 W2 W3"
while [ $# -gt 0 ]; do
  case $1 in
    --paraprop) bin=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --workloads) workloads=$2; shift 2 ;;
    --rt) rt="chrt -f 10"; shift ;;
    *) echo "reduce.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -n "$data" ] || { echo "reduce.sh: --data FILE.h5 (e.g. Fashion-MNIST from paraprop convert)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$out"; : > "$out/reduce.jsonl"
args() {
  case $1 in
    MJ) echo "--layers 784,100,10 --batch-size 10 --steps 3000" ;;
    W1) echo "--layers 784,30,10 --hidden-activation sigmoid --output-activation sigmoid --cost cross-entropy --learning-rate 0.5 --batch-size 10 --steps 4000" ;;
    W2) echo "--layers 784,256,256,10 --hidden-activation relu --output-activation softmax --cost log-likelihood --learning-rate 0.1 --momentum 0.9 --batch-size 128 --steps 300" ;;
    W3) echo "--layers 784,2048,2048,10 --hidden-activation relu --output-activation softmax --cost log-likelihood --learning-rate 0.1 --batch-size 256 --steps 25 --warmup 3" ;;
    *) echo "reduce.sh: unknown workload '$1'" >&2; exit 2 ;;
  esac
}
one() { # WORKLOAD LABEL cmd...: appends {"workload","label",...bench}
  local w=$1 label=$2; shift 2
  local line
  line=$($rt "$@" 2>/dev/null | tail -1)
  python3 -c 'import json,sys; d=json.loads(sys.argv[3]); d["workload"]=sys.argv[1]; d["label"]=sys.argv[2]; print(json.dumps(d))' \
    "$w" "$label" "$line" >> "$out/reduce.jsonl"
}
for w in $workloads; do
  a=$(args "$w")
  for _ in $(seq "$rounds"); do
    # shellcheck disable=SC2086
    one "$w" 1x1 "$bin" bench --data "$data" $a --threads 1
    # shellcheck disable=SC2086
    one "$w" 1x2 "$bin" bench --data "$data" $a --threads 2
    for way in auto mpi node factors split; do
      # shellcheck disable=SC2086
      one "$w" "2x1-$way" mpiexec -x PARAPROP_REDUCE=$way -n 2 --bind-to core "$bin" bench --data "$data" $a --threads 1
    done
  done
done
python3 - "$out/reduce.jsonl" <<'PY'
import json, sys
best = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    k = (d["workload"], d["label"])
    if k not in best or d["samples_per_s"] > best[k]["samples_per_s"]:
        best[k] = d
print("| workload | run | way | samples/s | ÷ 1×1 | ÷ 1×2 | reduce µs/step | fingerprint |")
print("|---|---|---|---:|---:|---:|---:|---|")
for (w, l), d in best.items():
    b1, b2 = best[(w, "1x1")]["samples_per_s"], best[(w, "1x2")]["samples_per_s"]
    print(f"| {w} | {l} | {d.get('reduce', '')} | {d['samples_per_s']:,.0f} | {d['samples_per_s']/b1:.2f} "
          f"| {d['samples_per_s']/b2:.2f} | {d['time_per_step']['allreduce']*1e6:,.1f} | {d['fingerprint'][:8]} |")
PY
