#!/usr/bin/env bash
# The ways gradients meet (src/run/reduce.h, PARAPROP_REDUCE): each must train to the bits its
# design promises.
# - exact mode: the same fingerprint for MPI sums, node-shared slots and, with
#   PARAPROP_NODE_SIZE splitting one host into "nodes", slots summed within and then across
#   nodes, on 1-4 ranks (integer sums do not depend on where they are added);
# - fast mode, 2 ranks: MPI and slots sum g0 + g1 either way (IEEE addition commutes), so the same
#   bits;
# - fast mode, factors and split: every ∇W element is computed from all rows of the batch, so
#   the bits of one rank, on 2 and 3 ranks;
# - a forced way this run cannot take, or an unknown one, is a usage error (status 2).
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2; rm -rf "$dir"; mkdir -p "$dir"
synth_h5 "$bin" "$dir/d.h5" 400 40 6 3

run() { # NAME RANKS [ENV=VALUE...] -- train args...: prints the fingerprint
  local name=$1 r=$2; shift 2
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  env "${envs[@]}" mpiexec -n "$r" --oversubscribe --bind-to none "$bin" train "$@" \
    --run-dir "$dir/$name" --checkpoint-every none --progress off > "$dir/$name.txt" 2>&1 \
    || fail "$name: run failed: $(tail -3 "$dir/$name.txt")"
  fingerprint_of "$dir/$name.txt"
}

exact=(--data "$dir/d.h5" --layers 6,9,7,3 --batch-size 70 --epochs 2 --learning-rate 0.2
       --momentum 0.3 --reduction exact --threads 1)
ref=$(run ex1 1 PARAPROP_REDUCE=mpi -- "${exact[@]}")
for combo in "2 mpi 0" "2 node 0" "3 node 0" "4 node 2" "4 mpi 2" "4 node 0"; do
  set -- $combo
  fp=$(run "ex-$1-$2-$3" "$1" PARAPROP_REDUCE="$2" PARAPROP_NODE_SIZE="$3" -- "${exact[@]}")
  [ "$fp" = "$ref" ] || fail "exact, $1 ranks, PARAPROP_REDUCE=$2, node size $3: $fp, 1 rank $ref"
done
echo "ok exact: $ref on every way"

fast=(--data "$dir/d.h5" --layers 6,9,7,3 --batch-size 10 --epochs 2 --learning-rate 0.2
      --momentum 0.3 --threads 1)
a=$(run f-mpi 2 PARAPROP_REDUCE=mpi -- "${fast[@]}")
b=$(run f-node 2 PARAPROP_REDUCE=node -- "${fast[@]}")
[ "$a" = "$b" ] || fail "fast, 2 ranks: MPI sums $a, node slots $b"
one=$(run f-1 1 -- "${fast[@]}")
for way in factors split; do
  for r in 2 3; do
    fp=$(run "f-$way-$r" "$r" PARAPROP_REDUCE=$way -- "${fast[@]}")
    [ "$fp" = "$one" ] || fail "fast, $r ranks, PARAPROP_REDUCE=$way: $fp, 1 rank $one"
  done
done
# auto picks factors for batches up to 16, else split (reduce.c), and bench's JSON names it
synth_h5 "$bin" "$dir/w.h5" 200 20 50 10
for want in "16 factors" "17 split"; do
  set -- $want
  out=$(mpiexec -n 2 --oversubscribe --bind-to none "$bin" bench --data "$dir/w.h5" \
    --layers 50,100,10 --batch-size "$1" --steps 5 --threads 1 2>&1) || fail "bench: $out"
  grep -q "\"reduce\": \"$2\"" <<<"$out" || fail "bench, 50-100-10, batch $1: not $2: $out"
done
# bench's line is one JSON object without a key twice (two branches once both added
# "ranks_per_node", and readers silently kept the second)
/usr/bin/python3 -c '
import json, sys
def once(pairs):
    keys = [k for k, _ in pairs]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    assert not twice, f"keys twice in bench JSON: {twice}"
    return dict(pairs)
json.loads(sys.stdin.read().strip().splitlines()[-1], object_pairs_hook=once)' <<<"$out" \
  || fail "bench JSON: $out"
echo "ok fast: 2-rank sums agree, factors and split have the 1-rank bits $one"

expect_usage() { # DESCRIPTION ENV... -- : status 2 and the message
  local what=$1; shift
  set +e
  out=$(env "$@" mpiexec -n 2 --oversubscribe --bind-to none "$bin" train "${exact[@]}" \
    --run-dir "$dir/bad" --progress off 2>&1)
  st=$?
  set -e
  [ "$st" = 2 ] || fail "$what: status $st, not 2: $out"
  grep -q "PARAPROP_REDUCE" <<<"$out" || fail "$what: no message naming PARAPROP_REDUCE: $out"
}
expect_usage "an unknown way" PARAPROP_REDUCE=bogus
expect_usage "factors in exact mode" PARAPROP_REDUCE=factors
expect_usage "node slots with one rank per node" PARAPROP_REDUCE=node PARAPROP_NODE_SIZE=1
echo "PASS reduce paths"
