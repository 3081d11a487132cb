#!/usr/bin/env bash
# Stream mode meets a damaged chunk mid-epoch (issue 11): every rank stops with the same clean
# error, status 3, within the timeout (no hang); the checkpoints written before are intact, and
# resuming from the newest one on the undamaged data ends with the uninterrupted run's
# fingerprint. The file is an unsealed copy (h5py, chunks of 20 rows, fletcher32): a sealed
# file is verified whole before training, so its damage would be refused at the start instead.
# --shuffle off makes the order, and so the step that meets the chunk (31 of 60), known.
# The same again with the file cut short in the middle of that chunk, as a copy that lost its
# tail while the job ran: the superblock's end-of-file address is set to the new size, so that
# HDF5 opens it (a file truncated before the run is refused when opened: io_bad_files) and the
# missing rows are met mid-epoch, as a short read.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2 R=${3:-2}; rm -rf "$dir"; mkdir -p "$dir"
synth_h5 "$bin" "$dir/sealed.h5" 600 40 6 3
/usr/bin/python3 - "$dir" <<'PY'
import sys, h5py
d = sys.argv[1]
with h5py.File(d + "/sealed.h5", "r") as src, h5py.File(d + "/clean.h5", "w") as dst:
    for k, v in src.attrs.items():
        dst.attrs[k] = v
    # the training inputs last, so that nothing else lies past the cut below
    for g, name in (("test", "inputs"), ("test", "labels"), ("train", "labels"), ("train", "inputs")):
        if True:
            ds = src[g][name]
            n = dst.create_dataset(f"{g}/{name}", data=ds[()], chunks=(20,) + ds.shape[1:],
                                   fletcher32=True)
            for k, v in ds.attrs.items():
                n.attrs[k] = v
with h5py.File(d + "/clean.h5", "r") as f:   # the chunk of rows 300…319 of the inputs
    info = f["train/inputs"].id.get_chunk_info_by_coord((300, 0))
    open(d + "/chunk.txt", "w").write(f"{info.byte_offset} {info.size}\n")
import shutil, struct
shutil.copy(d + "/clean.h5", d + "/cut.h5")
cut = info.byte_offset + info.size // 2
with open(d + "/cut.h5", "r+b") as f:
    head = f.read(48)
    assert head[:8] == b"\x89HDF\r\n\x1a\n" and head[8] == 0 and head[13] == 8, "superblock v0, 8-byte offsets"
    f.seek(40)                       # v0: the end-of-file address after base and free-space
    f.write(struct.pack("<Q", cut))
    f.truncate(cut)
with h5py.File(d + "/cut.h5", "r") as f:  # opens, and all but the cut rows are there
    assert (f["test/inputs"][()] == h5py.File(d + "/clean.h5", "r")["test/inputs"][()]).all()
    assert (f["train/labels"][()] == h5py.File(d + "/clean.h5", "r")["train/labels"][()]).all()
PY
read -r off size < "$dir/chunk.txt"
cp "$dir/clean.h5" "$dir/bad.h5"
printf '\xde\xad\xbe\xef' | dd of="$dir/bad.h5" bs=1 seek=$(( off + size / 2 )) conv=notrunc status=none
args=(--layers 6,9,3 --batch-size 10 --epochs 2 --learning-rate 0.2 --shuffle off --reduction exact
      --threads 1 --progress off --data-mode stream --checkpoint-every 10steps --keep 100)
mpirun_n "$R" "$bin" train --data "$dir/clean.h5" "${args[@]}" --run-dir "$dir/u" > "$dir/u.txt" 2>&1 \
  || fail "uninterrupted run: $(tail -3 "$dir/u.txt")"
want=$(fingerprint_of "$dir/u.txt")
bad_run() { # FILE WHAT: status 3 at the rows of step 31, checkpoint 30 intact, resume
  local f=$1 what=$2
  set +e
  timeout 120 mpiexec -n "$R" --oversubscribe --bind-to none "$bin" train --data "$dir/$f" "${args[@]}" \
    --run-dir "$dir/r-$f" > "$dir/r-$f.txt" 2>&1
  rc=$?
  set -e
  [ $rc -ne 124 ] || fail "$what: the job hung on the damaged chunk: $(tail -5 "$dir/r-$f.txt")"
  [ $rc -eq 3 ] || fail "$what: status $rc, expected 3: $(tail -5 "$dir/r-$f.txt")"
  grep -q "paraprop: error: .*$f: reading row 3[01][0-9] of /train failed" "$dir/r-$f.txt" \
    || fail "$what: message: $(grep error "$dir/r-$f.txt")"
  [ "$(grep -c 'paraprop: error' "$dir/r-$f.txt")" -eq 1 ] || fail "$what: the error should be printed once: $(cat "$dir/r-$f.txt")"
  grep -q "on this rank only" "$dir/r-$f.txt" && fail "$what: not agreed: the job was aborted: $(cat "$dir/r-$f.txt")"
  ck="$dir/r-$f/checkpoints"
  [ -f "$ck/step-000000000030.h5" ] || { ls "$ck"; fail "$what: no checkpoint of step 30"; }
  [ ! -f "$ck/step-000000000040.h5" ] || fail "$what: a checkpoint past the damaged step was written"
  "$bin" seal --check "$ck/step-000000000030.h5" > /dev/null || fail "$what: step 30's checkpoint does not verify"
  mpirun_n "$R" "$bin" train --data "$dir/clean.h5" "${args[@]}" --run-dir "$dir/r-$f" > "$dir/resume-$f.txt" 2>&1 \
    || fail "$what: resume on the clean data: $(tail -3 "$dir/resume-$f.txt")"
  got=$(fingerprint_of "$dir/resume-$f.txt")
  [ "$got" = "$want" ] || fail "$what: resumed run ends at $got, uninterrupted $want"
}
bad_run bad.h5 "damaged chunk"
bad_run cut.h5 "file cut short"
echo "PASS stream damage: a damaged chunk and a file cut short mid-run: status 3 on $R ranks, checkpoint 30 intact, resume reaches $want"
