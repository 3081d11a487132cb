#!/usr/bin/python3
"""paraprop's trained weights agree with an independent float64 numpy reference.

usage: reference_check.py PARAPROP_BINARY SCRATCH_DIR

Makes a 200 x 8, 3-class CSV dataset, writes an initial 8,7,5,3 model with
`paraprop train --epochs 0`, then for several configurations (each output/cost
pair, L2, momentum, exact reduction) trains paraprop for 3 epochs with
--shuffle off --init-from init/final.h5 --threads 1 and batch 16 (200 = 12*16 + 8:
an uneven last batch), runs tools/reference_sgd.py from the same start and
requires max|w_paraprop - w_ref| / max|w_ref| < 1e-4 over all weights and biases
(and over the momentum velocities when present). Two configurations also run
on 2 MPI ranks (one with a batch of 15: uneven shards 8 + 7 and a last batch of 5).
Two negative controls make sure the comparison can fail.
"""
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

if len(sys.argv) < 3:
    sys.exit("usage: reference_check.py PARAPROP_BINARY SCRATCH_DIR")
BIN = os.path.abspath(sys.argv[1])
SCRATCH = os.path.abspath(sys.argv[2])
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import reference_sgd as ref  # noqa: E402

W = os.path.join(SCRATCH, "reference_check")
shutil.rmtree(W, ignore_errors=True)
os.makedirs(W)
TOL = 1e-4
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
LAYERS = "8,7,5,3"
N, D, K = 200, 8, 3
EPOCHS = 3

failures = []


def run(argv, timeout=120):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=W, env=ENV)
    if p.returncode != 0:
        return f"exit status {p.returncode}: {' '.join(argv)}\n    {p.stderr.strip()[:500]}"
    return None


# ---- data: K blobs in D dimensions, values exactly representable in float32
rng = np.random.default_rng(2024)
centres = rng.standard_normal((K, D))
y = rng.integers(0, K, N)
X = (centres[y] + 0.7 * rng.standard_normal((N, D))).astype(np.float32)
csv = os.path.join(W, "blobs.csv")
with open(csv, "w") as f:
    for i in range(N):
        f.write(f"{y[i]}," + ",".join(repr(float(v)) for v in X[i]) + "\n")
data = os.path.join(W, "blobs.h5")
err = run([BIN, "convert", "csv", "--train", csv, "-o", data])
if err:
    sys.exit(f"reference_check: FAILED to convert the CSV: {err}")
init = os.path.join(W, "init")
err = run([BIN, "train", "--data", data, "--layers", LAYERS, "--epochs", "0", "--seed", "5",
           "--progress", "off", "--run-dir", init])
if err:
    sys.exit(f"reference_check: FAILED to write the initial model: {err}")
init_model = os.path.join(init, "final.h5")

# (name, hidden, output, cost, eta, l2, momentum, extra paraprop options, batch, ranks)
CONFIGS = [
    ("sigmoid/softmax/log-likelihood", "sigmoid", "softmax", "log-likelihood", 0.5, 0, 0, [], 16, 1),
    ("tanh/sigmoid/cross-entropy", "tanh", "sigmoid", "cross-entropy", 0.5, 0, 0, [], 16, 1),
    ("sigmoid/sigmoid/quadratic", "sigmoid", "sigmoid", "quadratic", 2.0, 0, 0, [], 16, 1),
    ("tanh/tanh/quadratic", "tanh", "tanh", "quadratic", 0.2, 0, 0, [], 16, 1),
    ("relu/identity/quadratic", "relu", "identity", "quadratic", 0.02, 0, 0, [], 16, 1),
    ("sigmoid/softmax/quadratic (softmax Jacobian)", "sigmoid", "softmax", "quadratic", 2.0, 0, 0,
     [], 16, 1),
    ("log-likelihood + L2", "sigmoid", "softmax", "log-likelihood", 0.5, 5.0, 0, [], 16, 1),
    ("cross-entropy + L2 + momentum", "tanh", "sigmoid", "cross-entropy", 0.1, 2.0, 0.9, [], 16, 1),
    ("quadratic + momentum", "relu", "sigmoid", "quadratic", 0.5, 0, 0.5, [], 16, 1),
    ("log-likelihood + L2 + momentum, exact", "sigmoid", "softmax", "log-likelihood", 0.3, 1.0,
     0.8, ["--reduction", "exact"], 16, 1),
    ("[2 ranks] cross-entropy + L2 + momentum", "tanh", "sigmoid", "cross-entropy", 0.1, 2.0, 0.9,
     [], 16, 2),
    ("[2 ranks] log-likelihood, batch 15, exact", "sigmoid", "softmax", "log-likelihood", 0.5, 0,
     0, ["--reduction", "exact"], 15, 2),
]


def load_velocity(path, L):
    with h5py.File(path, "r") as f:
        if "optimizer" not in f:
            return None
        return ([f[f"optimizer/layer_{l}/weights"][()].astype(np.float64) for l in range(1, L + 1)],
                [f[f"optimizer/layer_{l}/biases"][()].astype(np.float64) for l in range(1, L + 1)])


sizes, W0, b0, _, _ = ref.load_params(init_model)
Xr, Yr = ref.load_split(data, "train")
L = len(sizes) - 1
results = {}
for idx, (name, hid, out, cost, eta, l2, mu, extra, B, ranks) in enumerate(CONFIGS):
    rundir = os.path.join(W, f"run{idx}")
    argv = [BIN, "train", "--data", data, "--layers", LAYERS, "--hidden-activation", hid,
            "--output-activation", out, "--cost", cost, "--epochs", str(EPOCHS),
            "--batch-size", str(B), "--learning-rate", repr(eta), "--l2", repr(l2),
            "--momentum", repr(mu), "--shuffle", "off", "--init-from", init_model,
            "--threads", "1", "--progress", "off", "--run-dir", rundir] + extra
    if ranks > 1:
        argv = ["mpiexec", "-n", str(ranks), "--oversubscribe", "--bind-to", "none"] + argv
    err = run(argv)
    if err:
        print(f"FAIL {name}: paraprop {err}")
        failures.append(name)
        continue
    acts = [hid] * (L - 1) + [out]
    Wr, br, vW, vb = ref.train([w.copy() for w in W0], [b.copy() for b in b0], acts, cost, Xr, Yr,
                               EPOCHS, B, eta, l2, mu)
    _, Wp, bp, _, _ = ref.load_params(os.path.join(rundir, "final.h5"))
    rel, num, den = ref.relative_diff(Wr, br, Wp, bp)
    moved, _, _ = ref.relative_diff(Wr, br, W0, b0)
    msg = f"max|diff|/max|w| = {rel:.2e} (max|diff| {num:.2e}, max|w| {den:.2f}; moved {moved:.2f})"
    ok = rel < TOL and moved > 1e-2
    if mu > 0:
        vel = load_velocity(os.path.join(rundir, "final.h5"), L)
        if vel is None:
            msg += "; no /optimizer velocity in final.h5"
            ok = False
        else:
            vrel, _, _ = ref.relative_diff(vW, vb, vel[0], vel[1])
            msg += f"; velocity {vrel:.2e}"
            ok = ok and vrel < TOL
    results[name] = (Wp, bp)
    print(f"{'ok  ' if ok else 'FAIL'} {name} [{ranks} rank(s), batch {B}]: {msg}")
    if not ok:
        failures.append(f"{name}: {msg}")

# ---- negative controls: the comparison must notice a wrong batch average or a missing L2 term
name = "log-likelihood + L2"
if name in results:
    Wp, bp = results[name]
    c = CONFIGS[[c_[0] for c_ in CONFIGS].index(name)]
    Wr, br, _, _ = ref.train([w.copy() for w in W0], [b.copy() for b in b0],
                             [c[1]] * (L - 1) + [c[2]], c[3], Xr, Yr, EPOCHS, 16, c[4], 0.0, 0.0)
    rel, _, _ = ref.relative_diff(Wr, br, Wp, bp)
    ok = rel > 10 * TOL
    print(f"{'ok  ' if ok else 'FAIL'} negative control: reference without L2 differs ({rel:.2e})")
    if not ok:
        failures.append("negative control (L2)")
name = "sigmoid/softmax/log-likelihood"
if name in results:
    Wp, bp = results[name]
    # average the last batch (8 samples) over 16 instead of 8: emulate by scaling its gradient
    Wr, br = [w.copy() for w in W0], [b.copy() for b in b0]
    acts = ["sigmoid"] * (L - 1) + ["softmax"]
    for e in range(EPOCHS):
        for s in range(0, N, 16):
            n = min(16, N - s)
            Wn, bn, _, _ = ref.train([w.copy() for w in Wr], [b.copy() for b in br], acts,
                                     "log-likelihood", Xr[s:s + n], Yr[s:s + n], 1, n, 0.5 * n / 16,
                                     0.0, 0.0)
            Wr, br = Wn, bn
    rel, _, _ = ref.relative_diff(Wr, br, Wp, bp)
    ok = rel > 10 * TOL
    print(f"{'ok  ' if ok else 'FAIL'} negative control: last batch averaged over B differs "
          f"({rel:.2e})")
    if not ok:
        failures.append("negative control (last batch)")

print()
if failures:
    print(f"reference_check: {len(failures)} FAILED:")
    for f_ in failures:
        print(f"  - {f_}")
    sys.exit(1)
print("reference_check: all configurations agree with the float64 reference")
