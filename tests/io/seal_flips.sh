#!/usr/bin/env bash
# Issue #14: random byte flips in a converted dataset, one of them in the seal's header, must
# never train to exit 0; one damaged header byte alone is survived; checkpoints without a seal
# are refused unless --allow-unsealed on.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2; rm -rf "$dir"; mkdir -p "$dir"
export OMP_NUM_THREADS=1
synth_h5 "$bin" "$dir/d.h5" 3000 300 8 3
train() { "$bin" train --layers 8,6,3 --epochs 1 --batch-size 50 --progress off "$@"; }

# flip FILE SEED OFFSET...: XOR each listed byte with a bit picked from SEED, then 19 more bytes
# at random offsets past the user block (after the issue: 20 flips in all)
flip() {
  /usr/bin/python3 - "$@" <<'PY'
import random, sys
path, seed, fixed = sys.argv[1], int(sys.argv[2]), [int(a) for a in sys.argv[3:]]
b = bytearray(open(path, "rb").read())
rng = random.Random(seed)
at = fixed + ([rng.randrange(4096, len(b)) for _ in range(20 - len(fixed))] if seed >= 0 else [])
for i in at:
    b[i] ^= 1 << rng.randrange(8)
open(path, "wb").write(bytes(b))
PY
}

"$bin" seal --check "$dir/d.h5" >/dev/null || fail "the converted dataset's seal does not verify"
for seed in 1 2 3 4 5; do
  for hb in 7 2055; do  # byte 7 of each header copy
    f=$dir/flip-$seed-$hb.h5
    cp "$dir/d.h5" "$f"
    flip "$f" "$seed" "$hb"
    rc=0; train --data "$f" --run-dir "$dir/run-$seed-$hb" > "$dir/out-$seed-$hb.txt" 2>&1 || rc=$?
    [ "$rc" -eq 3 ] || fail "seed $seed, header byte $hb + 19 data flips: exit $rc, expected 3: $(tail -3 "$dir/out-$seed-$hb.txt")"
    grep -q "do not match the SHA-256" "$dir/out-$seed-$hb.txt" ||
      fail "seed $seed: the data flips were not found by the seal: $(tail -3 "$dir/out-$seed-$hb.txt")"
  done
done
# the same on 2 ranks, each hashing half the segments
f=$dir/flip-mpi.h5; cp "$dir/d.h5" "$f"; flip "$f" 9 7
rc=0; mpirun_n 2 "$bin" train --data "$f" --layers 8,6,3 --epochs 1 --progress off --run-dir "$dir/run-mpi" > "$dir/out-mpi.txt" 2>&1 || rc=$?
[ "$rc" -eq 3 ] || fail "2 ranks: exit $rc, expected 3: $(tail -3 "$dir/out-mpi.txt")"

# one damaged header byte alone: the other copy verifies the file, and a note says so
f=$dir/one.h5; cp "$dir/d.h5" "$f"; flip "$f" -1 7
train --data "$f" --run-dir "$dir/run-one" > "$dir/out-one.txt" 2>&1 || fail "one flipped header byte: $(tail -3 "$dir/out-one.txt")"
grep -q "one of the two copies of its seal is damaged" "$dir/out-one.txt" || fail "no note on the damaged copy"
# both copies damaged: refused as a damaged seal, even with the data intact
f=$dir/both.h5; cp "$dir/d.h5" "$f"; flip "$f" -1 7 2055
rc=0; train --data "$f" --run-dir "$dir/run-both" > "$dir/out-both.txt" 2>&1 || rc=$?
[ "$rc" -eq 3 ] && grep -q "damaged seal" "$dir/out-both.txt" || fail "both copies damaged: exit $rc: $(tail -3 "$dir/out-both.txt")"

# checkpoints: the final model with a header byte and a data byte flipped is refused by resume
train --data "$dir/d.h5" --run-dir "$dir/good" > /dev/null 2>&1 || fail "a clean run failed"
size=$(stat -c %s "$dir/good/final.h5")
cp "$dir/good/final.h5" "$dir/ck.h5"; flip "$dir/ck.h5" -1 7 $((size - 100))
rc=0; train --data "$dir/d.h5" --epochs 2 --run-dir "$dir/res" --resume "$dir/ck.h5" > "$dir/out-res.txt" 2>&1 || rc=$?
[ "$rc" -eq 3 ] || fail "--resume from a damaged checkpoint: exit $rc: $(tail -3 "$dir/out-res.txt")"
# without its user block (the seal dropped, as h5repack does): refused, unless overridden
tail -c +4097 "$dir/good/final.h5" > "$dir/unsealed.h5"
rc=0; "$bin" eval --model "$dir/unsealed.h5" --data "$dir/d.h5" > "$dir/out-ev.txt" 2>&1 || rc=$?
[ "$rc" -eq 3 ] && grep -q -- "--allow-unsealed on" "$dir/out-ev.txt" && grep -q "paraprop seal" "$dir/out-ev.txt" ||
  fail "eval of an unsealed model: exit $rc: $(cat "$dir/out-ev.txt")"
"$bin" eval --model "$dir/unsealed.h5" --data "$dir/d.h5" --allow-unsealed on > "$dir/out-ev2.txt" 2>&1 ||
  fail "eval --allow-unsealed on: $(cat "$dir/out-ev2.txt")"
train --data "$dir/d.h5" --epochs 2 --run-dir "$dir/res2" --resume "$dir/unsealed.h5" --allow-unsealed on > "$dir/out-res2.txt" 2>&1 ||
  fail "--resume --allow-unsealed on: $(tail -3 "$dir/out-res2.txt")"
grep -q "^allow-unsealed = on$" "$dir/res2/config.txt" || fail "config.txt does not record allow-unsealed"
echo "PASS"
