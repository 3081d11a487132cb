#!/usr/bin/env bash
# The inference API and `paraprop predict` on a trained classifier whose first layer is large
# enough for the packed matrix kernels (150 inputs, 80 neurons): test_model checks queries,
# batching, 8 threads and bad files; here the CLI's CSV and HDF5 outputs are compared.
# usage: model.sh PARAPROP TEST_MODEL DIR
source "$(dirname "$0")/../lib/common.sh"
bin=$1 tm=$2 dir=$3
rm -rf "$dir"; mkdir -p "$dir"; cd "$dir"
export OMP_NUM_THREADS=1
synth_h5 "$bin" data.h5 300 150 150 3
"$bin" train --data data.h5 --layers 150,80,3 --epochs 2 --batch-size 20 --run-dir run \
  --progress off > train.log
cut -d, -f2- test.csv > inputs.csv
"$bin" predict --model run/final.h5 --csv inputs.csv -o pred.csv > predict.log
# the same rows through --data (float32 inputs as stored) and -o .h5, with --classes
"$bin" predict --model run/final.h5 --data data.h5 -o pred.h5 --classes >> predict.log
"$bin" predict --model run/final.h5 --csv test.csv --target-columns 0 -o pred2.csv >> predict.log
cmp pred.csv pred2.csv || fail "--target-columns 0 did not drop the label column"
/usr/bin/python3 - <<'PY' || fail "CSV and HDF5 predictions differ"
import h5py, numpy as np
c = np.loadtxt("pred.csv", delimiter=",", skiprows=1, dtype=np.float32, ndmin=2)
with h5py.File("pred.h5") as f:
    o, cl, pr = f["outputs"][()], f["class"][()], f["probability"][()]
    assert f.attrs["format"] == b"paraprop-predictions", f.attrs["format"]
assert c.shape == o.shape == (150, 3), (c.shape, o.shape)
assert np.array_equal(c.view(np.uint32), o.view(np.uint32)), "outputs differ in bits"
assert np.array_equal(cl, o.argmax(1)) and np.array_equal(pr, o.max(1))
print("csv and h5 agree bit for bit")
PY
# bad files: truncated, not a model (a dataset, text), a damaged seal, missing
head -c 3000 run/final.h5 > truncated.h5
echo "not hdf5" > text.h5
cp run/final.h5 damaged.h5
size=$(stat -c %s damaged.h5)
printf '\x5a' | dd of=damaged.h5 bs=1 seek=$((size / 2)) conv=notrunc status=none
cmp -s damaged.h5 run/final.h5 && fail "damaging the copy changed nothing"
# unsealed: refused by the API before HDF5 reads it (the fuzzing reproducer crashed HDF5)
crash="$(cd "$(dirname "$0")/../fuzz/crashes" && pwd)/checkpoint-chunk-extent-segv.h5"
unsealed=()
if command -v h5repack > /dev/null; then
  h5repack run/final.h5 repacked.h5 && unsealed=(repacked.h5)
fi
"$tm" run/final.h5 inputs.csv pred.csv 150,80,3 truncated.h5 text.h5 data.h5 damaged.h5 \
  missing.h5 "$crash" "${unsealed[@]}" > test_model.log || { cat test_model.log; fail "test_model"; }
cat test_model.log
grep -q "checkpoint-chunk-extent-segv.h5: the file carries no seal" test_model.log || fail "unsealed file"
# unsealed checkpoints are refused; read unsealed, the checkpoint reader itself refuses the
# reproducer's chunk layout instead of crashing in HDF5
set +e
"$bin" inspect "$crash" > inspect.txt; rc=$?
set -e
[ $rc -eq 3 ] && grep -q "carries no seal" inspect.txt || fail "inspect of the reproducer: status $rc, $(cat inspect.txt)"
set +e
"$bin" inspect --allow-unsealed on "$crash" > inspect.txt; rc=$?
set -e
[ $rc -eq 3 ] && grep -q "damaged chunk layout" inspect.txt || fail "inspect --allow-unsealed on of the reproducer: status $rc, $(cat inspect.txt)"
# the CLI reports the same refusals, with status 3
set +e
"$bin" predict --model damaged.h5 --csv inputs.csv -o x.csv 2> err.txt; rc=$?
set -e
[ $rc -eq 3 ] && grep -q "damaged.h5" err.txt || fail "predict on a damaged model: status $rc, $(cat err.txt)"
set +e
"$bin" predict --model run/final.h5 --csv test.csv -o x.csv 2> err.txt; rc=$?
set -e
[ $rc -eq 3 ] && grep -q "151 inputs per row but the model" err.txt || fail "wrong width: $rc $(cat err.txt)"
echo "PASS predict"
# convert csv --target-columns: refused combinations and columns, with status 2
for args in "--target-columns 0 --label-column 0" "--target-columns 151" "--target-columns 0,0" \
            "--target-columns 1,x"; do
  set +e
  "$bin" convert csv --train test.csv $args -o bad.h5 2> err.txt; rc=$?
  set -e
  [ $rc -eq 2 ] && grep -q "paraprop: error: .*-columns" err.txt || fail "convert $args: status $rc, $(cat err.txt)"
done
"$bin" convert csv --train test.csv --target-columns 0 -o reg.h5 > conv.txt
grep -q "150 inputs, 1 targets" conv.txt || fail "convert --target-columns: $(cat conv.txt)"
echo "PASS convert --target-columns"
