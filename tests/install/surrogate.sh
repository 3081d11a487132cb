#!/usr/bin/env bash
# The surrogate example of docs/INFERENCE.md end to end: an analytic function's samples as CSV,
# `convert csv --target-columns`, a regression MLP trained on 2 ranks, `paraprop predict`, and
# the C and Fortran programs of examples/surrogate built against the INSTALLED package through
# find_package and through pkg-config: all four print the bits `paraprop predict` wrote.
# usage: surrogate.sh BUILD_DIR SOURCE_DIR WORK_DIR
source "$(dirname "$0")/../lib/common.sh"
build=$1 src=$2 dir=$3
rm -rf "$dir"; mkdir -p "$dir"; cd "$dir"
ex="$src/examples/surrogate"
prefix="$dir/prefix"
cmake --install "$build" --prefix "$prefix" > install.log
bin="$prefix/bin/paraprop"
export OMP_NUM_THREADS=1

/usr/bin/python3 "$ex/make_data.py" .
"$bin" convert csv --train train.csv --test test.csv --header --target-columns -1 -o surrogate.h5
mpirun_n 2 "$bin" train --data surrogate.h5 --layers 3,32,32,1 --hidden-activation tanh \
  --output-activation identity --cost quadratic --epochs 20 --batch-size 16 --learning-rate 0.05 \
  --threads 1 --run-dir run --progress off > train.log
tail -n 4 train.log
# it learned the function (the targets' variance is about 0.6; a constant would leave ~0.3)
loss=$(sed -n 's/.*(test loss \([0-9.]*\)).*/\1/p' train.log)
awk -v l="$loss" 'BEGIN { exit !(l < 0.01) }' || fail "test loss $loss: the surrogate did not learn"
"$bin" predict --model run/final.h5 --csv test.csv --header --target-columns -1 -o predict.csv

# find_package(paraprop COMPONENTS fortran)
cmake -S "$ex" -B cm -DCMAKE_PREFIX_PATH="$prefix" > cm.log
cmake --build cm > cm-build.log
export LD_LIBRARY_PATH="$prefix/lib"
cm/surrogate run/final.h5 test.csv > c-cmake.txt
cm/surrogate_f run/final.h5 test.csv > f-cmake.txt
# pkg-config
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc $(pkg-config --cflags paraprop) "$ex/surrogate.c" -o c-pc $(pkg-config --libs paraprop)
gfortran $(pkg-config --cflags paraprop-fortran) "$ex/surrogate.f90" -o f-pc \
  $(pkg-config --libs paraprop-fortran)
./c-pc run/final.h5 test.csv > c-pc.txt
./f-pc run/final.h5 test.csv > f-pc.txt

/usr/bin/python3 - <<'PY' || fail "a downstream program disagrees with paraprop predict"
import numpy as np
ref = np.loadtxt("predict.csv", delimiter=",", skiprows=1, dtype=np.float32, ndmin=2)
assert ref.shape == (500, 1), ref.shape
for name in ("c-cmake.txt", "f-cmake.txt", "c-pc.txt", "f-pc.txt"):
    # ≥ 9 significant digits read back as the same float32
    got = np.loadtxt(name, delimiter=",", dtype=np.float32, ndmin=2)
    assert got.shape == ref.shape, (name, got.shape)
    diff = np.flatnonzero(got.view(np.uint32) != ref.view(np.uint32))
    assert diff.size == 0, f"{name}: {diff.size} rows differ, first {diff[0]}: {got.flat[diff[0]]!r} vs {ref.flat[diff[0]]!r}"
    print(f"{name}: 500 outputs equal paraprop predict bit for bit")
PY
echo "PASS surrogate"
