#!/bin/bash
# Regenerates the seed corpora of the fuzz harnesses in tests/fuzz/corpus/ with a built paraprop.
#
# usage: tests/fuzz/make-seeds.sh BIN      (BIN: e.g. build/release/src/app/paraprop)
#
# dataset/     tiny dataset files from 'paraprop convert' (csv: float32; idx: uint8 + scale),
#              with and without a test set, plus a latest-format repack when h5repack exists
# model/       the sealed checkpoint seeds (pp_model_load refuses unsealed files)
# checkpoint/  tiny checkpoints from 'paraprop train --epochs 1' (plain SGD, and momentum so
#              /optimizer exists), plus a smaller repack (latest format, no filters) if h5repack
# config/      'key = value' files for 'train --config'
# idx/         byte 0 = length L of the label file, then the image file, then L label bytes
#              (the layout fuzz_idx.c splits); plain and gzip'd
# csv/         small CSV files (label in column 0)
set -euo pipefail
BIN=$(realpath "${1:?usage: make-seeds.sh PARAPROP_BINARY}")
HERE=$(cd "$(dirname "$0")" && pwd)
OUT="$HERE/corpus"
W=$(mktemp -d "${TMPDIR:-/tmp}/paraprop-seeds.XXXXXX")
trap 'rm -rf "$W"' EXIT
export OMP_NUM_THREADS=1
cd "$W"

# --- raw inputs: CSV and IDX files -------------------------------------------------------------
python3 - <<'PY'
import gzip, random, struct
random.seed(7)
def csv(name, rows, cols, classes, header=None):
    with open(name, "w") as f:
        if header: f.write(header + "\n")
        for i in range(rows):
            f.write(",".join([str(i % classes)] + ["%.3g" % random.uniform(-2, 2) for _ in range(cols)]) + "\n")
csv("train.csv", 8, 4, 3)
csv("test.csv", 4, 4, 3)
csv("two.csv", 3, 1, 2)
def idx(prefix, n, r, c, classes):
    img = struct.pack(">BBBBIII", 0, 0, 8, 3, n, r, c) + bytes(random.randrange(256) for _ in range(n * r * c))
    lab = struct.pack(">BBBBI", 0, 0, 8, 1, n) + bytes(i % classes for i in range(n))
    open(prefix + "-images.idx", "wb").write(img)
    open(prefix + "-labels.idx", "wb").write(lab)
    return img, lab
ti, tl = idx("train", 6, 2, 3, 3)
si, sl = idx("test", 3, 2, 3, 3)
open("fuzz-idx-plain", "wb").write(bytes([len(tl)]) + ti + tl)
gl = gzip.compress(sl, mtime=0)
open("fuzz-idx-gzip", "wb").write(bytes([len(gl)]) + gzip.compress(si, mtime=0) + gl)
open("fuzz-idx-1x1", "wb").write(bytes([9]) + struct.pack(">BBBBIII", 0, 0, 8, 3, 1, 1, 1) + b"\x80"
                                  + struct.pack(">BBBBI", 0, 0, 8, 1, 1) + b"\x01")
PY

rm -rf "$OUT"
mkdir -p "$OUT"/{dataset,checkpoint,config,idx,csv,model}

# --- datasets ------------------------------------------------------------------------------------
"$BIN" convert csv --train train.csv --test test.csv -o "$OUT/dataset/csv-train-test.h5" >/dev/null
"$BIN" convert csv --train two.csv -o "$OUT/dataset/csv-train-only.h5" >/dev/null
"$BIN" convert idx --train-images train-images.idx --train-labels train-labels.idx \
  --test-images test-images.idx --test-labels test-labels.idx -o "$OUT/dataset/idx-u8.h5" >/dev/null
if command -v h5repack >/dev/null; then
  h5repack -L "$OUT/dataset/idx-u8.h5" "$OUT/dataset/idx-u8-latest.h5"
fi

# --- checkpoints ---------------------------------------------------------------------------------
"$BIN" train --data "$OUT/dataset/csv-train-test.h5" --layers 4,5,3 --epochs 1 --run-dir sgd \
  --checkpoint-every none --progress off >/dev/null
cp sgd/final.h5 "$OUT/checkpoint/sgd-4-5-3.h5"
"$BIN" train --data "$OUT/dataset/csv-train-test.h5" --layers 4,3 --epochs 1 --momentum 0.5 \
  --run-dir mom --checkpoint-every none --progress off >/dev/null
cp mom/final.h5 "$OUT/checkpoint/momentum-4-3.h5"
if command -v h5repack >/dev/null; then
  h5repack -L -f NONE -l CONTI sgd/final.h5 "$OUT/checkpoint/sgd-4-5-3-latest-nofilter.h5"
fi
"$BIN" inspect "$OUT/checkpoint/sgd-4-5-3.h5" >/dev/null
# model/: the sealed checkpoints (the inference API refuses unsealed files)
cp "$OUT/checkpoint/sgd-4-5-3.h5" "$OUT/checkpoint/momentum-4-3.h5" "$OUT/model/"

# --- config files --------------------------------------------------------------------------------
cp sgd/config.txt "$OUT/config/resolved.txt"
cat >"$OUT/config/minimal.txt" <<'CFG'
data = train.h5
layers = 784,30,10
CFG
cat >"$OUT/config/full.txt" <<'CFG'
# every kind of value
data = data/mnist.h5   # trailing comment
layers = 4,8,8,3
hidden-activation = relu
output-activation = sigmoid
cost = cross-entropy
epochs = 2
batch-size = 16
learning-rate = 0.05
l2 = 1e-4
momentum = 0.9
seed = 18446744073709551615
init = large
shuffle = off
run-dir = runs/a
threads = 2
reduction = exact
checkpoint-every = 500steps
keep = 2
checkpoint-dir = ckpt
progress = on
CFG
printf 'data=x.h5\r\nlayers=2,2\r\ncheckpoint-every=none\r\nresume=r.h5\r\n' >"$OUT/config/crlf.txt"
printf 'data = d.h5\nlayers = 3,4,2\noutput-activation = identity\ncost = quadratic\ninit-from = m.h5\n' \
  >"$OUT/config/regression.txt"

# --- IDX pairs and CSV files ---------------------------------------------------------------------
cp fuzz-idx-plain fuzz-idx-gzip fuzz-idx-1x1 "$OUT/idx/"
cp train.csv "$OUT/csv/train.csv"
cp two.csv "$OUT/csv/two.csv"
printf '1,0.5,-2e3\r\n0,1e-7,3\r\n2,  4 ,5\t\n\n' >"$OUT/csv/crlf-spaces.csv"

ls -la "$OUT"/*
