#!/usr/bin/python3
"""Latency-bandwidth (alpha-beta-gamma) model of data-parallel MLP training, stdlib only.

Predicts the parallel efficiency of one training step on p ranks (nodes) for the bench
workloads, with the gradient allreduce done either as a ring or as a binomial tree, and
prints the table that docs/SCALING.md quotes:

    tools/scaling_model.py                      # all workloads, strong and weak, Markdown
    tools/scaling_model.py --workload large --mode strong --batch 4096
    tools/scaling_model.py --sample-time small=2.1e-6 --alpha 1.5e-6 --beta 1e-10

Model of one step on p ranks (no overlap of communication with computation, which is what
paraprop does: the allreduce starts after the whole backward pass):

    T(p) = c * b(p) + t_opt + A(p, n)

    c      compute time (forward + backward) per sample on one rank      -- TO MEASURE
    b(p)   samples per rank: strong scaling B/p (global batch B fixed), weak scaling b (fixed)
    t_opt  optimizer step on the full parameter vector (every rank does it) -- TO MEASURE
    n      gradient size in bytes = 4 * parameter count (float32)
    A      allreduce time:
             ring   2(p-1) alpha + 2 (p-1)/p n beta + (p-1)/p n gamma
                    (reduce-scatter then allgather: p-1 steps each, n/p bytes per step)
             tree   2 ceil(log2 p) (alpha + n beta) + ceil(log2 p) n gamma
                    (binomial reduce to the root, then broadcast; whole vector per step)
    alpha  latency per message, beta time per byte, gamma reduction time per byte

Efficiency: strong E(p) = T(1) / (p T(p)); weak E(p) = T(1) / T(p) (throughput per rank relative
to one rank). The default constants are placeholders, marked TO MEASURE: replace them with
`paraprop bench` numbers (compute and optimizer phases of time_per_step) and with the network's
measured latency and bandwidth (e.g. OSU micro-benchmarks) before quoting any prediction.
"""

import argparse
import math
import sys

# The three bench workloads: layer sizes (input, hidden..., output).
WORKLOADS = {
    "small": (784, 30, 10),
    "medium": (784, 256, 256, 10),
    "large": (784, 2048, 2048, 10),
}

FLOAT_BYTES = 4

# ---- TO MEASURE: placeholders until `paraprop bench` numbers exist ----------------------------
# Sustained flop rate of one rank (one node) on the forward+backward GEMMs, flop/s. Used only to
# derive a per-sample compute time when no measured one is given with --sample-time.
# TO MEASURE: time_per_step.compute / (batch_size / ranks) from a 1-rank bench run.
PLACEHOLDER_FLOPS = 50e9
# Optimizer (SGD update) cost per parameter, seconds. TO MEASURE: time_per_step.optimizer / params.
PLACEHOLDER_OPT_PER_PARAM = 0.25e-9
# Network: latency per message (s), time per byte (s/B), reduction time per byte (s/B).
# TO MEASURE on the target cluster. Placeholders: an InfiniBand HDR-class fabric.
PLACEHOLDER_ALPHA = 2e-6
PLACEHOLDER_BETA = 1.0 / 12.5e9
PLACEHOLDER_GAMMA = 1.0 / 20e9
# -------------------------------------------------------------------------------------------------

DEFAULT_BATCH = {"strong": 1024, "weak": 128}
DEFAULT_NODES = [2**k for k in range(11)]  # 1 ... 1024


def param_count(layers):
    """Weights plus biases of a fully connected network with the given layer sizes."""
    return sum(a * b + b for a, b in zip(layers[:-1], layers[1:]))


def flops_per_sample(layers):
    """Forward (2 flop per weight) plus backward (4 flop per weight) multiply-adds."""
    weights = sum(a * b for a, b in zip(layers[:-1], layers[1:]))
    return 6 * weights


def ring_allreduce(p, nbytes, alpha, beta, gamma=0.0):
    """Ring allreduce: reduce-scatter + allgather, each p-1 steps of nbytes/p."""
    if p <= 1:
        return 0.0
    frac = (p - 1) / p
    return 2 * (p - 1) * alpha + 2 * frac * nbytes * beta + frac * nbytes * gamma


def tree_allreduce(p, nbytes, alpha, beta, gamma=0.0):
    """Binomial-tree reduce followed by a binomial-tree broadcast of the whole vector."""
    if p <= 1:
        return 0.0
    steps = math.ceil(math.log2(p))
    return 2 * steps * (alpha + nbytes * beta) + steps * nbytes * gamma


ALGORITHMS = {"ring": ring_allreduce, "tree": tree_allreduce}


def step_time(p, samples_per_rank, sample_time, opt_time, nbytes, algo, alpha, beta, gamma):
    """Predicted seconds of one training step on p ranks."""
    return (samples_per_rank * sample_time + opt_time
            + ALGORITHMS[algo](p, nbytes, alpha, beta, gamma))


def efficiency(p, mode, batch, sample_time, opt_time, nbytes, algo, alpha, beta, gamma):
    """Parallel efficiency on p ranks relative to one rank (see the module doc)."""
    if mode == "strong":
        t1 = step_time(1, batch, sample_time, opt_time, nbytes, algo, alpha, beta, gamma)
        tp = step_time(p, batch / p, sample_time, opt_time, nbytes, algo, alpha, beta, gamma)
        return t1 / (p * tp)
    t1 = step_time(1, batch, sample_time, opt_time, nbytes, algo, alpha, beta, gamma)
    tp = step_time(p, batch, sample_time, opt_time, nbytes, algo, alpha, beta, gamma)
    return t1 / tp


def workload_constants(name, sample_times, flops, opt_per_param):
    """(layers, params, gradient bytes, compute s/sample, optimizer s/step, measured?)."""
    layers = WORKLOADS[name]
    params = param_count(layers)
    measured = name in sample_times
    sample_time = sample_times[name] if measured else flops_per_sample(layers) / flops
    return layers, params, params * FLOAT_BYTES, sample_time, params * opt_per_param, measured


def parse_sample_times(items):
    out = {}
    for item in items or []:
        name, _, value = item.partition("=")
        if name not in WORKLOADS or not value:
            raise SystemExit(f"--sample-time wants NAME=SECONDS with NAME in {sorted(WORKLOADS)}")
        out[name] = float(value)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", choices=sorted(WORKLOADS), action="append",
                    help="workload(s) to model (default: all three)")
    ap.add_argument("--mode", choices=("strong", "weak"), action="append",
                    help="scaling mode(s) (default: both)")
    ap.add_argument("--batch", type=int,
                    help="strong: global batch; weak: batch per rank "
                         f"(default {DEFAULT_BATCH['strong']} / {DEFAULT_BATCH['weak']})")
    ap.add_argument("--nodes", type=lambda s: [int(x) for x in s.split(",")],
                    default=DEFAULT_NODES, help="comma-separated rank counts (default 1..1024)")
    ap.add_argument("--sample-time", action="append", metavar="NAME=SECONDS",
                    help="measured compute time per sample on one rank (TO MEASURE)")
    ap.add_argument("--flops", type=float, default=PLACEHOLDER_FLOPS,
                    help="flop/s of one rank, used when no --sample-time is given")
    ap.add_argument("--opt-per-param", type=float, default=PLACEHOLDER_OPT_PER_PARAM,
                    help="optimizer seconds per parameter")
    ap.add_argument("--alpha", type=float, default=PLACEHOLDER_ALPHA, help="latency, s/message")
    ap.add_argument("--beta", type=float, default=PLACEHOLDER_BETA, help="transfer, s/byte")
    ap.add_argument("--gamma", type=float, default=PLACEHOLDER_GAMMA, help="reduction, s/byte")
    ap.add_argument("--summary", action="store_true",
                    help="one compact table: efficiency ring/tree per workload, mode and nodes")
    args = ap.parse_args(argv)

    sample_times = parse_sample_times(args.sample_time)
    names = args.workload or list(WORKLOADS)
    modes = args.mode or ["strong", "weak"]
    out = sys.stdout

    out.write(f"alpha={args.alpha:.3g} s, beta={args.beta:.3g} s/B "
              f"({1 / args.beta / 1e9:.3g} GB/s), gamma={args.gamma:.3g} s/B\n\n")
    if args.summary:
        out.write("| workload | mode | batch | " + " | ".join(f"p={p}" for p in args.nodes) + " |\n")
        out.write("|---|---|---:|" + "---:|" * len(args.nodes) + "\n")
        for name in names:
            _, _, nbytes, t_s, t_opt, measured = workload_constants(
                name, sample_times, args.flops, args.opt_per_param)
            for mode in modes:
                batch = args.batch or DEFAULT_BATCH[mode]
                cells = []
                for p in args.nodes:
                    e = [efficiency(p, mode, batch, t_s, t_opt, nbytes, a,
                                    args.alpha, args.beta, args.gamma) for a in ("ring", "tree")]
                    cells.append(f"{100 * e[0]:.0f}/{100 * e[1]:.0f}")
                tag = "" if measured else " (TO MEASURE)"
                out.write(f"| {name}{tag} | {mode} | {batch} | " + " | ".join(cells) + " |\n")
        out.write("\nCells: parallel efficiency in %, ring allreduce / tree allreduce.\n")
        return 0
    for name in names:
        layers, params, nbytes, t_s, t_opt, measured = workload_constants(
            name, sample_times, args.flops, args.opt_per_param)
        src = "measured" if measured else "TO MEASURE: placeholder from --flops"
        out.write(f"### {name}: {'-'.join(map(str, layers))}, {params:,} parameters, "
                  f"{nbytes / 1e6:.3g} MB gradient\n\n")
        out.write(f"compute {t_s:.3g} s/sample ({src}), optimizer {t_opt:.3g} s/step\n\n")
        for mode in modes:
            batch = args.batch or DEFAULT_BATCH[mode]
            what = "global batch" if mode == "strong" else "batch per rank"
            out.write(f"{mode} scaling, {what} {batch}\n\n")
            out.write("| nodes | ring allreduce (s) | tree allreduce (s) | step (s, ring) "
                      "| efficiency ring | efficiency tree |\n")
            out.write("|---:|---:|---:|---:|---:|---:|\n")
            for p in args.nodes:
                per_rank = batch / p if mode == "strong" else batch
                ring = ring_allreduce(p, nbytes, args.alpha, args.beta, args.gamma)
                tree = tree_allreduce(p, nbytes, args.alpha, args.beta, args.gamma)
                step = per_rank * t_s + t_opt + ring
                e = {a: efficiency(p, mode, batch, t_s, t_opt, nbytes, a,
                                   args.alpha, args.beta, args.gamma) for a in ALGORITHMS}
                out.write(f"| {p} | {ring:.3g} | {tree:.3g} | {step:.3g} "
                          f"| {100 * e['ring']:.1f}% | {100 * e['tree']:.1f}% |\n")
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
