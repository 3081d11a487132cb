#!/usr/bin/env bash
# The ways gradients meet (src/run/reduce.h, PARAPROP_REDUCE): each must train to the bits its
# design promises.
# - exact mode: the same fingerprint for MPI sums, node-shared slots and, with
#   PARAPROP_NODE_SIZE splitting one host into "nodes", slots summed within and then across
#   nodes, on 1-4 ranks (integer sums do not depend on where they are added), and for split
#   (each rank finishes its tiles of units from all the node's rows: one rank's sums), with
#   private and shared parameters, on 2 and 3 ranks;
# - fast mode, 2 ranks: MPI and slots sum g0 + g1 either way (IEEE addition commutes), so the same
#   bits;
# - fast mode, factors and split: every ∇W element is computed from all rows of the batch, so
#   the bits of one rank, on 2 and 3 ranks, where the products run on paraprop's own kernels
#   (a row's bits do not depend on where it sits in a product). Through a CBLAS they need not:
#   OpenBLAS's Haswell kernels give a row other bits at another place in the same call. There
#   (PARAPROP_KERNELS=blas, CPUs without AVX-512) these ways must match one rank's losses to
#   rounding (1e-5 relative), and a run stopped and resumed must still give its uninterrupted
#   bits;
# - fast mode, MPI way with each layer's allreduce overlapped with the backward pass
#   (PARAPROP_OVERLAP=on): the same bits as without, with threads, dropout, and layers large
#   enough to be computed in pieces between MPI polls;
# - factors and split with one node-shared copy of the parameters and optimizer state
#   (PARAPROP_SHARED_PARAMS=on; auto shares from 1 Mi parameters), each rank updating its part:
#   one rank's bits, with momentum and with Adam, and through a stop and resume;
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

# the bit promises of factors and split hold where the small products run on own kernels
own=0
"$bin" --version | grep -q '^products:.*own AVX-512' && own=1
agree() { # NAME REF WHAT: NAME's run has REF's bits (own kernels) or its losses (elsewhere)
  local fp ref; fp=$(fingerprint_of "$dir/$1.txt"); ref=$(fingerprint_of "$dir/$2.txt")
  if [ $own = 1 ]; then
    [ "$fp" = "$ref" ] || fail "$3: $fp, reference $ref"
  else
    /usr/bin/python3 - "$dir/$1/metrics.jsonl" "$dir/$2/metrics.jsonl" <<'PY' || fail "$3: losses differ"
import json, sys
def last(p):
    e = [json.loads(l) for l in open(p) if '"event": "epoch"' in l]
    return e[-1]
a, b = last(sys.argv[1]), last(sys.argv[2])
for k in ("train_loss", "test_loss"):
    assert abs(a[k] - b[k]) <= 1e-5 * abs(b[k]), (k, a[k], b[k])
PY
  fi
}

exact=(--data "$dir/d.h5" --layers 6,9,7,3 --batch-size 70 --epochs 2 --learning-rate 0.2
       --momentum 0.3 --reduction exact --threads 1)
ref=$(run ex1 1 PARAPROP_REDUCE=mpi -- "${exact[@]}")
for combo in "2 mpi 0" "2 node 0" "3 node 0" "4 node 2" "4 mpi 2" "4 node 0"; do
  set -- $combo
  fp=$(run "ex-$1-$2-$3" "$1" PARAPROP_REDUCE="$2" PARAPROP_NODE_SIZE="$3" -- "${exact[@]}")
  [ "$fp" = "$ref" ] || fail "exact, $1 ranks, PARAPROP_REDUCE=$2, node size $3: $fp, 1 rank $ref"
done
for combo in "2 split off" "3 split off" "2 split on" "3 auto on"; do
  set -- $combo
  fp=$(run "exs-$1-$2-$3" "$1" PARAPROP_REDUCE="$2" PARAPROP_SHARED_PARAMS="$3" -- "${exact[@]}")
  [ "$fp" = "$ref" ] || fail "exact, $1 ranks, PARAPROP_REDUCE=$2, shared parameters $3: $fp, 1 rank $ref"
done
mpiexec -n 3 --oversubscribe --bind-to none "$bin" bench --data "$dir/d.h5" --layers 6,9,7,3 \
  --batch-size 70 --reduction exact --threads 1 --steps 2 --warmup 1 > "$dir/exs-auto.json" 2>&1 ||
  fail "exact bench on 3 ranks: $(tail -3 "$dir/exs-auto.json")"
grep -q '"reduce": "split"' "$dir/exs-auto.json" ||
  fail "exact mode on one node did not take the split way by itself: $(tail -1 "$dir/exs-auto.json")"
echo "ok exact: $ref on every way"

fast=(--data "$dir/d.h5" --layers 6,9,7,3 --batch-size 10 --epochs 2 --learning-rate 0.2
      --momentum 0.3 --threads 1)
a=$(run f-mpi 2 PARAPROP_REDUCE=mpi -- "${fast[@]}")
b=$(run f-node 2 PARAPROP_REDUCE=node -- "${fast[@]}")
[ "$a" = "$b" ] || fail "fast, 2 ranks: MPI sums $a, node slots $b"
one=$(run f-1 1 -- "${fast[@]}")
for way in factors split; do
  for r in 2 3; do
    run "f-$way-$r" "$r" PARAPROP_REDUCE=$way -- "${fast[@]}" > /dev/null
    agree "f-$way-$r" f-1 "fast, $r ranks, PARAPROP_REDUCE=$way"
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
if [ $own = 1 ]; then
  echo "ok fast: 2-rank sums agree, factors and split have the 1-rank bits $one"
else
  echo "ok fast: 2-rank sums agree, factors and split have the 1-rank losses (products: CBLAS)"
fi

# overlap: the per-layer allreduces sum the same values as one allreduce of the whole gradient;
# 50-2048-700-10 at batch 64 splits Δ¹ and ∇W² into pieces (batch.c's PIECE_FLOPS)
synth_h5 "$bin" "$dir/o.h5" 256 32 50 10
for extra in "--threads 1" "--threads 2" "--threads 2 --dropout 0.2"; do
  fps=()
  for ov in off on; do
    out=$(PARAPROP_REDUCE=mpi PARAPROP_OVERLAP=$ov mpiexec -n 2 --oversubscribe --bind-to none \
      "$bin" bench --data "$dir/o.h5" --layers 50,2048,700,10 --batch-size 64 --steps 4 \
      --warmup 1 $extra 2>&1) || fail "bench, overlap $ov, $extra: $out"
    want=false; [ "$ov" = on ] && want=true
    grep -q "\"overlap\": $want" <<<"$out" || fail "bench, overlap $ov: JSON says otherwise: $out"
    fps+=("$(grep -o '"fingerprint": "[0-9a-f]*"' <<<"$out")")
  done
  [ -n "${fps[0]}" ] || fail "bench, $extra: no fingerprint"
  [ $own = 0 ] || [ "${fps[0]}" = "${fps[1]}" ] \
    || fail "fast, 2 ranks, $extra: overlap off ${fps[0]}, on ${fps[1]}"
done
if [ $own = 0 ]; then # the pieces through a CBLAS: the losses of the blocking sum
  for ov in off on; do
    run "ovb-$ov" 2 PARAPROP_REDUCE=mpi PARAPROP_OVERLAP=$ov -- --data "$dir/o.h5" \
      --layers 50,2048,700,10 --batch-size 64 --epochs 1 --learning-rate 0.1 --threads 2 > /dev/null
  done
  agree ovb-on ovb-off "fast, 2 ranks, 50-2048-700-10, overlap on against off"
fi
run ov-off 2 PARAPROP_REDUCE=mpi PARAPROP_OVERLAP=off -- "${fast[@]}" > /dev/null
run ov-on 2 PARAPROP_REDUCE=mpi PARAPROP_OVERLAP=on -- "${fast[@]}" > /dev/null
agree ov-on ov-off "train, fast, 2 ranks: overlap on against off"
echo "ok overlap: the same $([ $own = 1 ] && echo bits || echo losses) with each layer's allreduce started during backprop"

adam=(--data "$dir/d.h5" --layers 6,9,7,3 --batch-size 10 --epochs 2 --learning-rate 0.01
      --optimizer adam --threads 1)
run a-1 1 -- "${adam[@]}" > /dev/null
for way in factors split; do
  run "sp-$way" 2 PARAPROP_REDUCE=$way PARAPROP_SHARED_PARAMS=on -- "${fast[@]}" > /dev/null
  agree "sp-$way" f-1 "fast, 2 ranks, $way, shared parameters, momentum"
  run "spa-$way" 3 PARAPROP_REDUCE=$way PARAPROP_SHARED_PARAMS=on -- "${adam[@]}" > /dev/null
  agree "spa-$way" a-1 "fast, 3 ranks, $way, shared parameters, adam"
done
whole=$(run spa2-split 2 PARAPROP_REDUCE=split PARAPROP_SHARED_PARAMS=on -- "${adam[@]}")
agree spa2-split a-1 "fast, 2 ranks, split, shared parameters, adam"
# stopped after 23 steps (a checkpoint), then resumed: one rank of the node writes the loaded
# parameters and Adam's moments into the shared copy
set +e
PARAPROP_REDUCE=split PARAPROP_SHARED_PARAMS=on mpiexec -n 2 --oversubscribe --bind-to none \
  "$bin" train "${adam[@]}" --run-dir "$dir/sp-stop" --checkpoint-every none --progress off \
  --stop-after 23steps > "$dir/sp-stop.txt" 2>&1
st=$?
set -e
[ "$st" = 75 ] || fail "shared parameters, --stop-after: status $st, not 75: $(tail -3 "$dir/sp-stop.txt")"
PARAPROP_REDUCE=split PARAPROP_SHARED_PARAMS=on mpiexec -n 2 --oversubscribe --bind-to none \
  "$bin" train "${adam[@]}" --run-dir "$dir/sp-stop" --checkpoint-every none --progress off \
  > "$dir/sp-resume.txt" 2>&1 || fail "shared parameters, resume: $(tail -3 "$dir/sp-resume.txt")"
grep -q "resuming from" "$dir/sp-resume.txt" || fail "shared parameters: did not resume"
fp=$(fingerprint_of "$dir/sp-resume.txt")
[ "$fp" = "$whole" ] || fail "shared parameters, stopped and resumed: $fp, uninterrupted $whole"
echo "ok shared parameters: one rank's $([ $own = 1 ] && echo bits || echo losses) for factors and split, with momentum, Adam and a resume"

expect_usage() { # DESCRIPTION ENV... -- : status 2 and the message
  local what=$1; shift
  set +e
  out=$(env "$@" mpiexec -n 2 --oversubscribe --bind-to none "$bin" train "${exact[@]}" \
    --run-dir "$dir/bad" --progress off 2>&1)
  st=$?
  set -e
  [ "$st" = 2 ] || fail "$what: status $st, not 2: $out"
  grep -q "${name:-PARAPROP_REDUCE}" <<<"$out" || fail "$what: no message naming ${name:-PARAPROP_REDUCE}: $out"
}
expect_usage "an unknown way" PARAPROP_REDUCE=bogus
expect_usage "factors in exact mode" PARAPROP_REDUCE=factors
expect_usage "node slots with one rank per node" PARAPROP_REDUCE=node PARAPROP_NODE_SIZE=1
name=PARAPROP_OVERLAP expect_usage "an unknown overlap setting" PARAPROP_OVERLAP=sometimes
name=PARAPROP_SHARED_PARAMS expect_usage "an unknown sharing setting" PARAPROP_SHARED_PARAMS=maybe
echo "PASS reduce paths"
