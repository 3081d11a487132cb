#!/usr/bin/python3
"""PyTorch peer for the paraprop benchmarks (issue 6).

Trains one of the workloads W1/W2/W3 (see common.WORKLOADS) on the
Fashion-MNIST training set with a plain training loop and prints one JSON
line:  {"peer":"torch","workload":..,"threads":..,"samples_per_s":..,...}

Method: the data set is held as float32 tensors.  Before every timed run it is
shuffled with a fresh permutation *outside* the timed region (the copies are
contiguous, so every mini-batch is a contiguous slice).  After --warmup-steps
untimed steps, --epochs timed runs of one full epoch each (or --steps steps)
are made; samples_per_s is the median over the runs.

Threads: torch.set_num_threads(T) sets the OpenMP pool, but torch's GEMMs go
to the system BLAS (Debian: OpenBLAS via libblas.so.3), whose pool it does not
touch, so the BLAS pool is limited with threadpoolctl too (the driver also
exports OPENBLAS_NUM_THREADS/OMP_NUM_THREADS=T).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def build(w):
    mods = []
    layers = w["layers"]
    for i, (a, b) in enumerate(zip(layers[:-1], layers[1:])):
        mods.append(nn.Linear(a, b))
        if i < len(layers) - 2:
            mods.append(nn.Sigmoid() if w["hidden"] == "sigmoid" else nn.ReLU())
    return nn.Sequential(*mods)


def main():
    args = common.parse_args(__doc__)

    w = common.WORKLOADS[args.workload]
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    limiter = None
    try:
        import threadpoolctl
        limiter = threadpoolctl.threadpool_limits(limits=args.threads)
    except ImportError:
        pass

    x_np, y_np = common.load_train(args.data_dir)
    n = x_np.shape[0]
    x_all = torch.from_numpy(x_np)
    y_all = torch.from_numpy(y_np)
    onehot_all = F.one_hot(y_all, 10).to(torch.float32)

    model = build(w)
    opt = torch.optim.SGD(model.parameters(), lr=w["lr"], momentum=w["momentum"])
    sigmoid_ce = w["output"] == "sigmoid"

    def step(xb, yb, tb):
        opt.zero_grad(set_to_none=True)
        z = model(xb)
        if sigmoid_ce:
            # sigmoid output + cross-entropy summed over the classes, averaged
            # over the batch (numerically stable logits form, same value and
            # gradient (a - y)/B as sigmoid followed by cross-entropy).
            loss = F.binary_cross_entropy_with_logits(z, tb, reduction="sum") / xb.shape[0]
        else:
            loss = F.nll_loss(F.log_softmax(z, dim=1), yb)
        loss.backward()
        opt.step()
        return loss

    bs = common.batches(n, w["batch"])
    gen = torch.Generator().manual_seed(args.seed)

    def shuffled():
        perm = torch.randperm(n, generator=gen)
        return (x_all.index_select(0, perm).contiguous(),
                y_all.index_select(0, perm).contiguous(),
                onehot_all.index_select(0, perm).contiguous())

    # warm-up (untimed)
    xs, ys, ts = shuffled()
    first_loss = None
    for (a, b) in bs[: max(1, args.warmup_steps)]:
        loss = step(xs[a:b], ys[a:b], ts[a:b])
        if first_loss is None:
            first_loss = float(loss)

    run_sps = []
    run_time = []
    last_loss = None
    for _ in range(args.epochs):
        xs, ys, ts = shuffled()
        sel = bs[: args.steps] if args.steps > 0 else bs
        samples = sum(b - a for a, b in sel)
        t0 = time.perf_counter()
        for (a, b) in sel:
            loss = step(xs[a:b], ys[a:b], ts[a:b])
        t1 = time.perf_counter()
        last_loss = float(loss)
        run_time.append(t1 - t0)
        run_sps.append(samples / (t1 - t0))

    common.emit(common.result(
        "torch", args, w, run_sps, len(sel), samples, first_loss, last_loss,
        torch=torch.__version__,
        torch_threads=torch.get_num_threads(),
        omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"),
        blas=common.blas_info(),
    ))
    if limiter is not None:
        limiter.restore_original_limits()


if __name__ == "__main__":
    main()
