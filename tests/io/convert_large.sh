#!/usr/bin/env bash
# convert csv in row blocks (issue 11): a generated CSV of SIZE_MB MiB converts under
# `ulimit -v VMEM_MB` MiB, well below the CSV's size (the whole-file converter held its floats,
# the in-memory HDF5 file and its image at once: about 1.2 × the CSV); the output holds every
# row, in order, chunked by whole rows, and is sealed. The default suite runs 400 MiB under
# 320 MiB; the slow label runs 4 GiB under 512 MiB (the address space paraprop's libraries take
# is about 200 MiB, so the limit cannot shrink in proportion to the file).
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2 size_mb=${3:-400} vmem_mb=${4:-320}
rm -rf "$dir"; mkdir -p "$dir"
# ASan reserves terabytes of address space and cannot start under ulimit -v (status 77: skipped)
case "$(ldd "$bin")" in *libasan*) echo "skipped: a sanitizer build"; exit 77 ;; esac
need=$(( size_mb * 2 + 100 ))
avail=$(df -Pm "$dir" | awk 'NR == 2 { print $4 }')
[ "$avail" -ge "$need" ] || fail "needs $need MiB of disk in $dir, has $avail"
# one MiB-ish block of rows (28 inputs, a label), repeated up to the size: generating is cheap
synth_csv "$dir/block.csv" 3500 28 5 7
blk=$(stat -c %s "$dir/block.csv")
copies=$(( (size_mb * 1048576 + blk - 1) / blk ))
for _ in $(seq "$copies"); do cat "$dir/block.csv"; done > "$dir/big.csv"
rows=$(( copies * 3500 ))
csv_bytes=$(stat -c %s "$dir/big.csv")
[ "$csv_bytes" -gt $(( vmem_mb * 1048576 )) ] || fail "the CSV must be larger than the limit"
( ulimit -v $(( vmem_mb * 1024 )); exec /usr/bin/time -f "%M" -o "$dir/rss.txt" \
    "$bin" convert csv --train "$dir/big.csv" --classes 5 -o "$dir/big.h5" ) > "$dir/out.txt" 2>&1 \
  || fail "convert under ulimit -v $vmem_mb MiB: $(tail -3 "$dir/out.txt")"
rm -f "$dir/big.csv"
grep -q "wrote .*: $rows training samples, 28 inputs, 5 classes" "$dir/out.txt" \
  || fail "expected $rows rows: $(cat "$dir/out.txt")"
/usr/bin/python3 - "$dir" "$rows" <<'PY' || fail "content (above)"
import sys, h5py, numpy as np
d, rows = sys.argv[1], int(sys.argv[2])
blk = np.loadtxt(d + "/block.csv", delimiter=",", dtype=np.float64)
with h5py.File(d + "/big.h5", "r") as f:
    x, y = f["/train/inputs"], f["/train/labels"]
    assert x.shape == (rows, 28) and y.shape == (rows,), (x.shape, y.shape)
    assert x.chunks[1] == 28 and x.chunks[0] * 28 * 4 <= 32 << 10, x.chunks
    assert x.fletcher32 and y.fletcher32
    n = len(blk)
    for start in (0, rows // 2 // n * n, rows - n):   # first, a middle and the last copy
        assert np.array_equal(x[start:start + n], blk[:, 1:].astype(np.float32)), start
        assert np.array_equal(y[start:start + n], blk[:, 0].astype(np.int32)), start
print("rows, order, chunks and checksums as expected")
PY
"$bin" inspect "$dir/big.h5" > /dev/null 2>&1 || fail "inspect refuses the output (seal?)"
echo "convert of $(( csv_bytes / 1048576 )) MiB under ulimit -v $vmem_mb MiB: peak RSS $(( $(cat "$dir/rss.txt") / 1024 )) MiB"
echo "PASS convert_large"
