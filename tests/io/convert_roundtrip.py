#!/usr/bin/python3
"""Round-trip check of `paraprop convert` (IDX and CSV -> HDF5 dataset).

usage: convert_roundtrip.py PARAPROP_BINARY SCRATCH_DIR [MNIST_DIR]

IDX: the 10k MNIST files (gzip'd, and an uncompressed copy gunzip'd into the
scratch dir) are converted and compared with a direct numpy reading of the IDX
bytes: pixels, labels, shapes, dtypes, scale = 1/255 and the root attributes.
CSV: generated files (with/without header, label column first / last / -1 /
middle, --classes, --test) are converted and the values compared exactly.
Exits non-zero with a list of every failed check.
"""
import gzip
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

if len(sys.argv) < 3:
    sys.exit("usage: convert_roundtrip.py PARAPROP_BINARY SCRATCH_DIR [MNIST_DIR]")
BIN = os.path.abspath(sys.argv[1])
SCRATCH = os.path.abspath(sys.argv[2])
MNIST = sys.argv[3] if len(sys.argv) > 3 else os.environ.get("PARAPROP_MNIST_DIR",
                                                              os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist"))
WORK = os.path.join(SCRATCH, "convert_roundtrip")
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)

failures = []


def check(cond, what):
    if cond:
        print(f"  ok   {what}")
    else:
        print(f"  FAIL {what}")
        failures.append(what)
    return cond


def run(args, expect=0):
    p = subprocess.run([BIN] + args, capture_output=True, text=True, timeout=120, cwd=WORK)
    ok = p.returncode == expect
    if not ok:
        print(f"  command: {BIN} {' '.join(args)}\n  status {p.returncode} (expected {expect})\n"
              f"  stdout: {p.stdout.strip()}\n  stderr: {p.stderr.strip()}")
    return ok, p


def read_idx(path):
    """Independent IDX reader: magic 0x0000 <type 0x08 = ubyte> <ndim>, big-endian dims."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    assert raw[0] == 0 and raw[1] == 0 and raw[2] == 0x08, f"{path}: not an unsigned-byte IDX file"
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    assert data.size == int(np.prod(dims)), f"{path}: size mismatch"
    return data.reshape(dims)


def attr_str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def check_common_attrs(f, name, classes, source_has):
    check(attr_str(f.attrs.get("format", b"")) == "paraprop-dataset", f"{name}: format attribute")
    fv = f.attrs.get("format_version", None)
    check(fv is not None and np.issubdtype(np.asarray(fv).dtype, np.integer) and int(fv) == 1,
          f"{name}: format_version is integer 1 (got {fv!r})")
    k = f.attrs.get("classes", None)
    check(k is not None and np.issubdtype(np.asarray(k).dtype, np.integer) and int(k) == classes,
          f"{name}: classes == {classes} (got {k!r})")
    src = attr_str(f.attrs.get("source", b""))
    check(source_has in src, f"{name}: source attribute {src!r} mentions {source_has!r}")


# ---------------------------------------------------------------- IDX
def idx_case(name, tri, trl, tei, tel):
    print(f"[idx] {name}")
    out = os.path.join(WORK, f"{name}.h5")
    ok, p = run(["convert", "idx", "--train-images", tri, "--train-labels", trl,
                 "--test-images", tei, "--test-labels", tel, "-o", out])
    if not check(ok and os.path.exists(out), f"{name}: convert exits 0 and writes the file"):
        return None
    with h5py.File(out, "r") as f:
        check_common_attrs(f, name, 10, os.path.basename(tri))
        for split, ip, lp in (("train", tri, trl), ("test", tei, tel)):
            img = read_idx(ip)
            lab = read_idx(lp)
            n = img.shape[0]
            X = f[f"{split}/inputs"]
            Y = f[f"{split}/labels"]
            check(X.shape == (n, 784), f"{name}: /{split}/inputs shape {X.shape} == ({n}, 784)")
            check(X.dtype == np.uint8, f"{name}: /{split}/inputs dtype uint8 (got {X.dtype})")
            check(Y.shape == (n,), f"{name}: /{split}/labels shape {Y.shape} == ({n},)")
            check(Y.dtype == np.int32, f"{name}: /{split}/labels dtype int32 (got {Y.dtype})")
            sc = X.attrs.get("scale", None)
            check(sc is not None and abs(float(sc) - 1.0 / 255.0) <= 1e-15,
                  f"{name}: /{split}/inputs scale == 1/255 (got {sc!r})")
            x = X[()]
            check(np.array_equal(x, img.reshape(n, -1)),
                  f"{name}: /{split}/inputs pixels identical to the IDX bytes (row-major 28x28)")
            check(np.array_equal(Y[()], lab.astype(np.int32)), f"{name}: /{split}/labels identical")
            check("targets" not in f[split], f"{name}: no /{split}/targets alongside labels")
    return out


tri = os.path.join(MNIST, "train10k-images-idx3-ubyte.gz")
trl = os.path.join(MNIST, "train10k-labels-idx1-ubyte.gz")
tei = os.path.join(MNIST, "t10k-images-idx3-ubyte.gz")
tel = os.path.join(MNIST, "t10k-labels-idx1-ubyte.gz")
for p_ in (tri, trl, tei, tel):
    if not os.path.exists(p_):
        sys.exit(f"convert_roundtrip: missing MNIST file {p_}")

gz_out = idx_case("mnist-gz", tri, trl, tei, tel)

raw = []
for p_ in (tri, trl, tei, tel):
    dst = os.path.join(WORK, os.path.basename(p_)[:-3])
    with gzip.open(p_, "rb") as s, open(dst, "wb") as d:
        shutil.copyfileobj(s, d)
    raw.append(dst)
raw_out = idx_case("mnist-raw", *raw)

if gz_out and raw_out:
    with h5py.File(gz_out, "r") as a, h5py.File(raw_out, "r") as b:
        same = all(np.array_equal(a[k][()], b[k][()]) for k in
                   ("train/inputs", "train/labels", "test/inputs", "test/labels"))
        check(same, "gzip'd and uncompressed IDX give identical datasets")

# train only (no test split)
print("[idx] train-only")
out = os.path.join(WORK, "train-only.h5")
ok, _ = run(["convert", "idx", "--train-images", raw[2], "--train-labels", raw[3], "-o", out])
if check(ok, "train-only convert exits 0"):
    with h5py.File(out, "r") as f:
        check("test" not in f, "train-only: no /test group")
        check(np.array_equal(f["train/labels"][()], read_idx(tel).astype(np.int32)),
              "train-only: labels identical")


# ---------------------------------------------------------------- CSV
rng = np.random.default_rng(12345)


def fmt(v):
    return repr(float(v))  # float32 values print exactly as float64 repr


def csv_case(name, n, d, k, label_col, header, extra_args=(), classes_expected=None, test_n=0,
             label_flag=True):
    print(f"[csv] {name}")
    ncol = d + 1
    pos = label_col % ncol
    data = {}
    files = {}
    for split, m in (("train", n), ("test", test_n)):
        if m == 0:
            continue
        X = (rng.standard_normal((m, d)) * 10).astype(np.float32)
        X[0, 0] = 0.0
        if d > 1:
            X[0, 1] = np.float32(-1.5e-3)
        y = rng.integers(0, k, size=m).astype(np.int32)
        y[-1] = k - 1  # make sure the largest class is present
        lines = []
        if header:
            lines.append(",".join(f"c{j}" for j in range(ncol)))
        for i in range(m):
            cells = [fmt(v) for v in X[i]]
            cells.insert(pos, str(int(y[i])))
            lines.append(",".join(cells))
        path = os.path.join(WORK, f"{name}-{split}.csv")
        with open(path, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        data[split] = (X, y)
        files[split] = path
    out = os.path.join(WORK, f"{name}.h5")
    args = ["convert", "csv", "--train", files["train"]]
    if "test" in files:
        args += ["--test", files["test"]]
    if label_flag:
        args += ["--label-column", str(label_col)]
    if header:
        args.append("--header")
    args += list(extra_args) + ["-o", out]
    ok, _ = run(args)
    if not check(ok and os.path.exists(out), f"{name}: convert exits 0 and writes the file"):
        return
    with h5py.File(out, "r") as f:
        check_common_attrs(f, name, classes_expected or k, os.path.basename(files["train"]))
        for split, (X, y) in data.items():
            Xi, Yi = f[f"{split}/inputs"], f[f"{split}/labels"]
            check(Xi.shape == X.shape, f"{name}: /{split}/inputs shape {Xi.shape} == {X.shape}")
            check(Xi.dtype == np.float32, f"{name}: /{split}/inputs float32 (got {Xi.dtype})")
            check(Yi.dtype == np.int32, f"{name}: /{split}/labels int32 (got {Yi.dtype})")
            check(Xi.shape == X.shape and np.array_equal(Xi[()], X),
                  f"{name}: /{split}/inputs values identical")
            check(np.array_equal(Yi[()], y), f"{name}: /{split}/labels identical")
        if not test_n:
            check("test" not in f, f"{name}: no /test group")


csv_case("csv-first-noheader", 50, 5, 3, 0, False)
csv_case("csv-first-default", 50, 5, 3, 0, False, label_flag=False)
csv_case("csv-first-header", 50, 5, 4, 0, True)
csv_case("csv-last-noheader", 40, 7, 2, -1, False)
csv_case("csv-last-header", 40, 7, 5, -1, True)
csv_case("csv-lastindex", 30, 3, 3, 3, False)
csv_case("csv-middle", 30, 4, 3, 2, True)
csv_case("csv-classes", 30, 4, 3, 0, False, extra_args=("--classes", "7"), classes_expected=7)
csv_case("csv-with-test", 60, 6, 3, -1, True, test_n=20)

# a file without a trailing newline and with CRLF line ends still converts
print("[csv] crlf-no-final-newline")
path = os.path.join(WORK, "crlf.csv")
with open(path, "wb") as fh:
    fh.write(b"1,0.25,2\r\n0,-1,3\r\n2,4,5")
out = os.path.join(WORK, "crlf.h5")
ok, _ = run(["convert", "csv", "--train", path, "-o", out])
if check(ok, "crlf: convert exits 0"):
    with h5py.File(out, "r") as f:
        check(np.array_equal(f["train/inputs"][()],
                             np.array([[0.25, 2], [-1, 3], [4, 5]], np.float32)), "crlf: inputs")
        check(np.array_equal(f["train/labels"][()], np.array([1, 0, 2], np.int32)), "crlf: labels")

# number forms: the converter's own decimal parser (the fast path) and strtod (the rest) must
# give what float32(strtod) gives: Python's float() is correctly rounded like strtod, and the
# converter rounds that double to float32 as numpy does. Random digit counts (1-25, past the
# fast path's 19), exponents (-45..38, past its 10^±22), signs, leading zeros, "5.", ".5",
# "1E+3", hex and "inf"-free forms strtod accepts.
print("[csv] number-forms")
rng = np.random.default_rng(2026)
def rand_number():
    digits = "".join(rng.choice(list("0123456789"), int(rng.integers(1, 26))))
    cut = int(rng.integers(0, len(digits) + 1))
    mant = digits[:cut] + ("." + digits[cut:] if rng.random() < 0.8 else digits[cut:])
    if mant.startswith(".") and rng.random() < 0.3:
        mant = "0" * int(rng.integers(1, 4)) + mant
    sign = rng.choice(["", "-", "+"], p=[0.6, 0.3, 0.1])
    if rng.random() < 0.5:
        return sign + mant
    return sign + mant + rng.choice(["e", "E"]) + rng.choice(["", "+", "-"]) + str(int(rng.integers(0, 46)))
fixed = ["0", "-0", "+0.0", "5.", ".5", "-.25", "1E+3", "1e-3", "0x1p3", "-0X1.8p-1",
         "9007199254740993", "9007199254740992e-22", "123456789012345678901234", "3.4e38",
         "1e-45", "0.000000000000000000000000000001", "1e22", "1e23", "4.5e15", "16777217",
         "0.1", "0.30000000000000004", "2.7182818284590452353602874713527", "  7 "]
# float32 midpoints, written as the shortest decimals that read back as them: a double one ulp
# off rounds them the other way, so they catch a fast path that is not correctly rounded
f = (rng.uniform(-4, 4, 3000) * np.log(10)).astype(np.float64)
f = (np.exp(f) * rng.choice([-1, 1], f.size)).astype(np.float32)
mids = [repr((float(a) + float(np.nextafter(a, np.float32(np.inf)))) / 2) for a in f]
nums = fixed + [rand_number() for _ in range(6000)] + mids
def value(t):
    t = t.strip()
    return float.fromhex(t) if "x" in t.lower() else float(t)
nums = [t for t in nums if abs(value(t)) < 3.4e38]
cols = 4
nums += ["1"] * (-len(nums) % cols)
rows = [nums[i:i + cols] for i in range(0, len(nums), cols)]
path = os.path.join(WORK, "forms.csv")
with open(path, "w") as fh:
    for i, r in enumerate(rows):
        fh.write(str(i % 3) + "," + ",".join(r) + "\n")
out = os.path.join(WORK, "forms.h5")
ok, _ = run(["convert", "csv", "--train", path, "--label-column", "0", "-o", out])
if check(ok, "number-forms: convert exits 0"):
    want = np.array([[np.float32(value(t)) for t in r] for r in rows], np.float32)
    with h5py.File(out, "r") as f:
        got = f["train/inputs"][()]
    bad = [(rows[i][j], got[i, j], want[i, j]) for i, j in zip(*np.nonzero(
        got.view(np.uint32) != want.view(np.uint32)))]
    check(not bad, f"number-forms: {len(nums)} values bit-equal to float32(strtod) {bad[:5]}")

print()
if failures:
    print(f"convert_roundtrip: {len(failures)} check(s) FAILED:")
    for f_ in failures:
        print(f"  - {f_}")
    sys.exit(1)
print("convert_roundtrip: all checks passed")
