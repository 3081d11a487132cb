#!/usr/bin/env bash
# Stream mode meets a damaged chunk mid-epoch (issue 11): every rank stops with the same clean
# error, status 3, within the timeout (no hang); the checkpoints written before are intact, and
# resuming from the newest one on the undamaged data ends with the uninterrupted run's
# fingerprint. The file is an unsealed copy (h5py, chunks of 20 rows, fletcher32): a sealed
# file is verified whole before training, so its damage would be refused at the start instead.
# --shuffle off makes the order, and so the step that meets the chunk (31 of 60), known.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2 R=${3:-2}; rm -rf "$dir"; mkdir -p "$dir"
synth_h5 "$bin" "$dir/sealed.h5" 600 40 6 3
/usr/bin/python3 - "$dir" <<'PY'
import sys, h5py
d = sys.argv[1]
with h5py.File(d + "/sealed.h5", "r") as src, h5py.File(d + "/clean.h5", "w") as dst:
    for k, v in src.attrs.items():
        dst.attrs[k] = v
    for g in ("train", "test"):
        for name, ds in src[g].items():
            n = dst.create_dataset(f"{g}/{name}", data=ds[()], chunks=(20,) + ds.shape[1:],
                                   fletcher32=True)
            for k, v in ds.attrs.items():
                n.attrs[k] = v
with h5py.File(d + "/clean.h5", "r") as f:   # the chunk of rows 300…319 of the inputs
    info = f["train/inputs"].id.get_chunk_info_by_coord((300, 0))
    open(d + "/chunk.txt", "w").write(f"{info.byte_offset} {info.size}\n")
PY
read -r off size < "$dir/chunk.txt"
cp "$dir/clean.h5" "$dir/bad.h5"
printf '\xde\xad\xbe\xef' | dd of="$dir/bad.h5" bs=1 seek=$(( off + size / 2 )) conv=notrunc status=none
args=(--layers 6,9,3 --batch-size 10 --epochs 2 --learning-rate 0.2 --shuffle off --reduction exact
      --threads 1 --progress off --data-mode stream --checkpoint-every 10steps --keep 100)
mpirun_n "$R" "$bin" train --data "$dir/clean.h5" "${args[@]}" --run-dir "$dir/u" > "$dir/u.txt" 2>&1 \
  || fail "uninterrupted run: $(tail -3 "$dir/u.txt")"
want=$(fingerprint_of "$dir/u.txt")
set +e
timeout 120 mpiexec -n "$R" --oversubscribe --bind-to none "$bin" train --data "$dir/bad.h5" "${args[@]}" \
  --run-dir "$dir/r" > "$dir/r.txt" 2>&1
rc=$?
set -e
[ $rc -ne 124 ] || fail "the job hung on the damaged chunk: $(tail -5 "$dir/r.txt")"
[ $rc -eq 3 ] || fail "status $rc, expected 3: $(tail -5 "$dir/r.txt")"
grep -q "paraprop: error: .*bad.h5: reading row 3[01][0-9] of /train failed" "$dir/r.txt" \
  || fail "message: $(grep error "$dir/r.txt")"
[ "$(grep -c 'paraprop: error' "$dir/r.txt")" -eq 1 ] || fail "the error should be printed once: $(cat "$dir/r.txt")"
grep -q "on this rank only" "$dir/r.txt" && fail "not agreed: the job was aborted: $(cat "$dir/r.txt")"
ck="$dir/r/checkpoints"
[ -f "$ck/step-000000000030.h5" ] || { ls "$ck"; fail "no checkpoint of step 30"; }
[ ! -f "$ck/step-000000000040.h5" ] || fail "a checkpoint past the damaged step was written"
"$bin" seal --check "$ck/step-000000000030.h5" > /dev/null || fail "step 30's checkpoint does not verify"
mpirun_n "$R" "$bin" train --data "$dir/clean.h5" "${args[@]}" --run-dir "$dir/r" > "$dir/resume.txt" 2>&1 \
  || fail "resume on the clean data: $(tail -3 "$dir/resume.txt")"
got=$(fingerprint_of "$dir/resume.txt")
[ "$got" = "$want" ] || fail "resumed run ends at $got, uninterrupted $want"
echo "PASS stream damage: status 3 on $R ranks, checkpoint 30 intact, resume reaches $want"
