#!/usr/bin/env bash
# Write failure: a checkpoint write that fails (disk full: a small tmpfs holds the checkpoint
# directory) is reported on every rank, stops the run with status 5, leaves no temporary file,
# and the previous checkpoint stays intact and loadable.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2
mnt="$dir/small"
cleanup() { umount "$mnt" 2>/dev/null || true; }
trap cleanup EXIT
cleanup; rm -rf "$dir"; mkdir -p "$mnt"
mount -t tmpfs -o size=4m tmpfs "$mnt" || fail "cannot mount a tmpfs (the test needs root)"
synth_h5 "$bin" "$dir/d.h5" 300 50 6 3
# ~2.4 MB checkpoints: the first fits in 4 MB, a second one beside it does not
args=(--data "$dir/d.h5" --layers 6,2000,300,3 --batch-size 10 --learning-rate 0.01 --threads 1
      --progress off --run-dir "$dir/run" --checkpoint-dir "$mnt/ck")
mpirun_n 2 "$bin" train "${args[@]}" --epochs 1 > "$dir/first.txt" || fail "first epoch: $(cat "$dir/first.txt")"
first=$(ls "$mnt/ck"/step-*.h5)
sum=$(sha256sum "$first" | cut -d' ' -f1)
set +e
mpirun_n 2 "$bin" train "${args[@]}" --epochs 3 > "$dir/out.txt" 2>&1
rc=$?
set -e
[ $rc -eq 5 ] || fail "exit status $rc, expected 5: $(tail -5 "$dir/out.txt")"
grep -q "writing the checkpoint failed" "$dir/out.txt" || fail "no write-failure message: $(cat "$dir/out.txt")"
ls "$mnt/ck"/*.tmp 2>/dev/null && fail "a temporary file was left behind"
[ "$(sha256sum "$first" | cut -d' ' -f1)" = "$sum" ] || fail "the previous checkpoint changed"
info=$("$bin" inspect "$first") || fail "inspect failed on the previous checkpoint: $info"
grep -q "valid: yes" <<<"$info" || fail "the previous checkpoint is not loadable"
echo "PASS write failure: $(grep 'paraprop: error' "$dir/out.txt")"
