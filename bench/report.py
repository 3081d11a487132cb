#!/usr/bin/python3
"""bench/report.py DIR - Markdown report of a bench/run.sh result directory.

Reads DIR/sgemm.jsonl, DIR/paraprop.jsonl, DIR/peers.jsonl (and DIR/env.json
when present), prints the report on stdout and writes it to DIR/report.md.

Per row: workload, contender, ranks x threads, samples/s (median of the
repeats), spread of the repeats ((max-min)/median), achieved GFLOP/s
(= samples/s x GEMM FLOP per sample / 1e9), that as % of the OpenBLAS sgemm
ceiling at the same total thread count (ranks x threads), and for paraprop
rows the ratio paraprop / best peer at the same total thread count.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
from common import WORKLOADS, flop_per_sample, median, N_TRAIN  # noqa: E402


def read_jsonl(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                sys.stderr.write("report.py: %s:%d: not JSON, skipped\n" % (path, n))
    return out


def workload_of(layers):
    for name, w in WORKLOADS.items():
        if list(layers) == w["layers"]:
            return name
    return None


def fmt(x, nd=0):
    if x is None:
        return "—"
    return "{:,.{}f}".format(x, nd)


def best_per_thread(path):
    """{threads: best record}, {threads: all records} of a GEMM ceiling file."""
    best, every = {}, {}
    for r in read_jsonl(path):
        t = int(r["threads"])
        every.setdefault(t, []).append(r)
        if t not in best or r["gflops"] > best[t]["gflops"]:
            best[t] = r
    return best, every


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: report.py DIR\n")
        return 2
    d = sys.argv[1]
    # best rate per thread count over the measurements (start and end of the run): OpenBLAS's
    # sgemm, and paraprop's own kernels on the same product (bench/ppgemm.c) when measured
    sgemm, sgemm_all = best_per_thread(os.path.join(d, "sgemm.jsonl"))
    ppgemm, ppgemm_all = best_per_thread(os.path.join(d, "ppgemm.jsonl"))
    env = {}
    if os.path.exists(os.path.join(d, "env.json")):
        with open(os.path.join(d, "env.json")) as f:
            env = json.load(f)

    # (workload, contender, ranks, threads) -> list of samples/s of the repeats
    groups = {}
    notes = {}
    pp_version = None
    for r in read_jsonl(os.path.join(d, "paraprop.jsonl")):
        w = workload_of(r.get("layers", []))
        if w is None:
            continue
        wd = WORKLOADS[w]
        expect = {"batch_size": wd["batch"], "hidden_activation": wd["hidden"],
                  "output_activation": wd["output"], "cost": wd["cost"]}
        bad = [k for k, v in expect.items() if k in r and r[k] != v]
        if bad:
            sys.stderr.write("report.py: paraprop record with layers of %s but other %s; "
                             "skipped\n" % (w, ", ".join(bad)))
            continue
        pp_version = r.get("version", pp_version)
        name = "paraprop (%s%s)" % (r.get("reduction", "?"),
                                    ", OpenBLAS kernels" if r.get("kernels") == "blas" else "")
        key = (w, name, int(r.get("ranks", 1)),
               int(r.get("threads", 1)))
        groups.setdefault(key, []).append(float(r["samples_per_s"]))
        full = -(-N_TRAIN // WORKLOADS[w]["batch"])
        if int(r.get("steps", full)) < full:
            notes.setdefault(key, set()).add("%d steps" % int(r["steps"]))
    for r in read_jsonl(os.path.join(d, "peers.jsonl")):
        key = (r["workload"], r["peer"], int(r.get("ranks", 1)), int(r["threads"]))
        runs = r.get("runs_samples_per_s") or [r["samples_per_s"]]
        groups.setdefault(key, []).extend(float(v) for v in runs)
        full = -(-N_TRAIN // WORKLOADS[r["workload"]]["batch"])
        if int(r.get("steps_per_run", full)) < full:
            notes.setdefault(key, set()).add("%d steps" % int(r["steps_per_run"]))

    med = {k: median(v) for k, v in groups.items()}
    best_peer = {}
    for (w, c, ranks, t), v in med.items():
        if not c.startswith("paraprop"):
            tot = ranks * t
            if v > best_peer.get((w, tot), (0, None))[0]:
                best_peer[(w, tot)] = (v, c)

    order = {"paraprop (fast)": 0, "paraprop (exact)": 1, "paraprop (fast, OpenBLAS kernels)": 2,
             "torch": 3, "numpy": 4}
    keys = sorted(groups, key=lambda k: (k[0], k[2] * k[3], not k[1].startswith("paraprop"),
                                          k[2], order.get(k[1], 9), k[1]))

    lines = []
    lines.append("# paraprop benchmark report")
    lines.append("")
    if env:
        lines.append("- run: %s → %s%s; repeats per configuration: %s"
                     % (env.get("start"), env.get("end"),
                        " (**--quick** smoke run: partial epochs, not for comparison)"
                        if env.get("quick") else "", env.get("repeats")))
        lines.append("- machine: %s, %s CPUs; load average at start %s, at end %s "
                     "(shared, noisy machine: treat differences under ~10%% as noise)"
                     % ((env.get("host_cpu") or "?").strip(), env.get("nproc"),
                        env.get("loadavg_start"), env.get("loadavg_end")))
        lines.append("- OPENBLAS_* environment (passed through unchanged): %s"
                     % (json.dumps(env.get("openblas_env") or {})))
        if env.get("paraprop"):
            lines.append("- paraprop: `%s` (version %s, git %s)"
                         % (env["paraprop"], pp_version, env.get("paraprop_git")))
    ceilings = (
        (sgemm, sgemm_all, "sgemm ceiling",
         lambda s: "cblas_sgemm %d², %s" % (s.get("n", 2048), s.get("blas", "OpenBLAS"))),
        (ppgemm, ppgemm_all, "paraprop-kernel ceiling",
         lambda s: "the same %d² product with paraprop's %s kernels, bench/ppgemm.c"
         % (s.get("n", 2048), s.get("kernels", "?"))),
    )
    for best, every, title, what in ceilings:
        for t in sorted(best):
            s = best[t]
            each = "; ".join("%s: best %.1f, median %.1f"
                             % (m.get("phase", "run"), m["gflops"],
                                m.get("gflops_median", m["gflops"]))
                             for m in every[t])
            lines.append("- %s, %d thread%s: **%.1f GFLOP/s** (%s; %s)"
                         % (title, t, "" if t == 1 else "s", s["gflops"], each, what(s)))
    lines.append("")
    lines.append("| workload | contender | ranks×threads | samples/s | spread | GFLOP/s "
                 "| % of sgemm | % of own GEMM | paraprop / best peer |")
    lines.append("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for k in keys:
        w, c, ranks, t = k
        v = med[k]
        runs = groups[k]
        spread = (max(runs) - min(runs)) / v * 100 if len(runs) > 1 and v else None
        gf = v * flop_per_sample(WORKLOADS[w]["layers"]) / 1e9
        lim = sgemm.get(ranks * t)
        pct = gf / lim["gflops"] * 100 if lim else None
        own = ppgemm.get(ranks * t)
        pct_own = gf / own["gflops"] * 100 if own else None
        ratio = ""
        if c.startswith("paraprop"):
            bp = best_peer.get((w, ranks * t))
            ratio = "%.2f (vs %s)" % (v / bp[0], bp[1]) if bp else "—"
        label = c + (" [%s]" % ", ".join(sorted(notes[k])) if k in notes else "")
        lines.append("| %s | %s | %d×%d | %s | %s | %s | %s | %s | %s |"
                     % (w, label, ranks, t, fmt(v), "%.0f%%" % spread if spread is not None
                        else "—", fmt(gf, 2), fmt(pct, 1), fmt(pct_own, 1), ratio))
    lines.append("")
    lines.append("GFLOP/s counts GEMM work only: %s FLOP/sample."
                 % ", ".join("%s %s" % (w, fmt(flop_per_sample(WORKLOADS[w]["layers"])))
                             for w in sorted(WORKLOADS)))
    lines.append("% of sgemm compares with the best cblas_sgemm rate at the same total "
                 "thread count (ranks × threads); % of own GEMM with paraprop's kernels on the "
                 "same square product. Spread = (max − min) / median over the repeats.")
    fails = os.path.join(d, "failures.txt")
    if os.path.exists(fails) and os.path.getsize(fails):
        lines.append("")
        lines.append("Failed runs:")
        lines.append("")
        with open(fails) as f:
            for line in f:
                lines.append("- `%s`" % line.strip())
    text = "\n".join(lines) + "\n"
    with open(os.path.join(d, "report.md"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
