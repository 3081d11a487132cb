#!/usr/bin/python3
"""Bad input files must be refused cleanly by paraprop.

usage: bad_files.py PARAPROP_BINARY SCRATCH_DIR [MNIST_DIR] [-v] [-k SUBSTRING]

Every case is a paraprop command on a deliberately broken file (IDX, CSV,
HDF5 dataset, checkpoint/model).  A case passes when
  * paraprop ends within 60 s (a hang is a failure),
  * it was not killed by a signal (a crash is a failure),
  * the exit status is the expected one (3 = bad input file, unless noted),
  * stderr names the offending file, and
  * stderr contains one of the accepted phrases describing the problem
    (matched case-insensitively).
A few positive controls (a good file is accepted) keep the table honest.
All cases run; the failures are listed at the end and the exit status is 1.
-v prints every case's stderr; -k runs only the cases whose name contains SUBSTRING.
"""
import gzip
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

args = [a for a in sys.argv[1:] if not a.startswith("-")]
VERBOSE = "-v" in sys.argv
ONLY = None
if "-k" in sys.argv:
    ONLY = sys.argv[sys.argv.index("-k") + 1]
    args.remove(ONLY)
if len(args) < 2:
    sys.exit("usage: bad_files.py PARAPROP_BINARY SCRATCH_DIR [MNIST_DIR] [-v] [-k SUBSTRING]")
BIN = os.path.abspath(args[0])
SCRATCH = os.path.abspath(args[1])
MNIST = args[2] if len(args) > 2 else os.environ.get("PARAPROP_MNIST_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist"))
W = os.path.join(SCRATCH, "bad_files")
shutil.rmtree(W, ignore_errors=True)
os.makedirs(W)
TIMEOUT = 60
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def P(name):
    return os.path.join(W, name)


def run(argv):
    """Run paraprop in its own process group; return (status, stdout, stderr, seconds)."""
    t0 = time.time()
    p = subprocess.Popen([BIN] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=W, env=ENV, start_new_session=True)
    try:
        out, err = p.communicate(timeout=TIMEOUT)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        rc = "timeout"
    return rc, out, err, time.time() - t0


# ------------------------------------------------------------------ file makers
def write(name, data):
    with open(P(name), "wb") as f:
        f.write(data)
    return P(name)


def idx_bytes(arr, magic_type=0x08):
    arr = np.asarray(arr, dtype=np.uint8)
    hdr = bytes([0, 0, magic_type, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return hdr + arr.tobytes()


with gzip.open(os.path.join(MNIST, "t10k-images-idx3-ubyte.gz"), "rb") as f:
    IMG = f.read()[:16 + 784 * 100]
IMG = IMG[:4] + (100).to_bytes(4, "big") + IMG[8:]  # a valid 100-image file
with gzip.open(os.path.join(MNIST, "t10k-labels-idx1-ubyte.gz"), "rb") as f:
    LAB = f.read()[:8 + 100]
LAB = LAB[:4] + (100).to_bytes(4, "big") + LAB[8:]
good_img = write("good-images.idx", IMG)
good_lab = write("good-labels.idx", LAB)


def idx_cmd(img, lab, out):
    return ["convert", "idx", "--train-images", img, "--train-labels", lab, "-o", P(out)]


def csv_cmd(path, out, *extra):
    return ["convert", "csv", "--train", path, *extra, "-o", P(out)]


N, D, K = 24, 4, 3
rng = np.random.default_rng(7)
X0 = rng.standard_normal((N, D)).astype(np.float32)
Y0 = (np.arange(N) % K).astype(np.int32)


def h5ds(name, mutate=None, *, fmt="paraprop-dataset", version=1, classes=K, X=None, Y=None,
         inputs_scale=None, with_test=True):
    path = P(name)
    X = X0 if X is None else X
    Y = Y0 if Y is None else Y
    with h5py.File(path, "w") as f:
        f.attrs["format"] = np.bytes_(fmt)
        f.attrs["format_version"] = np.int64(version)
        f.attrs["classes"] = np.int64(classes)
        f.attrs["source"] = np.bytes_("bad_files.py")
        for split in ("train", "test") if with_test else ("train",):
            g = f.create_group(split)
            d = g.create_dataset("inputs", data=X)
            if inputs_scale is not None:
                d.attrs["scale"] = inputs_scale
            g.create_dataset("labels", data=Y)
        if mutate:
            mutate(f)
    return path


def train_cmd(data, tag, layers="4,5,3"):
    return ["train", "--data", data, "--layers", layers, "--epochs", "1", "--batch-size", "5",
            "--threads", "1", "--progress", "off", "--run-dir", P("run-" + tag)]


def eval_cmd(model, data):
    return ["eval", "--model", model, "--data", data, "--threads", "1"]


# ------------------------------------------------------------------ the table
# (name, argv, expected status, file that must be named, [accepted problem phrases])
CASES = []


def case(name, argv, status, names, phrases):
    CASES.append((name, argv, status, names, phrases))


TRUNC = ["truncated", "too short", "unexpected end", "end of file", "short read", "incomplete",
         "premature"]

# ---- IDX
case("positive: good IDX converts", idx_cmd(good_img, good_lab, "ok.h5"), 0, None, [])
p = write("idx-bad-magic.idx", b"\x12\x34\x08\x03" + IMG[4:])
case("idx: wrong magic (images)", idx_cmd(p, good_lab, "o.h5"), 3, p, ["magic"])
p = write("idx-labels-as-images.idx", LAB)
case("idx: labels file given as images (1-D)", idx_cmd(p, good_lab, "o.h5"), 3, p,
     ["magic", "dimension", "rank", "expected", "3-d", "images"])
p = write("idx-bad-type.idx", IMG[:2] + b"\x0d" + IMG[3:])
case("idx: element type float (0x0d) instead of ubyte", idx_cmd(p, good_lab, "o.h5"), 3, p,
     ["magic", "type", "unsigned byte", "ubyte"])
for off in (0, 2, 7, 15, 16 + 784 * 50 + 10, len(IMG) - 1):
    p = write(f"idx-trunc-{off}.idx", IMG[:off])
    case(f"idx: image file truncated at byte {off}", idx_cmd(p, good_lab, "o.h5"), 3, p,
         TRUNC + (["empty"] if off == 0 else []))
p = write("idx-trunc.idx.gz", gzip.compress(IMG)[:4000])
case("idx: truncated gzip stream", idx_cmd(p, good_lab, "o.h5"), 3, p, TRUNC + ["gzip", "corrupt"])
p = write("idx-labels-trunc.idx", LAB[:8 + 60])
case("idx: labels truncated", idx_cmd(good_img, p, "o.h5"), 3, p, TRUNC)
p = write("idx-labels-trunc-hdr.idx", LAB[:6])
case("idx: labels truncated inside header", idx_cmd(good_img, p, "o.h5"), 3, p, TRUNC)
p = write("idx-labels-99.idx", LAB[:4] + (99).to_bytes(4, "big") + LAB[8:8 + 99])
case("idx: 100 images but 99 labels", idx_cmd(good_img, p, "o.h5"), 3, good_img,
     ["mismatch", "99", "does not match", "differ"])
case("idx: 10k images with the 60k label file", idx_cmd(
    os.path.join(MNIST, "t10k-images-idx3-ubyte.gz"), os.path.join(MNIST, "train-labels-idx1-ubyte.gz"),
    "o.h5"), 3, "train-labels-idx1-ubyte.gz", ["60000", "mismatch", "does not match", "differ"])
p = P("idx-no-such-file.idx")
case("idx: missing image file", idx_cmd(p, good_lab, "o.h5"), 3, p,
     ["no such file", "cannot open", "not found", "does not exist"])
p = write("idx-empty.idx", b"")
case("idx: empty labels file", idx_cmd(good_img, p, "o.h5"), 3, p, TRUNC + ["empty"])
p = write("idx-images-count-lie.idx", IMG[:4] + (101).to_bytes(4, "big") + IMG[8:])
q = write("labels-101.idx", LAB[:4] + (101).to_bytes(4, "big") + LAB[8:] + b"\x01")
case("idx: header says 101 images, data holds 100", idx_cmd(p, q, "o.h5"), 3, p, TRUNC)
p = write("idx-images-27x28.idx", IMG[:12] + (27).to_bytes(4, "big") + IMG[16:])
case("idx: 100 images of 28x28 labelled as 28x27 (trailing bytes)", idx_cmd(p, good_lab, "o.h5"), 3,
     p, ["trailing", "extra", "size", "longer", "more data", "bytes"])

# ---- CSV
p = write("csv-nonnumeric.csv", b"1,0.5,2\n0,abc,3\n2,1,1\n")
case("csv: non-numeric cell", csv_cmd(p, "o.h5"), 3, p, ["abc", "not a number", "numeric"])
p = write("csv-nonnumeric-line.csv", b"1,0.5,2\n0,0.1,3\n2,1,1x\n")
case("csv: trailing garbage in a number (line 3)", csv_cmd(p, "o.h5"), 3, p + ":3",
     ["1x", "not a number", "numeric"])
p = write("csv-ragged.csv", b"1,0.5,2\n0,0.1\n2,1,1\n")
case("csv: ragged rows (line 2 short)", csv_cmd(p, "o.h5"), 3, p + ":2",
     ["column", "field", "ragged", "cells", "values"])
p = write("csv-ragged-long.csv", b"1,0.5,2\n0,0.1,3\n2,1,1,4\n")
case("csv: ragged rows (line 3 long)", csv_cmd(p, "o.h5"), 3, p + ":3",
     ["column", "field", "ragged", "cells", "values"])
p = write("csv-neglabel.csv", b"1,0.5,2\n-1,0.1,3\n")
case("csv: negative label", csv_cmd(p, "o.h5"), 3, p, ["label", "negative", "out of range"])
p = write("csv-fraclabel.csv", b"1,0.5,2\n1.5,0.1,3\n")
case("csv: non-integer label", csv_cmd(p, "o.h5"), 3, p, ["integer", "label"])
p = write("csv-empty.csv", b"")
case("csv: empty file", csv_cmd(p, "o.h5"), 3, p, ["empty", "no data", "no rows", "no samples"])
p = write("csv-header-only.csv", b"label,a,b\n")
case("csv: header only (--header)", csv_cmd(p, "o.h5", "--header"), 3, p,
     ["empty", "no data", "no rows", "no samples"])
p = write("csv-header-noflag.csv", b"label,a,b\n1,2,3\n")
case("csv: header line without --header", csv_cmd(p, "o.h5"), 3, p + ":1",
     ["label", "not a number", "numeric", "--header"])
p = write("csv-label-too-big-classes.csv", b"5,0.5,2\n1,0.1,3\n")
case("csv: label 5 with --classes 3", csv_cmd(p, "o.h5", "--classes", "3"), 3, p,
     ["out of range", "classes"])
p = write("csv-nan.csv", b"1,nan,2\n0,0.1,3\n")
case("csv: NaN cell", csv_cmd(p, "o.h5"), 3, p, ["nan", "finite"])
p = write("csv-tr.csv", b"1,0.5,2\n0,0.1,3\n")
q = write("csv-te-cols.csv", b"1,0.5,2,4\n0,0.1,3,4\n")
case("csv: test file with a different column count", csv_cmd(p, "o.h5", "--test", q), 3, q,
     ["column", "inputs", "match", "features"])
p = P("csv-missing.csv")
case("csv: missing file", csv_cmd(p, "o.h5"), 3, p, ["no such file", "cannot open", "not found"])

# ---- HDF5 datasets (train --data BAD, eval --data BAD)
good = h5ds("ds-good.h5")
case("positive: good dataset trains", train_cmd(good, "good"), 0, None, [])
p = h5ds("ds-wrong-format.h5", fmt="paraprop-checkpoint")
case("dataset: wrong format attribute", train_cmd(p, "fmt"), 3, p, ["format"])
p = h5ds("ds-no-format.h5", lambda f: f.attrs.__delitem__("format"))
case("dataset: format attribute missing", train_cmd(p, "nofmt"), 3, p, ["format"])
p = h5ds("ds-version2.h5", version=2)
case("dataset: format_version 2", train_cmd(p, "ver"), 3, p, ["version"])
p = h5ds("ds-no-classes.h5", lambda f: f.attrs.__delitem__("classes"))
case("dataset: classes attribute missing", train_cmd(p, "nocls"), 3, p, ["classes"])
p = h5ds("ds-no-train.h5", lambda f: f.__delitem__("train"))
case("dataset: /train group missing", train_cmd(p, "notrain"), 3, p, ["/train", "train"])
p = h5ds("ds-no-labels.h5", lambda f: f.__delitem__("train/labels"))
case("dataset: /train/labels missing", train_cmd(p, "nolab"), 3, p, ["labels"])
p = h5ds("ds-rank3.h5", X=X0.reshape(N, 2, 2))
case("dataset: inputs of rank 3", train_cmd(p, "rank"), 3, p, ["rank", "dimension", "2-d", "shape"])
p = h5ds("ds-labels-2d.h5", Y=Y0.reshape(N, 1))
case("dataset: labels of rank 2", train_cmd(p, "lrank"), 3, p,
     ["rank", "dimension", "1-d", "shape"])
Ybad = Y0.copy()
Ybad[5] = 3
p = h5ds("ds-label-range.h5", Y=Ybad)
case("dataset: label 3 with classes 3 (train)", train_cmd(p, "range"), 3, p, ["out of range"])
case("dataset: label 3 with classes 3 (eval)", eval_cmd(P("run-good/final.h5"), p), 3, p,
     ["out of range"])
Ybad = Y0.copy()
Ybad[0] = -1
p = h5ds("ds-label-neg.h5", Y=Ybad)
case("dataset: label -1", train_cmd(p, "neg"), 3, p, ["out of range"])
p = h5ds("ds-count.h5", Y=Y0[:-1])
case("dataset: 24 inputs, 23 labels", train_cmd(p, "count"), 3, p,
     ["mismatch", "23", "does not match", "differ"])
Xn = X0.copy()
Xn[3, 2] = np.nan
p = h5ds("ds-nan.h5", X=Xn)
case("dataset: NaN in float inputs", train_cmd(p, "nan"), 3, p, ["nan", "finite"])
Xn = X0.copy()
Xn[7, 1] = np.inf
p = h5ds("ds-inf.h5", X=Xn)
case("dataset: Inf in float inputs", train_cmd(p, "inf"), 3, p, ["inf", "finite"])
Xu = (np.abs(X0) * 50).astype(np.uint8)
p = h5ds("ds-u8-noscale.h5", X=Xu)
case("dataset: uint8 inputs without scale", train_cmd(p, "noscale"), 3, p, ["scale"])
p = h5ds("ds-u8-badscale.h5", X=Xu, inputs_scale=float("nan"))
case("dataset: uint8 inputs with scale NaN", train_cmd(p, "badscale"), 3, p, ["scale"])
p = h5ds("ds-str-inputs.h5", lambda f: (f["train"].__delitem__("inputs"), f["train"].create_dataset(
    "inputs", data=np.array([[b"ab"] * D] * N))))
case("dataset: string inputs", train_cmd(p, "str"), 3, p, ["type", "float", "uint8"])
p = h5ds("ds-test-d.h5", lambda f: (f["test"].__delitem__("inputs"), f["test"].create_dataset(
    "inputs", data=np.zeros((N, D + 1), np.float32))))
case("dataset: /test inputs with another width", train_cmd(p, "testd"), 3, p,
     ["test", "match", "inputs", "width", "columns"])
p = h5ds("ds-empty.h5", X=np.zeros((0, D), np.float32), Y=np.zeros((0,), np.int32), with_test=False)
case("dataset: zero training samples", train_cmd(p, "empty"), 3, p,
     ["empty", "no samples", "no training", "0 samples", "zero"])
p = h5ds("ds-targets-shape.h5", lambda f: (f["train"].__delitem__("labels"), f["train"].create_dataset(
    "targets", data=np.zeros((N, K + 1), np.float32))), with_test=False)
case("dataset: /train/targets with K+1 columns", train_cmd(p, "targ"), 3, p,
     ["targets", "classes", "shape", "columns"])
# float targets under the log-likelihood cost (the default): each row must be a distribution


def soft_targets(name, T):
    return h5ds(name, lambda f: (f["train"].__delitem__("labels"),
                                 f["train"].create_dataset("targets", data=T)), with_test=False)


T_OK = np.full((N, K), 0.2, np.float32)
T_OK[:, 0] = 0.6
p = soft_targets("ds-targets-soft.h5", T_OK)
case("positive: soft targets that sum to 1 (log-likelihood)", train_cmd(p, "soft"), 0, None, [])
T_NEG = T_OK.copy()
T_NEG[5] = [1.5, -0.25, -0.25]
p = soft_targets("ds-targets-negative.h5", T_NEG)
case("dataset: log-likelihood with a negative target", train_cmd(p, "tneg"), 3, p,
     ["target 1 of sample 5 is -0.25"])
T_SUM = T_OK.copy()
T_SUM[7] = [0.5, 0.5, 0.5]
p = soft_targets("ds-targets-sum.h5", T_SUM)
case("dataset: log-likelihood with targets that sum to 1.5", train_cmd(p, "tsum"), 3, p,
     ["targets of sample 7 sum to 1.5"])
case("positive: the same targets with the quadratic cost",
     train_cmd(p, "tsumq") + ["--cost", "quadratic"], 0, None, [])
p = write("ds-text.h5", b"this is not an HDF5 file\n" * 20)
case("dataset: not an HDF5 file", train_cmd(p, "text"), 3, p,
     ["hdf5", "not a", "cannot open", "signature"])
p = write("ds-empty-file.h5", b"")
case("dataset: empty file", train_cmd(p, "emptyfile"), 3, p,
     ["hdf5", "not a", "cannot open", "empty", "signature"])
raw = open(good, "rb").read()
p = write("ds-truncated.h5", raw[:len(raw) // 2])
case("dataset: truncated HDF5 file", train_cmd(p, "trunc"), 3, p,
     ["truncated", "cannot open", "not a", "hdf5", "corrupt"])
p = P("ds-missing.h5")
case("dataset: missing file", train_cmd(p, "missing"), 3, p,
     ["no such file", "cannot open", "not found", "does not exist"])
# ---- seals: the SHA-256 that paraprop's own files carry, checked before HDF5 parses them
rows = "".join(f"{Y0[i]}," + ",".join(f"{v:.6f}" for v in X0[i]) + "\n" for i in range(N))
p = write("seal-src.csv", rows.encode())
rc, _, err, _ = run(csv_cmd(p, "ds-sealed.h5"))
if rc != 0:
    sys.exit(f"convert csv failed ({rc}): {err}")
sealed = P("ds-sealed.h5")
case("positive: a converted (sealed) dataset trains", train_cmd(sealed, "sealed"), 0, None, [])
case("positive: seal --check on a converted dataset", ["seal", "--check", sealed], 0, None, [])
raw = open(sealed, "rb").read()
for at, what in ((len(raw) - 40, "near the end"), (4096 + 100, "just after the seal"),
                 (len(raw) // 2, "in the middle")):
    flipped = bytearray(raw)
    flipped[at] ^= 0xFF
    p = write(f"ds-sealed-flip-{at}.h5", bytes(flipped))
    case(f"dataset: converted file with a byte flipped {what}", train_cmd(p, f"sflip{at}"), 3, p,
         ["seal", "damaged"])
    case(f"dataset: seal --check, byte flipped {what}", ["seal", "--check", p], 3, p,
         ["seal", "damaged"])
hdr = bytearray(raw)
hdr[40] ^= 0x01  # inside copy 1's "bytes N" line: copy 2 takes over (and says so)
p = write("ds-sealed-header.h5", bytes(hdr))
case("positive: one damaged seal copy is survived, with a note", train_cmd(p, "shdr"), 0, p,
     ["one of the two copies of its seal is damaged"])
hdr[2048 + 40] ^= 0x01  # and copy 2's
p = write("ds-sealed-header2.h5", bytes(hdr))
case("dataset: converted file whose two seal copies are damaged", train_cmd(p, "shdr2"), 3, p,
     ["damaged seal"])
case("dataset: seal --check, both seal copies damaged", ["seal", "--check", p], 3, p,
     ["damaged seal"])
hdr = bytearray(raw)  # issue #14: byte 7 of the seal and bytes of the data
hdr[7] ^= 0x01
for at in range(4200, len(raw), (len(raw) - 4200) // 19):
    hdr[at] ^= 0x10
p = write("ds-sealed-byte7-and-data.h5", bytes(hdr))
case("dataset: seal byte 7 and data bytes flipped", train_cmd(p, "s7"), 3, p,
     ["do not match the SHA-256"])
junk = bytes((i * 131 + 7) % 256 for i in range(4096))
p = write("ds-userblock-garbage.h5", junk + raw[4096:])
case("dataset: a user block of garbage in front of the data", train_cmd(p, "sjunk"), 3, p,
     ["damaged seal"])
p = write("ds-userblock-zeros.h5", bytes(4096) + raw[4096:])
case("dataset: an all-zero user block (no seal) in front of the data", train_cmd(p, "szero"), 3,
     p, ["damaged seal"])
case("positive: an h5py dataset without a user block trains, with a note",
     train_cmd(good, "foreign"), 0, good, ["carries no seal"])
p = write("ds-sealed-extended.h5", raw + b"\0" * 100)
case("dataset: converted file with bytes appended", train_cmd(p, "sext"), 3, p,
     ["extended", "truncated"])
case("seal: a file without a user block is refused", ["seal", good], 3, good,
     ["user block", "h5jam"])
p = write("seal-text.h5", b"not hdf5\n" * 1000)
case("seal: a text file is refused", ["seal", p], 3, p, ["user block"])
case("dataset: not HDF5 (eval --data)", eval_cmd(P("run-good/final.h5"), P("ds-text.h5")), 3,
     P("ds-text.h5"), ["hdf5", "not a", "cannot open", "signature"])
case("dataset: a checkpoint given as --data", train_cmd(P("run-good/final.h5"), "ckdata"), 3,
     P("run-good/final.h5"), ["format", "paraprop-dataset"])


# ---- checkpoints / models (made lazily: they need a good training run first)
def make_checkpoints():
    src = P("run-good/final.h5")
    if not os.path.exists(src):
        rc, out, err, _ = run(train_cmd(good, "good"))
        if rc != 0:
            print(f"cannot make a checkpoint: status {rc}\n{err}")
            return False
    raw = open(src, "rb").read()
    src_of = [src]

    def copy(name):
        shutil.copy(src_of[0], P(name))
        return P(name)

    def reseal(path):
        # an edit made on purpose: renew the seal so that the reader's own checks are reached
        r = subprocess.run([BIN, "seal", path], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise SystemExit(f"paraprop seal {path}: status {r.returncode}: {r.stderr}")

    def flip_in(name, dset, delta=0x5A, sealed_again=False):
        path = copy(name)
        with h5py.File(path, "r") as f:
            d = f[dset]
            if d.chunks:
                info = d.id.get_chunk_info(0)
                off, size = info.byte_offset, info.size
            else:
                off, size = d.id.get_offset(), d.id.get_storage_size()
            off += f.userblock_size  # HDF5 addresses start after the user block (the seal)
        with open(path, "r+b") as fh:
            fh.seek(off + size // 2)
            b = fh.read(1)
            fh.seek(off + size // 2)
            fh.write(bytes([b[0] ^ delta]))
        if sealed_again:
            reseal(path)
        return path

    flip_in("ck-flip-w1.h5", "model/layer_1/weights")
    flip_in("ck-flip-b2.h5", "model/layer_2/biases")
    # the same damage behind a renewed seal: HDF5's fletcher32 must still catch it
    flip_in("ck-flip-w1-resealed.h5", "model/layer_1/weights", sealed_again=True)
    for name, sealed_again in (("ck-edited-unsealed.h5", False), ("ck-edited-w.h5", True)):
        # valid HDF5 checksums: the seal catches it, and behind a renewed seal the fingerprint
        p = copy(name)
        with h5py.File(p, "r+") as f:
            w = f["model/layer_2/weights"]
            a = w[()]
            a[0, 0] += 0.25
            w[...] = a
        if sealed_again:
            reseal(p)
    write("ck-truncated.h5", raw[: len(raw) * 2 // 3])
    # the seal dropped (what h5repack or an h5py rewrite leaves): refused unless overridden
    write("ck-unsealed.h5", raw[4096:])
    os.makedirs(P("run-unsealed/checkpoints"))
    write("run-unsealed/checkpoints/step-000000000005.h5", raw[4096:])
    write("ck-truncated-small.h5", raw[:600])
    p = copy("ck-incomplete.h5")
    with h5py.File(p, "r+") as f:
        del f.attrs["complete"]
    reseal(p)
    p = copy("ck-complete0.h5")
    with h5py.File(p, "r+") as f:
        f.attrs["complete"] = np.int64(0)
    reseal(p)
    p = copy("ck-wrong-format.h5")
    with h5py.File(p, "r+") as f:
        f.attrs["format"] = np.bytes_("paraprop-dataset")
    reseal(p)
    p = copy("ck-version9.h5")
    with h5py.File(p, "r+") as f:
        f.attrs["format_version"] = np.int64(9)
    reseal(p)
    p = copy("ck-no-layer2.h5")
    with h5py.File(p, "r+") as f:
        del f["model/layer_2"]
    reseal(p)
    # what a build of the other precision wrote: every parameter dataset in the other float
    # type and the `precision` attribute to match (the fingerprint is of the original bytes)
    p = copy("ck-other-precision.h5")
    with h5py.File(p, "r+") as f:
        other = "float64" if f.attrs["precision"].decode() == "float32" else "float32"
        for l in range(1, 3):
            for k in ("weights", "biases"):
                g, a = f[f"model/layer_{l}"], f[f"model/layer_{l}/{k}"][()]
                del g[k]
                g.create_dataset(k, data=a.astype("<f8" if other == "float64" else "<f4"))
        f.attrs["precision"] = np.bytes_(other)
    reseal(p)
    p = copy("ck-bad-shape.h5")
    with h5py.File(p, "r+") as f:
        w = f["model/layer_1/weights"][()]
        del f["model/layer_1/weights"]
        f["model/layer_1"].create_dataset("weights", data=w[:, :-1])
    reseal(p)
    p = copy("ck-bad-activation.h5")
    with h5py.File(p, "r+") as f:
        del f["model/activations"]
        f["model"].create_dataset("activations", data=np.array([b"sigmoid", b"banana"], "S8"))
    reseal(p)
    # a run dir whose only checkpoint is damaged: no silent fresh start
    os.makedirs(P("run-allbad/checkpoints"))
    shutil.copy(P("ck-flip-w1.h5"), P("run-allbad/checkpoints/step-000000000005.h5"))
    # optimizer state: a run with momentum, one byte of its velocity flipped
    rc, out, err, _ = run(train_cmd(good, "mom") + ["--momentum", "0.5", "--epochs", "2"])
    if rc == 0:
        src_of[0] = P("run-mom/final.h5")
        flip_in("ck-flip-velocity.h5", "optimizer/layer_1/weights")
        # a run dir whose newest checkpoint is corrupt: resuming must report it and use the older
        cks = sorted(os.listdir(P("run-mom/checkpoints")))
        if len(cks) >= 2:
            newest = os.path.join("run-mom/checkpoints", cks[-1])
            src_of[0] = P(newest)
            flip_in(newest + ".bad", "model/layer_2/weights")
            os.replace(P(newest + ".bad"), P(newest))
            os.remove(P("run-mom/final.h5"))
    return True


CK_READY = None


def ck(name):
    return P(name)


CK_CASES = [
    ("ck-flip-w1.h5", "flipped byte inside /model/layer_1/weights", ["checksum", "fingerprint"]),
    ("ck-flip-b2.h5", "flipped byte inside /model/layer_2/biases", ["checksum", "fingerprint"]),
    ("ck-edited-w.h5", "weight edited with h5py and re-sealed (fingerprint only)", ["fingerprint"]),
    ("ck-edited-unsealed.h5", "weight edited with h5py, seal not renewed",
     ["seal", "paraprop seal"]),
    ("ck-flip-w1-resealed.h5", "flipped byte in layer_1 weights behind a renewed seal",
     ["checksum mismatch"]),
    ("ck-unsealed.h5", "no user block, so no seal", ["no seal", "--allow-unsealed on",
                                                      "paraprop seal"]),
    ("ck-truncated.h5", "truncated to 2/3", ["truncated", "cannot open", "not a", "hdf5", "corrupt"]),
    ("ck-truncated-small.h5", "truncated to 600 bytes",
     ["truncated", "cannot open", "not a", "hdf5", "corrupt"]),
    ("ck-incomplete.h5", "'complete' attribute deleted", ["complete"]),
    ("ck-complete0.h5", "complete = 0", ["complete"]),
    ("ck-wrong-format.h5", "format = paraprop-dataset", ["format"]),
    ("ck-version9.h5", "format_version 9", ["version"]),
    ("ck-no-layer2.h5", "/model/layer_2 deleted", ["layer_2"]),
    ("ck-bad-shape.h5", "layer_1 weights of the wrong shape", ["layer_1", "shape"]),
    ("ck-bad-activation.h5", "unknown activation 'banana'", ["banana", "activation"]),
    ("ck-other-precision.h5", "written by a build of the other precision",
     ["parameters are float64 but this paraprop is a float32 build",
      "parameters are float32 but this paraprop is a float64 build"]),
    ("ds-text.h5", "a text file", ["hdf5", "not a", "cannot open", "signature"]),
]
CK_POSITIVE = "run-good/final.h5"
case("positive: inspect a good model", ["inspect", P(CK_POSITIVE)], 0, None, [])
case("positive: eval a good model", eval_cmd(P(CK_POSITIVE), good), 0, None, [])
case("positive: inspect describes a dataset file", ["inspect", good], 0, None, [])
case("checkpoint: eval --model a dataset file", eval_cmd(sealed, good), 3, sealed,
     ["format", "paraprop-checkpoint"])
case("checkpoint: eval --model an unsealed (h5py) file", eval_cmd(good, good), 3, good,
     ["no seal", "--allow-unsealed on", "paraprop seal"])
case("checkpoint: eval --model an unsealed dataset, --allow-unsealed on",
     eval_cmd(good, good) + ["--allow-unsealed", "on"], 3, good, ["format", "paraprop-checkpoint"])
for fname, what, phrases in CK_CASES:
    case(f"checkpoint: inspect, {what}", ["inspect", P(fname)], 3, P(fname), phrases)
for fname, what, phrases in [c for c in CK_CASES if c[0] in ("ck-flip-w1.h5", "ck-incomplete.h5",
                                                             "ck-other-precision.h5",
                                                             "ck-edited-unsealed.h5",
                                                             "ck-unsealed.h5")]:
    case(f"checkpoint: eval --model, {what}", eval_cmd(P(fname), good), 3, P(fname), phrases)
    case(f"checkpoint: train --init-from, {what}",
         train_cmd(good, "init-" + fname) + ["--init-from", P(fname)], 3, P(fname), phrases)
    case(f"checkpoint: train --resume, {what}",
         train_cmd(good, "res-" + fname) + ["--resume", P(fname)], 3, P(fname), phrases)
UNSEALED_OK = ["--allow-unsealed", "on"]
case("positive: inspect --allow-unsealed on, a checkpoint without a seal",
     ["inspect", *UNSEALED_OK, P("ck-unsealed.h5")], 0, None, [])
case("positive: eval --allow-unsealed on, a checkpoint without a seal",
     eval_cmd(P("ck-unsealed.h5"), good) + UNSEALED_OK, 0, None, [])
case("checkpoint: positive: train --init-from --allow-unsealed on, a checkpoint without a seal",
     train_cmd(good, "init-unsealed-ok") + ["--init-from", P("ck-unsealed.h5"), *UNSEALED_OK], 0,
     None, [])
case("checkpoint: positive: train --resume --allow-unsealed on, a checkpoint without a seal",
     train_cmd(good, "res-unsealed-ok") + ["--resume", P("ck-unsealed.h5"), *UNSEALED_OK], 0,
     None, [])
case("checkpoint: run dir whose only checkpoint has no seal",
     train_cmd(good, "unsealed"), 3, "step-000000000005.h5", ["none is valid", "no seal"])
case("checkpoint: inspect, flipped byte inside /optimizer/layer_1/weights (velocity)",
     ["inspect", P("ck-flip-velocity.h5")], 3, P("ck-flip-velocity.h5"), ["checksum", "fingerprint"])
case("checkpoint: resume skips a corrupt newest checkpoint (reported, status 0)",
     train_cmd(good, "mom") + ["--momentum", "0.5", "--epochs", "3"], 0, "step-000000000010.h5",
     ["checksum", "fingerprint", "damaged", "corrupt", "skip"])
case("checkpoint: run dir whose only checkpoint is damaged", train_cmd(good, "allbad"), 3,
     "step-000000000005.h5", ["none is valid", "no valid", "checksum", "damaged", "corrupt"])
case("checkpoint: train --init-from a missing file",
     train_cmd(good, "init-missing") + ["--init-from", P("ck-missing.h5")], 3, P("ck-missing.h5"),
     ["no such file", "cannot open", "not found", "does not exist"])


# ------------------------------------------------------------------ run
def names_file(err, path):
    """stderr names the file: its path as given, or at least its base name."""
    if path is None:
        return True
    return path in err or os.path.basename(path.split(":")[0]) in err and (
        ":" not in os.path.basename(path) or os.path.basename(path) in err)


failures = []
t_start = time.time()
n_run = 0
for name, argv, status, fname, phrases in CASES:
    if ONLY and ONLY not in name:
        continue
    needs_ck = name.startswith(("checkpoint:", "positive: inspect", "positive: eval")) or any(
        "run-good" in a for a in argv)
    if needs_ck and CK_READY is None:
        CK_READY = make_checkpoints()
    n_run += 1
    rc, out, err, secs = run(argv)
    if argv[0] == "inspect" or status == 0:
        # inspect reports validity on stdout ("valid: no / reason: ..."); a run that recovers
        # (skips a corrupt checkpoint) may log that on stdout
        err = out + err
    problems = []
    if rc == "timeout":
        problems.append(f"hung: no exit within {TIMEOUT} s (killed)")
    elif rc < 0:
        problems.append(f"killed by signal {signal.Signals(-rc).name} (crash)")
    elif rc != status:
        problems.append(f"exit status {rc}, expected {status}")
    if rc != "timeout" and (status != 0 or fname):
        if fname and not names_file(err, fname):
            problems.append(f"stderr does not name the file {fname!r}")
        if phrases and not any(ph.lower() in err.lower() for ph in phrases):
            problems.append("stderr mentions none of " + " | ".join(repr(x) for x in phrases))
        if status == 0:
            pass
        elif argv[0] == "inspect":
            if "valid: no" not in err:
                problems.append("inspect does not say 'valid: no'")
        elif "error" not in err.lower():
            problems.append("stderr has no 'error' line")
    tag = "ok  " if not problems else "FAIL"
    print(f"{tag} {name}  [{rc}, {secs:.1f}s]")
    if problems or VERBOSE:
        for pr in problems:
            print(f"       - {pr}")
        print("       $ paraprop " + " ".join(argv))
        for line in err.strip().splitlines()[:6]:
            print(f"       stderr: {line}")
    if problems:
        failures.append((name, argv, rc, err, problems))

print(f"\n{n_run} cases in {time.time() - t_start:.1f} s, {len(failures)} failed")
if failures:
    print("\nFAILED cases:")
    for name, argv, rc, err, problems in failures:
        print(f"  * {name}: {'; '.join(problems)}")
        print(f"      cd {W} && {BIN} {' '.join(argv)}")
        print(f"      -> status {rc}; stderr: {err.strip()[:300]}")
    sys.exit(1)
print("bad_files: all cases passed")
