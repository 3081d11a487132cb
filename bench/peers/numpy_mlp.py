#!/usr/bin/python3
"""Hand-vectorized numpy peer for the paraprop benchmarks (issue 6).

Trains one of the workloads W1/W2/W3 (see common.WORKLOADS) on the
Fashion-MNIST training set and prints one JSON line:
  {"peer":"numpy","workload":..,"threads":..,"samples_per_s":..,...}

The network is done in matrix form, float32 throughout, with every
activation/delta/gradient buffer preallocated and the element-wise work done
in place (out=...).  Weights are stored (in, out) so that the forward pass is
Z = A @ W + b.  Per step: forward GEMMs, delta_L = (a - y)/B (the gradient of
sigmoid+cross-entropy and of softmax+log-likelihood alike), weight gradient
A_prev^T @ delta, bias gradient = column sums, input gradient delta @ W^T for
every layer but the first, then SGD (torch-style momentum v = mu*v + g,
W -= lr*v, for W2).

Timing method is the same as torch_mlp.py: shuffle outside the timed region,
--warmup-steps untimed steps, --epochs timed runs, median samples/s.
The BLAS thread pool is limited with threadpoolctl when it is installed; the
driver also exports OPENBLAS_NUM_THREADS/OMP_NUM_THREADS=T before launching.
"""
import io
import os
import sys
import time
import contextlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

import numpy as np  # noqa: E402

f32 = np.float32


def numpy_blas():
    """numpy.show_config()'s blas_opt_info section as one line of text (the
    library it names is the libblas.so.3 alternative; which BLAS that really
    is shows in the threadpoolctl "blas" field)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            np.show_config()
        except Exception:  # pragma: no cover
            pass
    lines = buf.getvalue().splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "blas_opt_info:":
            body = []
            for nxt in lines[i + 1:]:
                if not nxt.startswith(" "):
                    break
                body.append(nxt.strip())
            return "blas_opt_info: " + "; ".join(body)
    return None


class MLP:
    def __init__(self, w, rng):
        self.w = w
        self.layers = w["layers"]
        self.W, self.b, self.vW, self.vb = [], [], [], []
        for i, (a, b) in enumerate(zip(self.layers[:-1], self.layers[1:])):
            if w["hidden"] == "relu" and i < len(self.layers) - 2:
                std = np.sqrt(2.0 / a)
            else:
                std = 1.0 / np.sqrt(a)
            self.W.append((rng.standard_normal((a, b)) * std).astype(f32))
            self.b.append(np.zeros(b, dtype=f32))
            if w["momentum"]:
                self.vW.append(np.zeros((a, b), dtype=f32))
                self.vb.append(np.zeros(b, dtype=f32))
        B = w["batch"]
        outs = self.layers[1:]
        self.A = [np.empty((B, o), dtype=f32) for o in outs]   # post-activation
        self.D = [np.empty((B, o), dtype=f32) for o in outs]   # deltas
        self.tmp = [np.empty((B, o), dtype=f32) for o in outs]  # scratch
        self.gW = [np.empty_like(x) for x in self.W]
        self.gb = [np.empty_like(x) for x in self.b]
        self.lr = f32(w["lr"])
        self.mu = f32(w["momentum"])
        self.sigmoid_hidden = w["hidden"] == "sigmoid"
        self.sigmoid_out = w["output"] == "sigmoid"

    @staticmethod
    def _sigmoid_(z):
        np.negative(z, out=z)
        np.exp(z, out=z)
        z += f32(1.0)
        np.reciprocal(z, out=z)

    def forward(self, x):
        n = x.shape[0]
        a_prev = x
        L = len(self.W)
        for l in range(L):
            z = self.A[l][:n]
            np.matmul(a_prev, self.W[l], out=z)
            z += self.b[l]
            if l < L - 1:
                if self.sigmoid_hidden:
                    self._sigmoid_(z)
                else:
                    np.maximum(z, f32(0.0), out=z)
            elif self.sigmoid_out:
                self._sigmoid_(z)
            else:
                m = self.tmp[l][:n, :1]
                np.max(z, axis=1, keepdims=True, out=m)
                z -= m
                np.exp(z, out=z)
                np.sum(z, axis=1, keepdims=True, out=m)
                z /= m
            a_prev = z
        return a_prev

    def loss(self, out, t):
        eps = f32(1e-7)
        if self.sigmoid_out:
            c = -(t * np.log(out + eps) + (1 - t) * np.log(1 - out + eps)).sum(1)
        else:
            c = -np.log((out * t).sum(1) + eps)
        return float(c.mean())

    def train_step(self, x, t):
        n = x.shape[0]
        L = len(self.W)
        out = self.forward(x)
        d = self.D[L - 1][:n]
        np.subtract(out, t, out=d)
        d *= f32(1.0 / n)
        for l in range(L - 1, -1, -1):
            a_prev = x if l == 0 else self.A[l - 1][:n]
            np.matmul(a_prev.T, d, out=self.gW[l])
            np.sum(d, axis=0, out=self.gb[l])
            if l > 0:
                dp = self.D[l - 1][:n]
                np.matmul(d, self.W[l].T, out=dp)
                if self.sigmoid_hidden:
                    s = self.tmp[l - 1][:n]
                    np.subtract(f32(1.0), a_prev, out=s)
                    s *= a_prev
                    dp *= s
                else:
                    np.copyto(dp, f32(0.0), where=a_prev <= 0)
                d = dp
        self.update()
        return out

    def update(self):
        lr = self.lr
        for l in range(len(self.W)):
            if self.mu:
                self.vW[l] *= self.mu
                self.vW[l] += self.gW[l]
                self.vb[l] *= self.mu
                self.vb[l] += self.gb[l]
                gW, gb = self.vW[l], self.vb[l]
                # W -= lr * v, via the gradient buffer as scratch
                np.multiply(gW, lr, out=self.gW[l])
                self.W[l] -= self.gW[l]
                self.b[l] -= lr * gb
            else:
                self.gW[l] *= lr
                self.W[l] -= self.gW[l]
                self.gb[l] *= lr
                self.b[l] -= self.gb[l]


def main():
    args = common.parse_args(__doc__)

    limiter = None
    thread_control = "env"
    try:
        import threadpoolctl
        limiter = threadpoolctl.threadpool_limits(limits=args.threads)
        thread_control = "threadpoolctl"
    except ImportError:
        pass

    w = common.WORKLOADS[args.workload]
    rng = np.random.default_rng(args.seed)
    x_all, y_all = common.load_train(args.data_dir)
    n = x_all.shape[0]
    t_all = np.zeros((n, 10), dtype=f32)
    t_all[np.arange(n), y_all] = 1.0

    net = MLP(w, rng)
    bs = common.batches(n, w["batch"])

    def shuffled():
        perm = rng.permutation(n)
        return np.take(x_all, perm, axis=0), np.take(t_all, perm, axis=0)

    with np.errstate(over="ignore", under="ignore"):
        xs, ts = shuffled()
        first_loss = None
        for (a, b) in bs[: max(1, args.warmup_steps)]:
            out = net.train_step(xs[a:b], ts[a:b])
            if first_loss is None:
                first_loss = net.loss(out, ts[a:b])

        run_sps = []
        last_loss = None
        for _ in range(args.epochs):
            xs, ts = shuffled()
            sel = bs[: args.steps] if args.steps > 0 else bs
            samples = sum(b - a for a, b in sel)
            t0 = time.perf_counter()
            for (a, b) in sel:
                out = net.train_step(xs[a:b], ts[a:b])
            t1 = time.perf_counter()
            a, b = sel[-1]
            last_loss = net.loss(out, ts[a:b])
            run_sps.append(samples / (t1 - t0))

    common.emit(common.result(
        "numpy", args, w, run_sps, len(sel), samples, first_loss, last_loss,
        numpy=np.__version__,
        thread_control=thread_control,
        numpy_blas_config=numpy_blas(),
        blas=common.blas_info(),
    ))
    if limiter is not None:
        limiter.restore_original_limits()


if __name__ == "__main__":
    main()
