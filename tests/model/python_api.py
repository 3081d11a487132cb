"""The Python package (python/paraprop) against paraprop itself: load (model and checkpoint,
metrics, config), verification (seal, fingerprint, bad files), predict vs `paraprop predict`,
to_torch and ONNX export within 1e-6 (skipped with a message when torch/onnx are missing), and
`pip install` from the checkout.
usage: python_api.py PARAPROP WORK_DIR   (PYTHONPATH must hold the repository's python/)"""
import glob
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

import paraprop

bin_, work = sys.argv[1], sys.argv[2]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
os.chdir(work)
env = dict(os.environ, OMP_NUM_THREADS="1")
def run(*a):
    r = subprocess.run([bin_, *a], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"paraprop {' '.join(a)}: status {r.returncode}\n{r.stdout}{r.stderr}")
    return r.stdout

rng = np.random.default_rng(3)
with open("train.csv", "w") as f:
    for _ in range(400):
        x = rng.uniform(-1, 1, 5)
        f.write(",".join(f"{v:.6f}" for v in x) + f",{np.sin(x[0]) + x[1] * x[2]:.6f},{x[3] - x[4]:.6f}\n")
run("convert", "csv", "--train", "train.csv", "--test", "train.csv", "--target-columns", "-2,-1",
    "-o", "reg.h5")
models = {}
for name, layers, hid, out, cost, data in (
        ("reg", "5,40,70,2", "tanh", "identity", "quadratic", "reg.h5"),
        ("relu", "5,24,2", "relu", "sigmoid", "quadratic", "reg.h5")):
    run("train", "--data", data, "--layers", layers, "--hidden-activation", hid,
        "--output-activation", out, "--cost", cost, "--epochs", "3", "--batch-size", "10",
        "--momentum", "0.5", "--run-dir", name, "--progress", "off")
    models[name] = f"{name}/final.h5"
# a classifier with softmax (labels in column 0)
with open("cls.csv", "w") as f:
    for i in range(300):
        c = i % 3
        f.write(f"{c}," + ",".join(f"{c + rng.normal(0, 0.7):.5f}" for _ in range(6)) + "\n")
run("convert", "csv", "--train", "cls.csv", "--test", "cls.csv", "-o", "cls.h5")
run("train", "--data", "cls.h5", "--layers", "6,30,3", "--epochs", "2", "--run-dir", "cls",
    "--progress", "off")
models["cls"] = "cls/final.h5"

failures = []
def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)

outputs = {}
for name, path in models.items():
    m = paraprop.load(path)
    data = {"reg": "reg.h5", "relu": "reg.h5", "cls": "cls.h5"}[name]
    run("predict", "--model", path, "--data", data, "-o", f"{name}-pred.h5")
    with h5py.File(f"{name}-pred.h5") as f:
        ref = f["outputs"][()]
    with h5py.File(data) as d:
        x = d["test/inputs"][()]
    outputs[name] = (m, x, ref)
    inspect = run("inspect", path)
    check(m.fingerprint in inspect and m.sealed, f"{name}: fingerprint {m.fingerprint[:12]}… as inspect prints, seal verified")
    check(m.layer_sizes == [int(v) for v in m.config["layers"].split(",")], f"{name}: layer sizes {m.layer_sizes} = config")
    check(len(m.metrics["train_loss"]) == m.epoch == int(m.config["epochs"]), f"{name}: metrics history of {m.epoch} epochs")
    err = np.abs(m.predict(x) - ref).max()
    check(err <= 1e-6, f"{name}: predict vs paraprop predict: max |diff| {err:.2e} <= 1e-6")
    check(np.array_equal(m.predict(x[0]), m.predict(x[:1])[0]), f"{name}: one row = a batch of one")

# an unsealed copy (as h5py writes files): refused unless verify=False
with h5py.File("unsealed.h5", "w") as dst, h5py.File(models["cls"]) as src_:
    for k, v in src_.attrs.items():
        dst.attrs[k] = v
    for k in src_:
        src_.copy(k, dst)
try:
    paraprop.load("unsealed.h5")
    check(False, "unsealed.h5: refused")
except paraprop.ModelError as e:
    check("no seal" in str(e), f"unsealed.h5: refused: {e}")
u = paraprop.load("unsealed.h5", verify=False)
check(not u.sealed and u.fingerprint == paraprop.load(models["cls"]).fingerprint,
      "unsealed.h5 with verify=False: loads, same parameters")

# a checkpoint is a model too, with its position
ck = sorted(glob.glob("reg/checkpoints/step-*.h5"))[-1]
c = paraprop.load(ck)
check(c.fingerprint == paraprop.load(models["reg"]).fingerprint and c.global_step > 0,
      f"checkpoint {os.path.basename(ck)}: same parameters as final.h5, global step {c.global_step}")

# bad files: clean errors that name the file
good = open(models["reg"], "rb").read()
bad = {"truncated.h5": good[:3000], "text.h5": b"not hdf5\n",
       "damaged.h5": good[:len(good) // 2] + bytes([good[len(good) // 2] ^ 0x5A]) + good[len(good) // 2 + 1:]}
flip = lambda b, at: b[:at] + bytes([b[at] ^ 0x20]) + b[at + 1:]
# the seal fails closed as paraprop's does: one damaged header copy is survived, two are not
bad["seal-both-copies.h5"] = flip(flip(good, 7), 2048 + 7)
open("seal-one-copy.h5", "wb").write(flip(good, 7))
check(paraprop.load("seal-one-copy.h5").sealed, "one damaged seal copy: verified by the other")
for fname, content in bad.items():
    open(fname, "wb").write(content)
for fname in (*bad, "reg.h5", "missing.h5"):
    try:
        paraprop.load(fname)
        check(False, f"{fname}: refused")
    except paraprop.ModelError as e:
        check(fname in str(e), f"{fname}: refused: {e}")

try:
    import torch
except ImportError:
    torch = None
    print("SKIP to_torch and export_onnx: torch is not installed (Debian: apt-get install python3-torch)")
if torch is not None:
    for name, (m, x, ref) in outputs.items():
        net = m.to_torch()
        with torch.no_grad():
            y = net(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()
        err = np.abs(y - ref).max()
        check(err <= 1e-6, f"{name}: to_torch vs paraprop predict: max |diff| {err:.2e} <= 1e-6")
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        onnx = None
        print("SKIP ONNX agreement: onnx is not installed (Debian: apt-get install python3-onnx)")
    if onnx is not None:
        # No ONNX runtime in Debian 12 and onnx 1.12 has no reference evaluator: the graph is
        # checked by onnx.checker and run by this small interpreter of the operators it uses.
        def run_onnx(model, x):
            vals = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
            vals[model.graph.input[0].name] = x.astype(np.float64)
            for node in model.graph.node:
                a = {at.name: onnx.helper.get_attribute_value(at) for at in node.attribute}
                i = [vals[n] for n in node.input]
                op = node.op_type
                if op == "Gemm":
                    A = i[0].T if a.get("transA") else i[0]
                    B = i[1].T if a.get("transB") else i[1]
                    r = a.get("alpha", 1.0) * A @ B + (a.get("beta", 1.0) * i[2] if len(i) > 2 else 0)
                elif op == "MatMul": r = i[0] @ i[1]
                elif op == "Add": r = i[0] + i[1]
                elif op == "Sigmoid": r = 1 / (1 + np.exp(-i[0]))
                elif op == "Tanh": r = np.tanh(i[0])
                elif op == "Relu": r = np.maximum(i[0], 0)
                elif op == "Identity": r = i[0]
                elif op == "Softmax":
                    e = np.exp(i[0] - i[0].max(axis=a.get("axis", -1), keepdims=True))
                    r = e / e.sum(axis=a.get("axis", -1), keepdims=True)
                else:
                    raise RuntimeError(f"operator {op} not handled by the test's interpreter")
                vals[node.output[0]] = r
            return vals[model.graph.output[0].name]
        for name, (m, x, ref) in outputs.items():
            path = m.export_onnx(f"{name}.onnx")
            g = onnx.load(path)
            onnx.checker.check_model(g)
            ops = [n.op_type for n in g.graph.node]
            check(ops.count("Gemm") == len(m.weights), f"{name}.onnx: passes onnx.checker, operators {ops}")
            err = np.abs(run_onnx(g, x) - ref).max()
            check(err <= 1e-6, f"{name}.onnx vs paraprop predict: max |diff| {err:.2e} <= 1e-6")

# installable with pip from the checkout (offline: no build isolation, no dependencies fetched)
# (from a copy: setuptools writes build/ and *.egg-info/ beside the sources)
src = shutil.copytree(os.path.join(os.path.dirname(os.path.abspath(paraprop.__file__)), ".."),
                      "pkg-src", ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                    "--no-index", "--target", "site", "./" + src], capture_output=True, text=True)
check(r.returncode == 0, "pip install ./python" + ("" if r.returncode == 0 else ": " + r.stderr[-800:]))
r = subprocess.run([sys.executable, "-c", "import paraprop, sys; print(paraprop.__file__); "
                    f"print(paraprop.load({models['cls']!r}).layer_sizes)"],
                   capture_output=True, text=True, env=dict(os.environ, PYTHONPATH="site"))
check(r.returncode == 0 and "site/paraprop" in r.stdout and "[6, 30, 3]" in r.stdout,
      f"the installed package imports and loads: {r.stdout.split()}{r.stderr[-300:]}")
if failures:
    sys.exit(f"{len(failures)} check(s) failed")
print("PASS python")
