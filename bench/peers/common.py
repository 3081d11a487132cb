"""Shared pieces of the paraprop benchmark peers (numpy_mlp.py, torch_mlp.py).

Workload definitions, the Fashion-MNIST IDX reader and the JSON record.
Only the Python standard library and numpy are needed here.
"""
import gzip
import json
import os
import platform
import struct
import sys

import numpy as np

DATA_DIR = "/usr/share/datasets/fashion-mnist"
N_TRAIN = 60000

# name -> definition; must match bench/run.sh and bench/report.py
WORKLOADS = {
    "W1": dict(layers=[784, 30, 10], hidden="sigmoid", output="sigmoid",
               cost="cross-entropy", lr=0.5, momentum=0.0, batch=10),
    "W2": dict(layers=[784, 256, 256, 10], hidden="relu", output="softmax",
               cost="log-likelihood", lr=0.1, momentum=0.9, batch=128),
    "W3": dict(layers=[784, 2048, 2048, 10], hidden="relu", output="softmax",
               cost="log-likelihood", lr=0.1, momentum=0.0, batch=256),
}


def flop_per_sample(layers):
    """GEMM FLOP per training sample: forward 2*in*out per layer, weight
    gradient 2*in*out per layer, input gradient 2*in*out for every layer
    but the first.  Bias, activation and update work is not counted."""
    pairs = list(zip(layers[:-1], layers[1:]))
    f = sum(4 * i * o for i, o in pairs)
    f += sum(2 * i * o for i, o in pairs[1:])
    return f


assert flop_per_sample(WORKLOADS["W1"]["layers"]) == 95880
assert flop_per_sample(WORKLOADS["W2"]["layers"]) == 1211392
assert flop_per_sample(WORKLOADS["W3"]["layers"]) == 31711232


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def load_train(data_dir=None):
    """Fashion-MNIST training set: X float32 (60000, 784) in [0,1], y int64."""
    d = data_dir or os.environ.get("FASHION_MNIST_DIR", DATA_DIR)
    x = _read_idx(os.path.join(d, "train-images-idx3-ubyte.gz"))
    y = _read_idx(os.path.join(d, "train-labels-idx1-ubyte.gz"))
    x = x.reshape(x.shape[0], -1).astype(np.float32) / np.float32(255.0)
    return np.ascontiguousarray(x, dtype=np.float32), y.astype(np.int64)


def batches(n, batch):
    """(start, stop) of each mini-batch of one epoch; the last may be short."""
    return [(s, min(s + batch, n)) for s in range(0, n, batch)]


def median(xs):
    s = sorted(xs)
    m = len(s) // 2
    return s[m] if len(s) % 2 else 0.5 * (s[m - 1] + s[m])


def emit(record):
    record.setdefault("python", platform.python_version())
    print(json.dumps(record, sort_keys=False))
    sys.stdout.flush()


def blas_info():
    """What threadpoolctl sees (BLAS/OpenMP libraries, kernels, threads)."""
    try:
        import threadpoolctl
    except ImportError:
        return None
    out = []
    for lib in threadpoolctl.threadpool_info():
        out.append({k: lib.get(k) for k in ("user_api", "internal_api", "version",
                                             "architecture", "threading_layer",
                                             "num_threads", "filepath")
                    if lib.get(k) is not None})
    return out


def result(peer, args, workload, run_sps, steps, samples, first_loss, last_loss, **extra):
    """The JSON record both peers print: the shared fields, then the peer's own."""
    sps = median(run_sps)
    rec = {
        "peer": peer,
        "workload": args.workload,
        "ranks": 1,
        "threads": args.threads,
        "samples_per_s": round(sps, 2),
        "gflops": round(sps * flop_per_sample(workload["layers"]) / 1e9, 3),
        "runs_samples_per_s": [round(v, 2) for v in run_sps],
        "steps_per_run": steps,
        "samples_per_run": samples,
        "batch_size": workload["batch"],
        "warmup_steps": args.warmup_steps,
        "loss_first": first_loss,
        "loss_last": last_loss,
    }
    rec.update(extra)
    return rec


def parse_args(doc):
    """The command line both peers take."""
    import argparse
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=3, help="timed runs (median is reported)")
    ap.add_argument("--steps", type=int, default=0,
                    help="steps per timed run (0 = one full epoch)")
    ap.add_argument("--warmup-steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data-dir", default=None)
    return ap.parse_args()
