#!/usr/bin/python3
"""Independent float64 reference of paraprop's training step (shared/MATH.md), in numpy.

It shares no code with paraprop: it reads the initial parameters from a paraprop model or
checkpoint file (/model/layer_<l>/{weights,biases}), trains on a paraprop dataset file WITHOUT
shuffling (samples in file order, minibatches of B consecutive samples, the last, smaller batch
averaged over its own size), and writes the resulting parameters in the same layout.

  forward   z^l = W^l a^{l-1} + b^l,  a^l = sigma_l(z^l)   (softmax with the max subtracted)
  output    quadratic + any output:       delta^L = (a - y) * sigma'(z)   (softmax: a*(g - <a,g>))
            cross-entropy + sigmoid:      delta^L = a - y
            log-likelihood + softmax:     delta^L = a - y
  backward  delta^l = (W^{l+1}^T delta^{l+1}) * sigma'(z^l)
  gradient  dC/db = delta, dC/dW = delta a^{l-1}^T, averaged over the n samples of the batch
  step      plain SGD + L2:  W <- (1 - eta*lam/N) W - eta*gW;   b <- b - eta*gb
            momentum:        vW <- mu vW - eta (gW + (lam/N) W);  W <- W + vW
                             vb <- mu vb - eta gb;                b <- b + vb
  (N = number of training samples; velocities start at zero.)
  With L1 (lam1) the weights' gradient gains (lam1/N) sign(W) (sign(0) = 0) in every optimizer;
  nesterov:  v <- mu v - eta g';  W <- W + mu v - eta g'   (g' = gW + (lam/N) W + (lam1/N) sign W)
  adam:      m <- b1 m + (1-b1) g';  v <- b2 v + (1-b2) g'^2;  t <- t + 1
             W <- W - eta (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
  adamw:     as adam with g' = gW + (lam1/N) sign W, and W <- W - eta (lam/N) W - (that step)
  (biases: no L2, no L1, no decay.)
  dropout:   unit j of hidden layer l of sample s (its index in the file) at global step k is
             kept when word j%4 of Philox4x32-10(key seed, counter (j//4, s, k mod 2^32,
             4 | l<<8 | (k>>32 mod 2^16)<<16)) >= floor(p 2^32); kept units are scaled by
             1/(1-p): a^l <- a^l * f, and BP2 multiplies by f too (sigma' from the undropped a).

usage: reference_sgd.py --init MODEL.h5 --data DATA.h5 --epochs E --batch-size B
                        --learning-rate ETA [--l2 LAM] [--momentum MU]
                        [--hidden-activation A] [--output-activation A] [--cost C]
                        [-o OUT.h5] [--compare PARAPROP.h5 [--tolerance 1e-4]]
The activations and the cost default to those stored in MODEL.h5.
--compare prints max|diff| / max|w| against another model file and exits 1 above the tolerance.
"""
import argparse
import sys

import h5py
import numpy as np


def sigmoid(z):
    # stable for large |z|
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


ACT = {
    "sigmoid": (sigmoid, lambda z, a: a * (1.0 - a)),
    "tanh": (np.tanh, lambda z, a: 1.0 - a * a),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(np.float64)),
    "identity": (lambda z: z.copy(), lambda z, a: np.ones_like(z)),
    "softmax": (softmax, None),
}
CLOSED_FORM = {("cross-entropy", "sigmoid"), ("log-likelihood", "softmax")}


M32 = 0xFFFFFFFF


def philox4x32(key, c0, c1, c2, c3):
    """Philox4x32-10 (Salmon et al.) of uint64 arrays holding 32-bit words."""
    c = [np.asarray(x, dtype=np.uint64) for x in np.broadcast_arrays(c0, c1, c2, c3)]
    k0, k1 = np.uint64(key & M32), np.uint64((key >> 32) & M32)
    m0, m1, mask = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57), np.uint64(M32)
    for _ in range(10):
        p0, p1 = m0 * c[0], m1 * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & mask, (p0 >> np.uint64(32)) ^ c[3] ^ k1,
             p0 & mask]
        k0 = np.uint64((int(k0) + 0x9E3779B9) & M32)
        k1 = np.uint64((int(k1) + 0xBB67AE85) & M32)
    return c


def dropout_factors(seed, step, ids, layer, n, p):
    """f = mask / (1 - p) for rows `ids` (training-set indices) and units 0..n-1 of `layer`."""
    groups = (n + 3) // 4
    g = np.arange(groups, dtype=np.uint64)[None, :]
    s = np.asarray(ids, dtype=np.uint64)[:, None]
    tag = 4 | (layer & 0xFF) << 8 | ((step >> 32) & 0xFFFF) << 16
    words = philox4x32(seed, g, s, np.uint64(step & M32), np.uint64(tag))
    bits = np.stack(words, axis=2).reshape(len(ids), groups * 4)[:, :n]
    keep = bits >= np.uint64(int(p * 4294967296.0))
    return keep.astype(np.float64) * (1.0 / (1.0 - p))


def decode(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def load_params(path):
    with h5py.File(path, "r") as f:
        sizes = [int(s) for s in f["model/layer_sizes"][()]]
        Ws, bs = [], []
        for l in range(1, len(sizes)):
            Ws.append(f[f"model/layer_{l}/weights"][()].astype(np.float64))
            bs.append(f[f"model/layer_{l}/biases"][()].astype(np.float64))
        acts = [decode(a) for a in f["model/activations"][()]] if "model/activations" in f else None
        cost = decode(f["model/cost"][()]) if "model/cost" in f else None
    for l, (W, b) in enumerate(zip(Ws, bs), start=1):
        if W.shape != (sizes[l], sizes[l - 1]) or b.shape != (sizes[l],):
            raise SystemExit(f"{path}: layer {l} has shapes {W.shape}, {b.shape}")
    return sizes, Ws, bs, acts, cost


def load_split(path, split, classes=None):
    with h5py.File(path, "r") as f:
        k = int(f.attrs["classes"])
        x = f[f"{split}/inputs"]
        X = x[()].astype(np.float64)
        if x.dtype == np.uint8:
            X *= float(x.attrs["scale"])
        g = f[split]
        if "labels" in g:
            lab = g["labels"][()].astype(np.int64)
            Y = np.zeros((len(lab), k))
            Y[np.arange(len(lab)), lab] = 1.0
        else:
            Y = g["targets"][()].astype(np.float64)
    return X, Y


def output_delta(cost, out_act, z, a, y):
    if (cost, out_act) in CLOSED_FORM:
        return a - y
    if cost != "quadratic":
        raise SystemExit(f"reference_sgd: no closed form for cost {cost} with output {out_act}")
    g = a - y  # gradient of 1/2 |a - y|^2 with respect to a
    if out_act == "softmax":
        return a * (g - np.sum(a * g, axis=1, keepdims=True))
    return g * ACT[out_act][1](z, a)


def cost_value(cost, a, y):
    eps = 1e-300
    if cost == "quadratic":
        return 0.5 * np.sum((a - y) ** 2, axis=1)
    if cost == "cross-entropy":
        return -np.sum(y * np.log(a + eps) + (1 - y) * np.log(1 - a + eps), axis=1)
    return -np.sum(y * np.log(a + eps), axis=1)


def forward(Ws, bs, acts, X, drop=None):
    """drop: None or (seed, step, ids, [p of layer 1..L-1]); returns the dropped activations,
    the z's, and per layer the factor f (None where nothing is dropped) and sigma'."""
    As, Zs, Fs, Hs = [X], [], [], []
    for l, (W, b, act) in enumerate(zip(Ws, bs, acts), start=1):
        z = As[-1] @ W.T + b
        Zs.append(z)
        a = ACT[act][0](z)
        f = None
        if drop and l < len(Ws) and drop[3][l - 1] > 0:
            f = dropout_factors(drop[0], drop[1], drop[2], l, a.shape[1], drop[3][l - 1])
        Hs.append(a)
        Fs.append(f)
        As.append(a if f is None else a * f)
    return As, Zs, Fs, Hs


def train(Ws, bs, acts, cost, X, Y, epochs, B, eta, lam, mu, log=None, optimizer="sgd", lam1=0.0,
          beta1=0.9, beta2=0.999, eps=1e-8, dropout=None, seed=1, state=None,
          bias_correction=True, step_offset=0, clip=0.0):
    """dropout: None or the drop probability of each hidden layer. state (a dict, optional)
    receives the optimizer state: vW, vb (velocity), mW, mb, sW, sb (Adam's m and v), t.
    bias_correction=False and step_offset (added to the masks' step) exist for the tests'
    negative controls. clip > 0: the mean gradient (∇W, ∇b of every layer) is scaled to norm clip
    when its 2-norm exceeds it (--clip-norm)."""
    N = X.shape[0]
    L = len(Ws)
    vW = [np.zeros_like(W) for W in Ws]
    vb = [np.zeros_like(b) for b in bs]
    mW, mb = [np.zeros_like(W) for W in Ws], [np.zeros_like(b) for b in bs]
    sW, sb = [np.zeros_like(W) for W in Ws], [np.zeros_like(b) for b in bs]
    steps = 0
    for epoch in range(1, epochs + 1):
        loss_sum = 0.0
        for start in range(0, N, B):
            x, y = X[start:start + B], Y[start:start + B]
            n = x.shape[0]
            drop = (seed, steps + step_offset, np.arange(start, start + n), dropout) \
                if dropout else None
            As, Zs, Fs, Hs = forward(Ws, bs, acts, x, drop)
            loss_sum += cost_value(cost, As[-1], y).sum()
            delta = output_delta(cost, acts[-1], Zs[-1], As[-1], y)
            gW, gb = [None] * L, [None] * L
            for l in range(L - 1, -1, -1):
                gW[l] = delta.T @ As[l] / n
                gb[l] = delta.sum(axis=0) / n
                if l > 0:
                    delta = (delta @ Ws[l]) * ACT[acts[l - 1]][1](Zs[l - 1], Hs[l - 1])
                    if Fs[l - 1] is not None:
                        delta = delta * Fs[l - 1]
            if clip > 0:
                norm = np.sqrt(sum(np.sum(g * g) for g in gW) + sum(np.sum(g * g) for g in gb))
                if norm > clip:
                    gW = [g * (clip / norm) for g in gW]
                    gb = [g * (clip / norm) for g in gb]
            t = steps + 1
            for l in range(L):
                r1 = (lam1 / N) * np.sign(Ws[l])
                if optimizer in ("adam", "adamw"):
                    g = gW[l] + r1 + ((lam / N) * Ws[l] if optimizer == "adam" else 0.0)
                    mW[l] = beta1 * mW[l] + (1 - beta1) * g
                    sW[l] = beta2 * sW[l] + (1 - beta2) * g * g
                    mb[l] = beta1 * mb[l] + (1 - beta1) * gb[l]
                    sb[l] = beta2 * sb[l] + (1 - beta2) * gb[l] * gb[l]
                    c1, c2 = (1 - beta1 ** t, 1 - beta2 ** t) if bias_correction else (1, 1)
                    decay = eta * lam / N if optimizer == "adamw" else 0.0
                    Ws[l] = Ws[l] - decay * Ws[l] - eta * (mW[l] / c1) / (np.sqrt(sW[l] / c2) + eps)
                    bs[l] = bs[l] - eta * (mb[l] / c1) / (np.sqrt(sb[l] / c2) + eps)
                elif optimizer == "nesterov":
                    g = gW[l] + (lam / N) * Ws[l] + r1
                    vW[l] = mu * vW[l] - eta * g
                    vb[l] = mu * vb[l] - eta * gb[l]
                    Ws[l] = Ws[l] + mu * vW[l] - eta * g
                    bs[l] = bs[l] + mu * vb[l] - eta * gb[l]
                elif mu > 0:
                    vW[l] = mu * vW[l] - eta * (gW[l] + (lam / N) * Ws[l] + r1)
                    vb[l] = mu * vb[l] - eta * gb[l]
                    Ws[l] = Ws[l] + vW[l]
                    bs[l] = bs[l] + vb[l]
                else:
                    Ws[l] = (1.0 - eta * lam / N) * Ws[l] - eta * (gW[l] + r1)
                    bs[l] = bs[l] - eta * gb[l]
            steps += 1
        if log:
            l2 = 0.5 * lam / N * sum(np.sum(W * W) for W in Ws)
            log(f"epoch {epoch}: mean train cost (during the epoch) {loss_sum / N:.6f}"
                f" (+ L2 term {l2:.6f} at its end), {steps} steps")
    if state is not None:
        state.update(vW=vW, vb=vb, mW=mW, mb=mb, sW=sW, sb=sb, t=steps)
    return Ws, bs, vW, vb


def relative_diff(Wa, ba, Wb, bb):
    num = max(max(np.max(np.abs(x - y)) for x, y in zip(Wa, Wb)),
              max(np.max(np.abs(x - y)) for x, y in zip(ba, bb)))
    den = max(max(np.max(np.abs(x)) for x in Wa), max(np.max(np.abs(x)) for x in ba))
    return num / den, num, den


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--init", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--learning-rate", type=float, required=True)
    p.add_argument("--l2", type=float, default=0.0)
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--hidden-activation")
    p.add_argument("--output-activation")
    p.add_argument("--cost")
    p.add_argument("-o", "--output")
    p.add_argument("--compare")
    p.add_argument("--tolerance", type=float, default=1e-4)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)

    sizes, Ws, bs, acts, cost = load_params(a.init)
    L = len(sizes) - 1
    hidden = a.hidden_activation or (acts[0] if acts and L > 1 else "sigmoid")
    out = a.output_activation or (acts[-1] if acts else "softmax")
    cost = a.cost or cost or "log-likelihood"
    acts = [hidden] * (L - 1) + [out]
    for act in acts:
        if act not in ACT or (act == "softmax" and act is not acts[-1]):
            raise SystemExit(f"reference_sgd: bad activation {act}")
    X, Y = load_split(a.data, "train")
    if X.shape[1] != sizes[0] or Y.shape[1] != sizes[-1]:
        raise SystemExit(f"reference_sgd: data {X.shape[1]} -> {Y.shape[1]} does not fit {sizes}")
    log = None if a.quiet else (lambda s: print(s))
    if log:
        log(f"reference: layers {sizes}, {acts}, cost {cost}, N {X.shape[0]}, B {a.batch_size}, "
            f"eta {a.learning_rate}, l2 {a.l2}, momentum {a.momentum}, {a.epochs} epochs")
    Ws, bs, vW, vb = train(Ws, bs, acts, cost, X, Y, a.epochs, a.batch_size, a.learning_rate,
                           a.l2, a.momentum, log)
    if a.output:
        with h5py.File(a.output, "w") as f:
            f.attrs["format"] = "paraprop-reference"
            f["model/layer_sizes"] = np.array(sizes, np.int32)
            f["model/activations"] = np.array([s.encode() for s in acts])
            f["model/cost"] = np.bytes_(cost)
            for l in range(1, L + 1):
                f[f"model/layer_{l}/weights"] = Ws[l - 1]
                f[f"model/layer_{l}/biases"] = bs[l - 1]
                if a.momentum > 0:
                    f[f"optimizer/layer_{l}/weights"] = vW[l - 1]
                    f[f"optimizer/layer_{l}/biases"] = vb[l - 1]
    if a.compare:
        _, Wc, bc, _, _ = load_params(a.compare)
        rel, num, den = relative_diff(Ws, bs, Wc, bc)
        print(f"max|diff| {num:.3e} / max|w| {den:.3e} = {rel:.3e} (tolerance {a.tolerance:g})")
        return 0 if rel < a.tolerance else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
