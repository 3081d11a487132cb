#!/usr/bin/python3
"""Latency-bandwidth (alpha-beta-gamma) model of data-parallel MLP training, stdlib only.

Predicts the parallel efficiency of one training step on p ranks (nodes) for the bench
workloads, with the gradient allreduce done either as a ring or as a binomial tree, and
prints the table that docs/SCALING.md quotes:

    tools/scaling_model.py                      # all workloads, strong and weak, Markdown
    tools/scaling_model.py --workload large --mode strong --batch 4096
    tools/scaling_model.py --sample-time small=2.1e-6 --alpha 1.5e-6 --beta 1e-10
    tools/scaling_model.py --network intra --compare docs/scaling/raw/*.jsonl
                                                # predicted vs measured, one node

Model of one step on p ranks (no overlap of communication with computation, which is what
paraprop does: the allreduce starts after the whole backward pass):

    T(p) = c * b(p) + t_opt + A(p, n)

    c      compute time (forward + backward) per sample on one rank      -- measured
    b(p)   samples per rank: strong scaling B/p (global batch B fixed), weak scaling b (fixed)
    t_opt  optimizer step on the full parameter vector (every rank does it) -- measured
    n      gradient size in bytes = 4 * parameter count (float32)
    A      allreduce time:
             ring   2(p-1) alpha + 2 (p-1)/p n beta + (p-1)/p n gamma
                    (reduce-scatter then allgather: p-1 steps each, n/p bytes per step)
             tree   2 ceil(log2 p) (alpha + n beta) + ceil(log2 p) n gamma
                    (binomial reduce to the root, then broadcast; whole vector per step)
    alpha  latency per message, beta time per byte, gamma reduction time per byte

Efficiency: strong E(p) = T(1) / (p T(p)); weak E(p) = T(1) / T(p) (throughput per rank relative
to one rank). The defaults are MEASURED on the project's 2-core test VM (c, t_opt, gamma, and
the intra-node alpha/beta used with --network intra; see the constants below and
docs/SCALING.md) plus an ASSUMED inter-node network (100 Gb/s, 2 us) for the multi-node
predictions (--network inter, the default). Override any of them (--sample-time,
--opt-per-param, --alpha, --beta, --gamma) with numbers from the target machine before quoting
a prediction for it.
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

# ---- Measured defaults ----------------------------------------------------------------------
# Measured 2026-11-27 on the project's 2-core Debian 12 VM (Intel Xeon, KVM), paraprop 0.1.0
# rev 93780931c515 (release build, single precision), Open MPI 4.1.4. The VM was shared with
# other jobs (load average 1.5-9 on 2 cores), so every value is a median of repeated runs; the
# raw data and spreads are in docs/scaling/ and docs/SCALING.md ("Measured constants").
#
# c: compute (forward + backward) seconds per sample on one rank with one thread =
# time_per_step.compute / batch_size of the 1x1 records of the scaling sweeps run through
# jobs/scaling.sbatch (docs/scaling/raw/*.jsonl): median of 14 records per workload (strong
# and weak 1x1, 7 repeats). Spread min..max: small 5.4e-6..1.4e-5, medium 4.1e-5..1.4e-4,
# large 1.0e-3..2.2e-3 (the slow ends are the repeats at the highest load).
MEASURED_SAMPLE_TIME = {"small": 8.2e-6, "medium": 5.9e-5, "large": 1.13e-3}
# t_opt: time_per_step.optimizer of the same records, seconds per step (the update of all
# parameters on every rank; medium uses momentum 0.9, the others plain SGD).
MEASURED_OPT_TIME = {"small": 8.2e-6, "medium": 2.19e-4, "large": 4.57e-3}
# Intra-node MPI (Open MPI 4.1.4, shared memory, 2 ranks, mpiexec --bind-to none), from
# tools/pingpong.c, 3 runs x 7 rounds, medians of single operations:
#   alpha = median one-way time of 8..128-byte messages;
#   beta  = slope of the one-way time: 1.0e-10 s/B (9.9 GB/s) for messages of 8 KiB..2 MiB
#           (cache-resident), 3.5e-10 s/B (2.8 GB/s) for 8..32 MiB (through memory);
#   gamma = time per byte of y += x over a 23 MB float vector (the reduction's add).
MEASURED_INTRA_ALPHA = 4.65e-7
MEASURED_INTRA_BETA_CACHE = 1.0e-10
MEASURED_INTRA_BETA = 3.5e-10
INTRA_CACHE_BYTES = 4 << 20  # vectors up to this size use MEASURED_INTRA_BETA_CACHE
MEASURED_GAMMA = 1.22e-10
# Optimizer seconds per parameter (large: 4.57e-3 s / 5.82 M parameters), for --opt-per-param
# and layer sizes without a measured t_opt.
MEASURED_OPT_PER_PARAM = 0.78e-9
# Sustained flop/s of one rank (one thread) on forward+backward, 6 * weights / c of the large
# workload; only a fallback for layer sizes without a measured c.
MEASURED_FLOPS = 31e9


def intra_beta(nbytes):
    """Measured shared-memory time per byte for a vector of nbytes (cache vs memory regime)."""
    return MEASURED_INTRA_BETA_CACHE if nbytes <= INTRA_CACHE_BYTES else MEASURED_INTRA_BETA


# ---- Assumptions (not measured): the inter-node network of the 1...1024-node predictions ----
# A 100 Gb/s InfiniBand/RoCE-class fabric: 2 us latency per message, 12.5 GB/s per link.
# The reduction (gamma) runs in each node's memory, so the measured gamma is kept.
ASSUMED_ALPHA = 2e-6
ASSUMED_BETA = 1.0 / 12.5e9
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


def workload_name(layers):
    """The bench workload name of a layer list, or None."""
    for name, wl in WORKLOADS.items():
        if tuple(layers) == wl:
            return name
    return None


def workload_constants(name, sample_times, flops, opt_per_param):
    """(layers, params, gradient bytes, compute s/sample, optimizer s/step, source of c).

    c: --sample-time, else the measured default, else 6 * weights / flops. t_opt: params *
    --opt-per-param if given, else the measured default, else params * MEASURED_OPT_PER_PARAM.
    """
    layers = WORKLOADS[name]
    params = param_count(layers)
    if name in sample_times:
        sample_time, source = sample_times[name], "given"
    elif name in MEASURED_SAMPLE_TIME:
        sample_time, source = MEASURED_SAMPLE_TIME[name], "measured"
    else:
        sample_time, source = flops_per_sample(layers) / flops, "from --flops"
    if opt_per_param is not None:
        opt_time = params * opt_per_param
    else:
        opt_time = MEASURED_OPT_TIME.get(name, params * MEASURED_OPT_PER_PARAM)
    return layers, params, params * FLOAT_BYTES, sample_time, opt_time, source


def parse_sample_times(items):
    out = {}
    for item in items or []:
        name, _, value = item.partition("=")
        if name not in WORKLOADS or not value:
            raise SystemExit(f"--sample-time wants NAME=SECONDS with NAME in {sorted(WORKLOADS)}")
        out[name] = float(value)
    return out


def compare(paths, sample_times, opt_per_param, alpha, beta_for, gamma, out):
    """Predicted vs measured step time for `paraprop bench` records of the bench workloads.

    Model: T = c * batch / (R * T_threads) + t_opt + A_ring(R, n), i.e. threads are assumed to
    divide the compute ideally and the optimizer not at all (it is what one thread measured).
    Repeated records of one configuration: the one with the median samples/s.
    """
    import json
    groups = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                rec = json.loads(line)
                name = workload_name(rec.get("layers") or ())
                if name is None:
                    continue
                # the sweep's nodes dimension: the same R x T on more nodes is another row
                nodes = int(rec.get("nodes_requested", rec.get("nodes", 1)))
                key = (name, rec.get("mode", "-"), int(rec["ranks"]), int(rec["threads"]),
                       int(rec["batch_size"]), nodes)
                groups.setdefault(key, []).append(rec)
    order = list(WORKLOADS)
    rows = []
    for key in sorted(groups, key=lambda k: (order.index(k[0]), k[1], k[2] * k[3], k[2], k[5])):
        recs = sorted(groups[key], key=lambda r: float(r["samples_per_s"]))
        rec = recs[(len(recs) - 1) // 2]
        name, mode, ranks, threads, batch, _ = key
        _, _, nbytes, c, t_opt, _ = workload_constants(name, sample_times, 1.0, opt_per_param)
        allreduce = ring_allreduce(ranks, nbytes, alpha, beta_for(nbytes), gamma)
        pred = c * batch / (ranks * threads) + t_opt + allreduce
        tp = rec["time_per_step"]
        rows.append((key, len(recs), float(tp["total"]), pred, float(tp["allreduce"]), allreduce,
                     float(rec["samples_per_s"]), batch / pred))
    out.write(f"model: alpha={alpha:.3g} s, beta={beta_for(1):.3g} s/B (vectors <= "
              f"{INTRA_CACHE_BYTES >> 20} MiB) / {beta_for(INTRA_CACHE_BYTES + 1):.3g} s/B "
              f"(larger), gamma={gamma:.3g} s/B; c and t_opt: the measured 1x1 medians; "
              "threads assumed ideal\n\n")
    out.write("| workload | mode | R×T | batch | runs | step ms measured | step ms model "
              "| allreduce ms measured | allreduce ms model | efficiency measured | efficiency model |\n")
    out.write("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    base = {}
    for (key, n, t_meas, t_pred, a_meas, a_pred, sps, sps_pred) in rows:
        name, mode, ranks, threads, batch, nodes = key
        where = f"{ranks}x{threads}" + (f" on {nodes} nodes" if nodes > 1 else "")
        b = base.setdefault((name, mode), (ranks * threads, sps, sps_pred))
        cores = ranks * threads / b[0]
        e_meas = sps / b[1] / cores
        e_pred = sps_pred / b[2] / cores
        out.write(f"| {name} | {mode} | {where} | {batch} | {n} | {1e3 * t_meas:.3g} "
                  f"| {1e3 * t_pred:.3g} | {1e3 * a_meas:.3g} | {1e3 * a_pred:.3g} "
                  f"| {100 * e_meas:.0f}% | {100 * e_pred:.0f}% |\n")
    return 0


def int_list(text):
    return [int(x) for x in text.split(",") if x]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", choices=sorted(WORKLOADS), action="append",
                    help="workload(s) to model (default: all three)")
    ap.add_argument("--mode", choices=("strong", "weak"), action="append",
                    help="scaling mode(s) (default: both)")
    ap.add_argument("--batch", type=int_list,
                    help="comma-separated; strong: global batch; weak: batch per rank "
                         f"(default {DEFAULT_BATCH['strong']} / {DEFAULT_BATCH['weak']})")
    ap.add_argument("--nodes", type=int_list,
                    default=DEFAULT_NODES, help="comma-separated rank counts (default 1..1024)")
    ap.add_argument("--sample-time", action="append", metavar="NAME=SECONDS",
                    help="compute time per sample on one rank (default: the measured one)")
    ap.add_argument("--flops", type=float, default=MEASURED_FLOPS,
                    help="flop/s of one rank, for workloads without a per-sample time")
    ap.add_argument("--opt-per-param", type=float, default=None,
                    help="optimizer seconds per parameter (default: the measured t_opt per "
                         "workload)")
    ap.add_argument("--network", choices=("inter", "intra"), default="inter",
                    help="default alpha/beta: inter = the ASSUMED 100 Gb/s fabric (default), "
                         "intra = the MEASURED shared-memory values of one node")
    ap.add_argument("--alpha", type=float, help="latency, s/message (overrides --network)")
    ap.add_argument("--beta", type=float, help="transfer, s/byte (overrides --network)")
    ap.add_argument("--gamma", type=float, default=MEASURED_GAMMA, help="reduction, s/byte")
    ap.add_argument("--summary", action="store_true",
                    help="one compact table: efficiency ring/tree per workload, mode and nodes")
    ap.add_argument("--compare", nargs="+", metavar="JSONL",
                    help="predicted vs measured step times of bench records (use with "
                         "--network intra)")
    args = ap.parse_args(argv)

    if args.alpha is None:
        args.alpha = ASSUMED_ALPHA if args.network == "inter" else MEASURED_INTRA_ALPHA
    given_beta = args.beta

    def beta_for(nbytes):
        if given_beta is not None:
            return given_beta
        return ASSUMED_BETA if args.network == "inter" else intra_beta(nbytes)
    sample_times = parse_sample_times(args.sample_time)
    out = sys.stdout
    if args.compare:
        return compare(args.compare, sample_times, args.opt_per_param, args.alpha, beta_for,
                       args.gamma, out)
    names = args.workload or list(WORKLOADS)
    modes = args.mode or ["strong", "weak"]

    if given_beta is not None or args.network == "inter":
        b = beta_for(0)
        beta_text = f"beta={b:.3g} s/B ({1 / b / 1e9:.3g} GB/s)"
    else:
        beta_text = (f"beta={MEASURED_INTRA_BETA_CACHE:.3g} s/B up to {INTRA_CACHE_BYTES >> 20} MiB, "
                     f"{MEASURED_INTRA_BETA:.3g} s/B above (measured, intra-node)")
    where = "ASSUMED inter-node network" if args.network == "inter" else "MEASURED intra-node"
    out.write(f"{where}: alpha={args.alpha:.3g} s, {beta_text}, gamma={args.gamma:.3g} s/B "
              "(measured)\n\n")
    if args.summary:
        out.write("| workload | mode | batch | " + " | ".join(f"p={p}" for p in args.nodes) + " |\n")
        out.write("|---|---|---:|" + "---:|" * len(args.nodes) + "\n")
        for name in names:
            _, _, nbytes, t_s, t_opt, source = workload_constants(
                name, sample_times, args.flops, args.opt_per_param)
            for mode in modes:
                for batch in args.batch or [DEFAULT_BATCH[mode]]:
                    cells = []
                    for p in args.nodes:
                        e = [efficiency(p, mode, batch, t_s, t_opt, nbytes, a,
                                        args.alpha, beta_for(nbytes), args.gamma)
                             for a in ("ring", "tree")]
                        cells.append(f"{100 * e[0]:.0f}/{100 * e[1]:.0f}")
                    tag = "" if source != "from --flops" else " (c from --flops)"
                    out.write(f"| {name}{tag} | {mode} | {batch} | " + " | ".join(cells) + " |\n")
        out.write("\nCells: parallel efficiency in %, ring allreduce / tree allreduce.\n")
        return 0
    for name in names:
        layers, params, nbytes, t_s, t_opt, source = workload_constants(
            name, sample_times, args.flops, args.opt_per_param)
        out.write(f"### {name}: {'-'.join(map(str, layers))}, {params:,} parameters, "
                  f"{nbytes / 1e6:.3g} MB gradient\n\n")
        out.write(f"compute {t_s:.3g} s/sample ({source}), optimizer {t_opt:.3g} s/step\n\n")
        for mode in modes:
            for batch in args.batch or [DEFAULT_BATCH[mode]]:
                what = "global batch" if mode == "strong" else "batch per rank"
                out.write(f"{mode} scaling, {what} {batch}\n\n")
                out.write("| nodes | ring allreduce (s) | tree allreduce (s) | step (s, ring) "
                          "| efficiency ring | efficiency tree |\n")
                out.write("|---:|---:|---:|---:|---:|---:|\n")
                for p in args.nodes:
                    per_rank = batch / p if mode == "strong" else batch
                    beta = beta_for(nbytes)
                    ring = ring_allreduce(p, nbytes, args.alpha, beta, args.gamma)
                    tree = tree_allreduce(p, nbytes, args.alpha, beta, args.gamma)
                    step = per_rank * t_s + t_opt + ring
                    e = {a: efficiency(p, mode, batch, t_s, t_opt, nbytes, a,
                                       args.alpha, beta, args.gamma) for a in ALGORITHMS}
                    out.write(f"| {p} | {ring:.3g} | {tree:.3g} | {step:.3g} "
                              f"| {100 * e['ring']:.1f}% | {100 * e['tree']:.1f}% |\n")
                out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
