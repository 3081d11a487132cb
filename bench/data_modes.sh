#!/usr/bin/env bash
# Stream mode with a budget of 1/10 of the set against the set in memory (node mode), W2
# (784-256-256-10, ReLU, momentum 0.9, batch 128), alternated in one run; prints each bench line's
# mode, samples/s, exposed read time per step ("data") and the stream ÷ memory ratios.
# usage: bench/data_modes.sh PARAPROP DATA.h5 [RANKS] [STEPS] [REPEATS]
set -euo pipefail
bin=$1 data=$2 R=${3:-2} steps=${4:-100} reps=${5:-2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
bytes=$(stat -c %s "$data")
w2=(--layers 784,256,256,10 --hidden-activation relu --momentum 0.9 --batch-size 128
    --steps "$steps" --warmup 5 --threads 1)
for _ in $(seq "$reps"); do
  mpiexec -n "$R" --oversubscribe --bind-to none "$bin" bench --data "$data" "${w2[@]}" --data-mode node
  mpiexec -n "$R" --oversubscribe --bind-to none "$bin" bench --data "$data" "${w2[@]}" --memory-budget $(( bytes / 10 ))
done | python3 -c "
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.startswith('{')]
for j in rows:
    t = j['time_per_step']
    print('%-6s %9.0f samples/s  data %6.2f ms/step  total %6.2f ms/step  %s' % (
        j['data_mode'], j['samples_per_s'], t['data'] * 1e3, t['total'] * 1e3, j['fingerprint'][:12]))
for a, b in zip(rows[0::2], rows[1::2]):
    print('stream / memory: %.2f' % (b['samples_per_s'] / a['samples_per_s']))
"
