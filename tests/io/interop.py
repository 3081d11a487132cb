#!/usr/bin/python3
"""docs/INTEROP.md's Python snippets agree with paraprop.

usage: interop.py PARAPROP_BINARY SCRATCH_DIR [MNIST_DIR]

Converts the MNIST 10k files, trains 784,30,10 for one epoch, then runs the
fenced ```python blocks of docs/INTEROP.md (extracted from the doc, so doc and
test cannot drift):
  block 1 (accuracy) must print the accuracy `paraprop eval` prints, to 4
          decimals, on the test and on the train split;
  block 2 (fingerprint) must reproduce the `fingerprint` attribute of
          final.h5 and of every checkpoint, which must also equal the one
          `paraprop inspect` / `paraprop eval` print.
Also checks the file layout the doc promises (layer_sizes vs weight shapes,
activations, cost, metrics).
"""
import hashlib
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np

if len(sys.argv) < 3:
    sys.exit("usage: interop.py PARAPROP_BINARY SCRATCH_DIR [MNIST_DIR]")
BIN = os.path.abspath(sys.argv[1])
SCRATCH = os.path.abspath(sys.argv[2])
MNIST = sys.argv[3] if len(sys.argv) > 3 else os.environ.get("PARAPROP_MNIST_DIR",
                                                              os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist"))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "INTEROP.md")
W = os.path.join(SCRATCH, "interop")
shutil.rmtree(W, ignore_errors=True)
os.makedirs(W)
PY = sys.executable or "/usr/bin/python3"

failures = []


def check(cond, what):
    print(f"  {'ok  ' if cond else 'FAIL'} {what}")
    if not cond:
        failures.append(what)
    return cond


def run(argv, timeout=300):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=W)
    if p.returncode != 0:
        sys.exit(f"interop: FAILED: {' '.join(argv)}\n  exit status {p.returncode}\n"
                 f"  stdout: {p.stdout.strip()}\n  stderr: {p.stderr.strip()}")
    return p.stdout


# ---- the snippets from the doc
text = open(DOC, encoding="utf-8").read()
blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
if len(blocks) < 3:
    sys.exit(f"interop: FAILED: {DOC} should hold three ```python blocks, found {len(blocks)}")
acc_py = os.path.join(W, "accuracy.py")
fp_py = os.path.join(W, "fingerprint.py")
open(acc_py, "w").write(blocks[0])
open(fp_py, "w").write(blocks[1])
print(f"snippets: accuracy {len(blocks[0].splitlines())} lines, "
      f"fingerprint {len(blocks[1].splitlines())} lines")

# ---- data and a tiny model
data = os.path.join(W, "mnist.h5")
run([BIN, "convert", "idx",
     "--train-images", os.path.join(MNIST, "train10k-images-idx3-ubyte.gz"),
     "--train-labels", os.path.join(MNIST, "train10k-labels-idx1-ubyte.gz"),
     "--test-images", os.path.join(MNIST, "t10k-images-idx3-ubyte.gz"),
     "--test-labels", os.path.join(MNIST, "t10k-labels-idx1-ubyte.gz"), "-o", data])
rundir = os.path.join(W, "run")
train_out = run([BIN, "train", "--data", data, "--layers", "784,30,10", "--epochs", "1",
                 "--progress", "off", "--checkpoint-every", "300steps", "--run-dir", rundir])
final = os.path.join(rundir, "final.h5")
check(os.path.exists(final), "train wrote RUN/final.h5")

# ---- accuracy: snippet vs paraprop eval
for split in ("test", "train"):
    ev = run([BIN, "eval", "--model", final, "--data", data, "--split", split])
    m = re.search(r"^accuracy:\s*([0-9.]+)", ev, flags=re.M)
    sn = run([PY, acc_py, final, data, split])
    s = re.search(r"accuracy:\s*([0-9.]+)", sn)
    if not (check(m is not None, f"[{split}] paraprop eval prints 'accuracy:'") and
            check(s is not None, f"[{split}] the snippet prints 'accuracy:'")):
        continue
    a_eval, a_snip = float(m.group(1)), float(s.group(1))
    check(f"{a_snip:.4f}" == m.group(1)[:6] and abs(a_snip - a_eval) < 5.1e-5,
          f"[{split}] snippet accuracy {a_snip:.6f} == paraprop eval {m.group(1)}")
    check(0.5 < a_eval <= 1.0, f"[{split}] the model learned something (accuracy {a_eval})")
    if split == "test":
        mt = re.search(r"test accuracy:\s*([0-9.]+)", train_out)
        check(mt is not None and mt.group(1) == m.group(1)[:len(mt.group(1))],
              f"train's final 'test accuracy' {mt.group(1) if mt else None} == eval's {m.group(1)}")
        with h5py.File(final, "r") as f:
            ta = float(f["metrics/test_accuracy"][-1])
        check(f"{ta:.4f}" == m.group(1)[:6], f"/metrics/test_accuracy[-1] {ta:.6f} == eval's")

# ---- layout the doc promises
with h5py.File(final, "r") as f:
    a = f.attrs
    dec = lambda v: v.decode() if isinstance(v, bytes) else str(v)
    check(dec(a["format"]) == "paraprop-checkpoint" and int(a["format_version"]) == 1 and
          int(a["complete"]) == 1, "format / format_version / complete")
    for k in ("epoch", "step", "samples_seen", "seed", "batch_size", "reduction", "config",
              "fingerprint", "precision"):
        check(k in a, f"root attribute '{k}' present")
    check(int(a["epoch"]) == 1 and int(a["samples_seen"]) == 10000,
          f"epoch {a['epoch']} == 1, samples_seen {a['samples_seen']} == 10000")
    sizes = f["model/layer_sizes"][()]
    check(list(sizes) == [784, 30, 10] and sizes.dtype == np.int32, f"layer_sizes {list(sizes)}")
    acts = [dec(s) for s in f["model/activations"][()]]
    check(acts == ["sigmoid", "softmax"], f"activations {acts}")
    check(dec(f["model/cost"][()]) == "log-likelihood", "cost log-likelihood")
    for l in (1, 2):
        w, b = f[f"model/layer_{l}/weights"], f[f"model/layer_{l}/biases"]
        check(w.shape == (sizes[l], sizes[l - 1]) and b.shape == (sizes[l],),
              f"layer_{l} weights {w.shape}, biases {b.shape}")
        check(w.dtype == np.dtype(dec(a["precision"])), f"layer_{l} dtype {w.dtype} == precision")
    for k in ("epoch", "train_loss", "test_loss", "test_accuracy", "seconds", "samples_per_s"):
        check(f"metrics/{k}" in f and f[f"metrics/{k}"].shape == (1,), f"/metrics/{k} has 1 entry")

# ---- fingerprints
ev_fp = re.search(r"fingerprint ([0-9a-f]{64})", run([BIN, "eval", "--model", final, "--data", data]))
files = [final] + sorted(os.path.join(rundir, "checkpoints", c)
                         for c in os.listdir(os.path.join(rundir, "checkpoints")))
check(len(files) >= 3, f"{len(files) - 1} checkpoint(s) besides final.h5 (every 300 steps, keep 3)")
for path in files:
    name = os.path.relpath(path, W)
    with h5py.File(path, "r") as f:
        stored = f.attrs["fingerprint"]
        stored = stored.decode() if isinstance(stored, bytes) else str(stored)
        h = hashlib.sha256()  # independent of the doc's snippet
        for l in range(1, len(f["model/layer_sizes"])):
            for part in ("weights", "biases"):
                h.update(np.ascontiguousarray(f[f"model/layer_{l}/{part}"][()]).astype("<f4" if
                         f[f"model/layer_{l}/{part}"].dtype == np.float32 else "<f8").tobytes())
    check(h.hexdigest() == stored, f"{name}: sha256 of W1,b1,W2,b2 == fingerprint attribute")
    out = run([PY, fp_py, path])
    check(f"fingerprint: {stored} (matches" in out, f"{name}: doc snippet reproduces it")
    ins = re.search(r"^fingerprint: ([0-9a-f]{64})", run([BIN, "inspect", path]), flags=re.M)
    check(ins is not None and ins.group(1) == stored, f"{name}: paraprop inspect prints it")
with h5py.File(final, "r") as f:
    final_fp = f.attrs["fingerprint"]
    final_fp = final_fp.decode() if isinstance(final_fp, bytes) else str(final_fp)
check(ev_fp is not None and ev_fp.group(1) == final_fp and final_fp in train_out,
      "paraprop eval and paraprop train print final.h5's fingerprint")

# ---- datasets written by other tools: block 3 (variable-length string attributes, uint8 + scale)
# and a float32 variant with fixed-length (NULLPAD, h5py np.bytes_) string attributes
ns = {}
exec(compile(blocks[2], f"{DOC} (block 3)", "exec"), ns)
with h5py.File(data, "r") as f:
    xtr, ytr = f["train/inputs"][()], f["train/labels"][()]
    xte, yte = f["test/inputs"][()], f["test/labels"][()]
    scale = float(f["train/inputs"].attrs["scale"])
ref_eval = run([BIN, "eval", "--model", final, "--data", data])
ref_acc = re.search(r"^accuracy:\s*([0-9.]+)", ref_eval, flags=re.M)
vlen = os.path.join(W, "h5py-vlen-u8.h5")
ns["write_dataset"](vlen, xtr, ytr, xte, yte, scale=scale)
fixed = os.path.join(W, "h5py-fixed-f32.h5")
ns["write_dataset"](fixed, (xtr * scale).astype(np.float32), ytr, (xte * scale).astype(np.float32),
                    yte, classes=10)
with h5py.File(fixed, "r+") as f:
    for k in ("format", "source"):
        v = f.attrs[k]
        f.attrs[k] = np.bytes_(v if isinstance(v, bytes) else v.encode())  # fixed length, no NUL
for path, what in ((vlen, "doc's writer: vlen string attributes, uint8 + scale"),
                   (fixed, "fixed-length NULLPAD string attributes, float32")):
    p = subprocess.run([BIN, "eval", "--model", final, "--data", path], capture_output=True,
                       text=True, timeout=120, cwd=W)
    m = re.search(r"^accuracy:\s*([0-9.]+)", p.stdout, flags=re.M)
    check(p.returncode == 0 and m is not None and ref_acc is not None
          and m.group(1) == ref_acc.group(1),
          f"paraprop eval on a dataset written by h5py ({what}): status {p.returncode}, "
          f"accuracy {m.group(1) if m else None} == {ref_acc.group(1) if ref_acc else None}"
          + ("" if p.returncode == 0 else f" -- stderr: {p.stderr.strip()[:200]}"))

print()
if failures:
    print(f"interop: {len(failures)} check(s) FAILED:")
    for f_ in failures:
        print(f"  - {f_}")
    sys.exit(1)
print("interop: all checks passed")
