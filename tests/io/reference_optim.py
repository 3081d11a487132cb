#!/usr/bin/python3
"""Optimizers, L1 and dropout agree step by step with the independent float64 numpy reference.

usage: reference_optim.py PARAPROP_BINARY SCRATCH_DIR

Makes a 96 x 8, 3-class CSV dataset, writes an initial 8,7,5,3 model with
`paraprop train --epochs 0`, then for each configuration (sgd + L1, momentum + L1 + L2,
nesterov, adam, adam + L2 + L1 with other betas, adamw, dropout with sgd and adam, exact
reduction, 2 ranks under every PARAPROP_REDUCE way the ranks' gradients can meet) trains paraprop for 2 epochs of batch 16 (12 steps) with --shuffle off
--init-from init/final.h5, replays the same steps with tools/reference_sgd.py (the dropout
masks recomputed in numpy from the documented Philox keys: seed, global step, training-set
index, layer, unit), and requires max|w_paraprop - w_ref| / max|w_ref| < 1e-5 over all weights
and biases, the same for every optimizer state stored in final.h5 (/optimizer/layer_<l>
velocity, /optimizer/m and /optimizer/v), and /optimizer's attributes name and t.
`paraprop predict` of the model trained with dropout must equal the plain forward pass of its
weights (no masks at prediction). Negative controls make sure the comparison notices a missing bias correction, masks of another
seed or step, and a missing L1 term.
"""
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

if len(sys.argv) < 3:
    sys.exit("usage: reference_optim.py PARAPROP_BINARY SCRATCH_DIR")
BIN = os.path.abspath(sys.argv[1])
SCRATCH = os.path.abspath(sys.argv[2])
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import reference_sgd as ref  # noqa: E402

W = os.path.join(SCRATCH, "reference_optim")
shutil.rmtree(W, ignore_errors=True)
os.makedirs(W)
TOL = 1e-5
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
LAYERS = "8,7,5,3"
N, D, K = 96, 8, 3
EPOCHS = 2
SEED = 5

failures = []


def run(argv, timeout=120, env=None):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=W,
                       env=dict(ENV, **(env or {})))
    if p.returncode != 0:
        return f"exit status {p.returncode}: {' '.join(argv)}\n    {p.stderr.strip()[:500]}"
    return None


# ---- data: K blobs in D dimensions, values exactly representable in float32
rng = np.random.default_rng(7)
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
    sys.exit(f"reference_optim: FAILED to convert the CSV: {err}")
init = os.path.join(W, "init")
err = run([BIN, "train", "--data", data, "--layers", LAYERS, "--epochs", "0", "--seed", str(SEED),
           "--progress", "off", "--run-dir", init])
if err:
    sys.exit(f"reference_optim: FAILED to write the initial model: {err}")
init_model = os.path.join(init, "final.h5")

# (name, hidden, output, cost, batch, ranks, reference keywords, extra paraprop options)
CONFIGS = [
    ("sgd + L1", "sigmoid", "softmax", "log-likelihood", 16, 1,
     dict(eta=0.5, lam1=3.0), []),
    ("momentum + L1 + L2", "tanh", "sigmoid", "cross-entropy", 16, 1,
     dict(eta=0.2, mu=0.9, lam=2.0, lam1=1.0), []),
    ("nesterov + L2", "sigmoid", "softmax", "log-likelihood", 16, 1,
     dict(optimizer="nesterov", eta=0.3, mu=0.8, lam=3.0), []),
    ("adam", "sigmoid", "softmax", "log-likelihood", 16, 1,
     dict(optimizer="adam", eta=0.01), []),
    ("adam + L2 + L1, beta1 0.8, beta2 0.99, epsilon 1e-6", "tanh", "softmax", "log-likelihood",
     16, 1, dict(optimizer="adam", eta=0.02, lam=2.0, lam1=0.5, beta1=0.8, beta2=0.99, eps=1e-6),
     []),
    ("adamw + L2 + L1", "relu", "softmax", "quadratic", 16, 1,
     dict(optimizer="adamw", eta=0.01, lam=5.0, lam1=0.5), []),
    ("dropout 0.3 (every hidden layer), sgd", "tanh", "softmax", "log-likelihood", 16, 1,
     dict(eta=0.5, dropout=[0.3, 0.3]), []),
    ("dropout 0.2,0.5, adam", "relu", "softmax", "log-likelihood", 16, 1,
     dict(optimizer="adam", eta=0.01, dropout=[0.2, 0.5]), []),
    ("dropout 0.4, nesterov + L1, exact", "sigmoid", "softmax", "log-likelihood", 16, 1,
     dict(optimizer="nesterov", eta=0.3, mu=0.5, lam1=1.0, dropout=[0.4, 0.4]),
     ["--reduction", "exact"]),
    # --clip-norm below the gradients' norm (about 1 here), so most steps are clipped
    ("clip-norm 0.05, sgd + momentum", "sigmoid", "softmax", "log-likelihood", 16, 1,
     dict(eta=0.5, mu=0.5, clip=0.05), []),
    ("clip-norm 0.05, adam, exact, 2 ranks", "tanh", "softmax", "log-likelihood", 16, 2,
     dict(optimizer="adam", eta=0.01, clip=0.05), ["--reduction", "exact"]),
] + [
    # every way the gradients of ranks meet (run/reduce.h): fast mode's factors and split share
    # the forward pass's workspace between ranks, so dropout must reach it there too
    (f"[2 ranks, PARAPROP_REDUCE={way}] dropout 0.3,0.1, adamw, batch 15", "sigmoid", "sigmoid",
     "cross-entropy", 15, 2, dict(optimizer="adamw", eta=0.02, lam=1.0, dropout=[0.3, 0.1],
                                  reduce=way), [])
    for way in ("mpi", "node", "factors", "split")
] + [
    (f"[2 ranks, PARAPROP_REDUCE={way}] dropout 0.25, adam, exact", "tanh", "softmax",
     "log-likelihood", 16, 2, dict(optimizer="adam", eta=0.01, dropout=[0.25, 0.25], reduce=way),
     ["--reduction", "exact"])
    for way in ("mpi", "node")
] + [
    # streamed, a rank gathers its rows by their place in its own buffer: the masks must still be
    # keyed by the training-set index (net.h, pp_workspace.keys)
    (f"[{r} rank(s), stream, PARAPROP_REDUCE={way}] dropout 0.3, adam{', exact' if ex else ''}",
     "tanh", "softmax", "log-likelihood", 16, r,
     dict(optimizer="adam", eta=0.01, dropout=[0.3, 0.3], reduce=way),
     ["--data-mode", "stream"] + (["--reduction", "exact"] if ex else []))
    for r, way, ex in ((1, "auto", False), (2, "factors", False), (2, "mpi", False),
                       (2, "node", True))
]


def argv_of(kw):
    a = ["--optimizer", kw.get("optimizer", "sgd"), "--learning-rate", repr(kw["eta"]),
         "--l2", repr(kw.get("lam", 0.0)), "--l1", repr(kw.get("lam1", 0.0))]
    if kw.get("optimizer", "sgd") in ("sgd", "nesterov"):
        a += ["--momentum", repr(kw.get("mu", 0.0))]
    else:
        a += ["--beta1", repr(kw.get("beta1", 0.9)), "--beta2", repr(kw.get("beta2", 0.999)),
              "--adam-epsilon", repr(kw.get("eps", 1e-8))]
    if kw.get("clip"):
        a += ["--clip-norm", repr(kw["clip"])]
    if kw.get("dropout"):
        d = kw["dropout"]
        a += ["--dropout", repr(d[0]) if len(set(d)) == 1 else ",".join(map(repr, d))]
    return a


def reference(acts, cost, B, kw, state=None, **override):
    k = dict(kw)
    k.update(override)
    return ref.train([w.copy() for w in W0], [b.copy() for b in b0], acts, cost, Xr, Yr, EPOCHS, B,
                     k["eta"], k.get("lam", 0.0), k.get("mu", 0.0), optimizer=k.get("optimizer", "sgd"),
                     lam1=k.get("lam1", 0.0), beta1=k.get("beta1", 0.9), beta2=k.get("beta2", 0.999),
                     eps=k.get("eps", 1e-8), dropout=k.get("dropout"), seed=k.get("seed", SEED),
                     state=state, bias_correction=k.get("bias_correction", True),
                     step_offset=k.get("step_offset", 0), clip=k.get("clip", 0.0))


def load_group(f, group, L):
    if f"{group}/layer_1" not in f:
        return None
    return ([f[f"{group}/layer_{l}/weights"][()].astype(np.float64) for l in range(1, L + 1)],
            [f[f"{group}/layer_{l}/biases"][()].astype(np.float64) for l in range(1, L + 1)])


sizes, W0, b0, _, _ = ref.load_params(init_model)
Xr, Yr = ref.load_split(data, "train")
L = len(sizes) - 1
results = {}
for idx, (name, hid, out, cost, B, ranks, kw, extra) in enumerate(CONFIGS):
    rundir = os.path.join(W, f"run{idx}")
    argv = [BIN, "train", "--data", data, "--layers", LAYERS, "--hidden-activation", hid,
            "--output-activation", out, "--cost", cost, "--epochs", str(EPOCHS),
            "--batch-size", str(B), "--seed", str(SEED), "--shuffle", "off", "--init-from",
            init_model, "--threads", "1", "--progress", "off", "--checkpoint-every", "none",
            "--run-dir", rundir] + argv_of(kw) + extra
    if ranks > 1:
        argv = ["mpiexec", "-n", str(ranks), "--oversubscribe", "--bind-to", "none"] + argv
    err = run(argv, env={"PARAPROP_REDUCE": kw.get("reduce", "auto")})
    if err:
        print(f"FAIL {name}: paraprop {err}")
        failures.append(name)
        continue
    acts = [hid] * (L - 1) + [out]
    state = {}
    Wr, br, _, _ = reference(acts, cost, B, kw, state)
    final = os.path.join(rundir, "final.h5")
    _, Wp, bp, _, _ = ref.load_params(final)
    rel, num, den = ref.relative_diff(Wr, br, Wp, bp)
    moved, _, _ = ref.relative_diff(Wr, br, W0, b0)
    msg = f"max|diff|/max|w| = {rel:.2e} (max|diff| {num:.2e}, max|w| {den:.2f}; moved {moved:.2f})"
    ok = rel < TOL and moved > 1e-2
    opt = kw.get("optimizer", "sgd")
    with h5py.File(final, "r") as f:
        g = f["optimizer"]
        name_attr = ref.decode(g.attrs.get("name", b"?"))
        t_attr = int(g.attrs.get("t", -1))
        want = {"velocity": ("optimizer", state["vW"], state["vb"])} \
            if opt == "nesterov" or kw.get("mu", 0) > 0 else {}
        if opt in ("adam", "adamw"):
            want = {"m": ("optimizer/m", state["mW"], state["mb"]),
                    "v": ("optimizer/v", state["sW"], state["sb"])}
        for what, (group, rW, rb) in want.items():
            got = load_group(f, group, L)
            if got is None:
                msg += f"; no /{group} in final.h5"
                ok = False
                continue
            srel, _, _ = ref.relative_diff(rW, rb, got[0], got[1])
            msg += f"; {what} {srel:.2e}"
            ok = ok and srel < TOL
    if name_attr != opt or t_attr != state["t"]:
        msg += f"; /optimizer name {name_attr!r} t {t_attr}, expected {opt!r} t {state['t']}"
        ok = False
    results[name] = (Wp, bp)
    print(f"{'ok  ' if ok else 'FAIL'} {name} [{ranks} rank(s), batch {B}]: {msg}")
    if not ok:
        failures.append(f"{name}: {msg}")


# ---- prediction drops nothing: paraprop predict of a model trained with dropout equals the
# plain numpy forward pass of its weights (the model holds no masks; evaluation applies none)
name = "dropout 0.2,0.5, adam"
if name in results:
    c = CONFIGS[[c_[0] for c_ in CONFIGS].index(name)]
    idx = [c_[0] for c_ in CONFIGS].index(name)
    pred = os.path.join(W, "pred.csv")
    err = run([BIN, "predict", "--model", os.path.join(W, f"run{idx}", "final.h5"), "--data", data,
               "--split", "train", "-o", pred])
    if err:
        failures.append(f"predict: {err}")
        print(f"FAIL predict after dropout training: {err}")
    else:
        got = np.loadtxt(pred, delimiter=",", skiprows=1)
        Wp, bp = results[name]
        As, _, _, _ = ref.forward(Wp, bp, [c[1]] * (L - 1) + [c[2]], Xr)
        rel = np.max(np.abs(got - As[-1])) / np.max(np.abs(As[-1]))
        ok = rel < TOL
        print(f"{'ok  ' if ok else 'FAIL'} predict after dropout training = forward pass without "
              f"masks ({rel:.2e})")
        if not ok:
            failures.append(f"predict drops units? ({rel:.2e})")

# ---- negative controls: each must differ from paraprop by far more than the tolerance
def control(name, what, **override):
    if name not in results:
        return
    c = CONFIGS[[c_[0] for c_ in CONFIGS].index(name)]
    Wr, br, _, _ = reference([c[1]] * (L - 1) + [c[2]], c[3], c[4], c[6], **override)
    rel, _, _ = ref.relative_diff(Wr, br, *results[name])
    ok = rel > 10 * TOL
    print(f"{'ok  ' if ok else 'FAIL'} negative control: {what} differs ({rel:.2e})")
    if not ok:
        failures.append(f"negative control ({what})")


control("sgd + L1", "the reference without L1", lam1=0.0)
control("dropout 0.2,0.5, adam", "masks of another seed", seed=SEED + 1)
control("dropout 0.2,0.5, adam", "masks of the next step", step_offset=1)
control("dropout 0.3 (every hidden layer), sgd", "no dropout", dropout=None)
control("adam", "Adam without bias correction", bias_correction=False)
control("adamw + L2 + L1", "Adam's coupled L2 instead of AdamW's decay", optimizer="adam")
control("clip-norm 0.05, sgd + momentum", "no clipping", clip=0.0)
control("clip-norm 0.05, adam, exact, 2 ranks", "no clipping", clip=0.0)

print()
if failures:
    print(f"reference_optim: {len(failures)} FAILED:")
    for f_ in failures:
        print(f"  - {f_}")
    sys.exit(1)
print("reference_optim: all configurations agree with the float64 reference")
