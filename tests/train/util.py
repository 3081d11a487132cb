"""Shared helpers of the training tests (issue 12): runs, synthetic data, metrics, checkpoints."""
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
ENV.pop("OMP_NUM_THREADS", None)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def scratch(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def run(bin_, args, ranks=1, expect=0, cwd=None):
    """Runs paraprop (under mpiexec when ranks > 1); returns (status, stdout, stderr)."""
    argv = [bin_] + args
    if ranks > 1:
        argv = ["mpiexec", "-n", str(ranks), "--oversubscribe", "--bind-to", "none"] + argv
    p = subprocess.run(argv, capture_output=True, text=True, env=ENV, cwd=cwd, timeout=300)
    if expect is not None and p.returncode != expect:
        fail(f"{' '.join(argv)}: status {p.returncode}, expected {expect}\n{p.stderr[-2000:]}")
    return p.returncode, p.stdout, p.stderr


def blobs(n, d, k, seed):
    """k Gaussian blobs in d dimensions (centres fixed, samples by seed), float32, labels int32."""
    c = np.random.default_rng(1).uniform(-1, 1, (k, d))
    r = np.random.default_rng(seed)
    y = r.integers(0, k, n).astype(np.int32)
    x = (c[y] + 0.5 * r.standard_normal((n, d))).astype(np.float32)
    return x, y


def write_csv(path, x, y):
    with open(path, "w") as f:
        for xi, yi in zip(x, y):
            f.write(str(int(yi)) + "," + ",".join("%.6f" % v for v in xi) + "\n")


def dataset(bin_, dirname, n_train, n_test, d, k, n_val=0):
    """A dataset file made by paraprop convert csv; n_val > 0 adds a /validation group (the last
    n_val of n_train + n_val training rows)."""
    x, y = blobs(n_train + n_val, d, k, 11)
    write_csv(os.path.join(dirname, "train.csv"), x, y)
    args = ["convert", "csv", "--train", os.path.join(dirname, "train.csv"), "--classes", str(k)]
    if n_test:
        xt, yt = blobs(n_test, d, k, 12)
        write_csv(os.path.join(dirname, "test.csv"), xt, yt)
        args += ["--test", os.path.join(dirname, "test.csv")]
    if n_val:
        args += ["--validation-count", str(n_val)]
    out = os.path.join(dirname, "d%d.h5" % n_val)
    run(bin_, args + ["-o", out])
    return out


def lines(run_dir, event):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [j for j in map(json.loads, f) if j.get("event") == event]


def fingerprint(stdout):
    fps = [l.split(": ", 1)[1] for l in stdout.splitlines() if l.startswith("fingerprint: ")]
    return fps[-1] if fps else None


def history(path):
    """The checkpoint's metrics history (full precision) and its /training_state attributes."""
    with h5py.File(path, "r") as f:
        m = {k: f["metrics"][k][()] for k in f["metrics"]}
        st = dict(f["training_state"].attrs) if "training_state" in f else {}
        attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in f.attrs.items()}
    return m, st, attrs
