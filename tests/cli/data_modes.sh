#!/usr/bin/env bash
# --data-mode (issue 11): where the training set lives changes no bit of the trajectory.
# Exact mode: the same fingerprint for R ∈ {1,2,4} × T ∈ {1,2} in every mode; fast mode: the same
# fingerprint in every mode at one R×T (fast mode's bits depend on R×T, not on the mode). The
# mode is reported in the start record of metrics.jsonl, in config.txt and by bench.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2; rm -rf "$dir"; mkdir -p "$dir"
modes=(${DATA_MODES:-rank node stream})
synth_h5 "$bin" "$dir/d.h5" 333 40 6 3
args=(--data "$dir/d.h5" --layers 6,9,7,3 --batch-size 10 --epochs 2 --learning-rate 0.2
      --momentum 0.3 --checkpoint-every none --progress off)
ref=""
for R in 1 2 4; do
  for T in 1 2; do
    for m in "${modes[@]}"; do
      out="$dir/exact-$R-$T-$m"
      mpirun_n "$R" "$bin" train "${args[@]}" --reduction exact --threads "$T" --data-mode "$m" \
        --run-dir "$out" > "$out.txt" 2>&1 || fail "exact R=$R T=$T $m: $(tail -3 "$out.txt")"
      grep -q "\"event\": \"start\".*\"data_mode\": \"$m\"" "$out/metrics.jsonl" \
        || fail "R=$R $m: the start record does not say data_mode $m: $(head -1 "$out/metrics.jsonl")"
      grep -qx "data-mode = $m" "$out/config.txt" || fail "config.txt lacks data-mode = $m"
      fp=$(fingerprint_of "$out.txt")
      [ -n "$ref" ] || ref=$fp
      [ "$fp" = "$ref" ] || fail "exact R=$R T=$T $m: fingerprint $fp, R=1 T=1 ${modes[0]}: $ref"
    done
  done
done
echo "ok exact: $ref"
# fast mode at 2 ranks × 2 threads; auto picks node there (two ranks share the node)
fref=""
for m in "${modes[@]}" auto; do
  out="$dir/fast-$m"
  mpirun_n 2 "$bin" train "${args[@]}" --threads 2 --data-mode "$m" --run-dir "$out" \
    > "$out.txt" 2>&1 || fail "fast $m: $(tail -3 "$out.txt")"
  fp=$(fingerprint_of "$out.txt")
  [ -n "$fref" ] || fref=$fp
  [ "$fp" = "$fref" ] || fail "fast 2×2 $m: fingerprint $fp, ${modes[0]}: $fref"
done
grep -q '"data_mode": "node"' "$dir/fast-auto/metrics.jsonl" || fail "auto with 2 ranks on a node did not pick node"
mpirun_n 1 "$bin" train "${args[@]}" --threads 1 --run-dir "$dir/auto1" > /dev/null 2>&1 || fail "auto 1 rank"
grep -q '"data_mode": "rank"' "$dir/auto1/metrics.jsonl" || fail "auto with 1 rank did not pick rank"
echo "ok fast: $fref"
# bench reports the mode
mpirun_n 2 "$bin" bench --data "$dir/d.h5" --layers 6,9,7,3 --steps 3 --warmup 1 --threads 1 \
  --data-mode node > "$dir/bench.json" || fail "bench"
grep -q '"data_mode": "node"' "$dir/bench.json" || fail "bench does not report data_mode: $(cat "$dir/bench.json")"
# stream mode reads rows straight from the file (src/io/dataset_rows.c): of the converted,
# chunked set (each chunk checked against its fletcher32 on first read) and of a contiguous copy
# (as files converted before chunking are); both must give rank mode's bits and say "mapped" (rows copied from the file mapped into memory)
/usr/bin/python3 - "$dir/d.h5" "$dir/contig.h5" <<'PY' || fail "writing a contiguous copy"
import sys, h5py
with h5py.File(sys.argv[1], "r") as a, h5py.File(sys.argv[2], "w") as b:
    for k, v in a.attrs.items():
        b.attrs[k] = v
    for g in a:
        for name, d in a[g].items():
            out = b.create_dataset(f"{g}/{name}", data=d[()])  # no chunks: contiguous
            for k, v in d.attrs.items():
                out.attrs[k] = v
PY
sargs=(--layers 6,9,7,3 --batch-size 10 --steps 100 --warmup 0 --threads 1 --shuffle on)
for f in d contig; do
  "$bin" bench --data "$dir/$f.h5" "${sargs[@]}" --data-mode rank > "$dir/$f-rank.json" 2>&1 || fail "$f rank"
  "$bin" bench --data "$dir/$f.h5" "${sargs[@]}" --data-mode stream > "$dir/$f-stream.json" 2>&1 || fail "$f stream"
  grep -q '"stream_reads": "mapped"' "$dir/$f-stream.json" || fail "$f: stream mode does not read from the mapped file: $(cat "$dir/$f-stream.json")"
  a=$(grep -o '"fingerprint": "[0-9a-f]*"' "$dir/$f-rank.json"); b=$(grep -o '"fingerprint": "[0-9a-f]*"' "$dir/$f-stream.json")
  [ -n "$a" ] && [ "$a" = "$b" ] || fail "$f: stream $b, rank $a"
  # the read-ahead crosses epochs (the next epoch's order is known): only the run's first step
  # is read without it, however many epochs the steps span
  grep -q '"stream_misses": 1,' "$dir/$f-stream.json" || fail "$f: steps not read ahead: $(grep -o '"stream_misses": [0-9]*' "$dir/$f-stream.json")"
done
# the help captured first: grep -q stops reading at its match, and under pipefail the writer's
# SIGPIPE would fail the pipeline
help=$("$bin" train --help)
grep -q -- "--data-mode" <<<"$help" || fail "--help lacks --data-mode"
grep -q -- "--memory-budget.*here" <<<"$help" || fail "--help lacks the budget here"
echo "PASS data modes"
