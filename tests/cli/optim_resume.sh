#!/usr/bin/env bash
# Resume with the optimizers and dropout of issue 12 is bitwise: runs resumed from mid-epoch and
# epoch-boundary checkpoints, and after --stop-after, end with the uninterrupted run's
# fingerprint (Adam's moments and step count, the velocity, and the dropout masks of the steps
# after the resume all come back). A checkpoint in the layout of older versions (velocity at
# /optimizer/layer_<l>, no optimizer name or t) still resumes to the same bits. Resuming with
# another optimizer is refused (status 2) with a message naming both; a damaged /optimizer
# record (moments missing, unknown name) is a bad file (status 3).
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2 R=${3:-1} T=${4:-1}; rm -rf "$dir"; mkdir -p "$dir"
synth_h5 "$bin" "$dir/d.h5" 230 50 6 3
run() { mpirun_n "$R" "$bin" train "$@"; }
base=(--data "$dir/d.h5" --layers 6,12,8,3 --epochs 2 --batch-size 16 --threads "$T" --progress off)
configs=("--optimizer adam --learning-rate 0.01 --dropout 0.3,0.2"
         "--optimizer adamw --learning-rate 0.01 --l2 3 --l1 0.2"
         "--optimizer nesterov --momentum 0.8 --learning-rate 0.1 --dropout 0.4"
         "--optimizer sgd --momentum 0.5 --learning-rate 0.2 --l1 0.3 --dropout 0.25")
i=0
for c in "${configs[@]}"; do
  i=$((i + 1))
  # shellcheck disable=SC2206
  args=("${base[@]}" $c)
  run "${args[@]}" --run-dir "$dir/full$i" --checkpoint-every 5steps --keep 100 > "$dir/full$i.txt" \
    || fail "$c: uninterrupted run failed: $(tail -3 "$dir/full$i.txt")"
  want=$(fingerprint_of "$dir/full$i.txt")
  [ -n "$want" ] || fail "$c: no fingerprint"
  # 230 / 16 = 15 steps per epoch: 10 is mid-epoch 1, 15 the epoch boundary, 20 mid-epoch 2
  for s in $([ $i -eq 1 ] && echo 10 15) 20; do
    r="$dir/r$i-$s"; rm -rf "$r"; mkdir -p "$r/checkpoints"
    cp "$dir/full$i/checkpoints/$(printf 'step-%012d.h5' "$s")" "$r/checkpoints/"
    run "${args[@]}" --run-dir "$r" --checkpoint-every none > "$r.txt" || fail "$c: resume from $s failed"
    grep -q "resuming from" "$r.txt" || fail "$c: step $s: did not resume"
    [ "$(fingerprint_of "$r.txt")" = "$want" ] || fail "$c: resume from step $s: $(fingerprint_of "$r.txt"), uninterrupted $want"
  done
  # --stop-after (adam and nesterov): exit 75 with a checkpoint, then the same command again
  if [ $i -eq 1 ] || [ $i -eq 3 ]; then
    r="$dir/s$i"; rm -rf "$r"
    set +e; run "${args[@]}" --run-dir "$r" --stop-after 7steps > "$r.1.txt" 2> "$r.1.err"; rc=$?; set -e
    [ $rc -eq 75 ] || fail "$c: --stop-after 7steps exited $rc, expected 75"
    run "${args[@]}" --run-dir "$r" > "$r.2.txt" || fail "$c: rerun after --stop-after failed"
    [ "$(fingerprint_of "$r.2.txt")" = "$want" ] || fail "$c: after --stop-after: $(fingerprint_of "$r.2.txt"), uninterrupted $want"
  fi
  echo "ok $c: $want"
done
ck="$dir/full1/checkpoints/step-000000000010.h5"   # adam + dropout
/usr/bin/python3 - "$ck" <<'PY' || fail "the adam checkpoint's /optimizer is not what docs/CHECKPOINTS.md says"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
g = f["optimizer"]
name = g.attrs["name"]
name = name.decode() if isinstance(name, bytes) else str(name)
assert name == "adam", name
assert int(g.attrs["t"]) == int(f.attrs["global_step"]) == 10, (g.attrs["t"], f.attrs["global_step"])
for grp in ("m", "v"):
    for l, shape in ((1, (12, 6)), (2, (8, 12)), (3, (3, 8))):
        assert g[f"{grp}/layer_{l}/weights"].shape == shape
        assert g[f"{grp}/layer_{l}/biases"].shape == (shape[0],)
assert "layer_1" not in g  # no velocity
print("ok /optimizer of an adam checkpoint read with h5py")
PY
# refusals: another optimizer than the checkpoint's
refuse() {
  local want_msg=$1; shift
  set +e; run "$@" > "$dir/x.txt" 2>&1; local rc=$?; set -e
  [ $rc -eq 2 ] && grep -q -- "$want_msg" "$dir/x.txt" || fail "not refused ($rc): $* : $(cat "$dir/x.txt")"
}
refuse "trained with --optimizer adam, this run has --optimizer adamw" "${base[@]}" --optimizer adamw \
  --learning-rate 0.01 --run-dir "$dir/x1" --resume "$ck"
refuse "trained with --optimizer adam, this run has --optimizer sgd" "${base[@]}" --run-dir "$dir/x2" --resume "$ck"
refuse "trained with --optimizer nesterov, this run has --optimizer sgd" "${base[@]}" --momentum 0.8 \
  --run-dir "$dir/x3" --resume "$dir/full3/checkpoints/step-000000000010.h5"
refuse "trained with --optimizer sgd, this run has --optimizer adam" "${base[@]}" --optimizer adam \
  --run-dir "$dir/x4" --resume "$dir/full4/checkpoints/step-000000000010.h5"
# the layout of checkpoints written before /optimizer had a name: velocity only, re-sealed
old="$dir/old"; rm -rf "$old"; mkdir -p "$old/checkpoints"
cp "$dir/full4/checkpoints/step-000000000010.h5" "$old/checkpoints/"
/usr/bin/python3 -c '
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    del f["optimizer"].attrs["name"]
    del f["optimizer"].attrs["t"]' "$old/checkpoints/step-000000000010.h5"
"$bin" seal "$old/checkpoints/step-000000000010.h5" > /dev/null
# shellcheck disable=SC2206
args=("${base[@]}" ${configs[3]})
run "${args[@]}" --run-dir "$old" --checkpoint-every none > "$old.txt" || fail "old-layout resume failed: $(tail -3 "$old.txt")"
grep -q "resuming from" "$old.txt" || fail "old layout: did not resume"
[ "$(fingerprint_of "$old.txt")" = "$(fingerprint_of "$dir/full4.txt")" ] || fail "old layout: resumed to other bits"
refuse "trained with --optimizer sgd, this run has --optimizer nesterov" "${base[@]}" --optimizer nesterov \
  --momentum 0.5 --run-dir "$dir/x5" --resume "$old/checkpoints/step-000000000010.h5"
# damaged optimizer records (re-sealed, so that the reader's own checks are what answers): adam
# without its moments, and an unknown optimizer name, are bad files (status 3)
for damage in moments name; do
  bad="$dir/bad-$damage.h5"; cp "$ck" "$bad"
  /usr/bin/python3 -c '
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    if sys.argv[2] == "moments":
        del f["optimizer/m"]
    else:
        f["optimizer"].attrs["name"] = "rmsprop"' "$bad" "$damage"
  "$bin" seal "$bad" > /dev/null
  set +e; "$bin" inspect "$bad" > "$dir/bad.txt" 2>&1; rc=$?; set -e
  want_msg=$([ $damage = moments ] && echo "adam without its moments" || echo "unknown optimizer 'rmsprop'")
  [ $rc -eq 3 ] && grep -q "$want_msg" "$dir/bad.txt" || fail "damaged /optimizer ($damage): $rc $(cat "$dir/bad.txt")"
done
echo "PASS optimizer and dropout resume R=$R T=$T"
