#!/usr/bin/python3
"""bench/report.py DIR - Markdown report of a bench/run.sh result directory.

Reads DIR/sgemm.jsonl, DIR/paraprop.jsonl, DIR/peers.jsonl (and DIR/env.json
when present), prints the report on stdout and writes it to DIR/report.md.

Per row: workload, contender, ranks x threads, samples/s (median of the
repeats), spread of the repeats ((max-min)/median), achieved GFLOP/s
(= samples/s x GEMM FLOP per sample / 1e9), that as % of the FMA peak
(bench/fmapeak.c) and of the OpenBLAS sgemm rate with the best core, both at
the same total thread count (ranks x threads), and for paraprop rows the ratio
paraprop / best peer at the same total thread count, the peers running with
the best OpenBLAS core. Peers and CBLAS runs "as installed" (OpenBLAS's own
choice of core) are shown beside, never used as the reference. DIR/shapes.jsonl
(bench/shapes.c) gives the per-shape engine table.
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


def best_per_thread(path, keep=lambda r: True):
    """{threads: best record}, {threads: all records} of a GEMM ceiling file."""
    best, every = {}, {}
    for r in read_jsonl(path):
        if not keep(r):
            continue
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
    sgemm, sgemm_all = best_per_thread(os.path.join(d, "sgemm.jsonl"),
                                       lambda r: r.get("blas_mode", "best") == "best")
    sgemm_asis, sgemm_asis_all = best_per_thread(os.path.join(d, "sgemm.jsonl"),
                                                 lambda r: r.get("blas_mode") == "asis")
    ppgemm, ppgemm_all = best_per_thread(os.path.join(d, "ppgemm.jsonl"))
    # the physical limit: the widest vectors measured (avx512 where the CPU has it)
    fma_recs = read_jsonl(os.path.join(d, "fmapeak.jsonl"))
    widest = "avx512" if any(r["isa"] == "avx512" for r in fma_recs) else "avx2"
    fma, fma_all = best_per_thread(os.path.join(d, "fmapeak.jsonl"),
                                   lambda r: r["isa"] == widest)
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
        variant = r.get("variant")
        core = (env.get("openblas_core_best") if variant == "fast-blas-best"
                else env.get("openblas_core_as_installed"))
        name = {"fast-own": "paraprop (fast, own kernels only)",
                "fast-blas-best": "paraprop (fast, CBLAS: OpenBLAS %s)" % core,
                "fast-blas-asis": "paraprop (fast, CBLAS: OpenBLAS %s as installed)" % core,
                }.get(variant, "paraprop (%s)" % r.get("reduction", "?"))
        key = (w, name, int(r.get("ranks", 1)),
               int(r.get("threads", 1)))
        groups.setdefault(key, []).append(float(r["samples_per_s"]))
        full = -(-N_TRAIN // WORKLOADS[w]["batch"])
        if int(r.get("steps", full)) < full:
            notes.setdefault(key, set()).add("%d steps" % int(r["steps"]))
    for r in read_jsonl(os.path.join(d, "peers.jsonl")):
        peer = r["peer"] + (" (OpenBLAS %s as installed)" % env.get("openblas_core_as_installed")
                            if r.get("blas_mode") == "asis" else "")
        key = (r["workload"], peer, int(r.get("ranks", 1)), int(r["threads"]))
        runs = r.get("runs_samples_per_s") or [r["samples_per_s"]]
        groups.setdefault(key, []).extend(float(v) for v in runs)
        full = -(-N_TRAIN // WORKLOADS[r["workload"]]["batch"])
        if int(r.get("steps_per_run", full)) < full:
            notes.setdefault(key, set()).add("%d steps" % int(r["steps_per_run"]))

    med = {k: median(v) for k, v in groups.items()}
    best_peer = {}
    for (w, c, ranks, t), v in med.items():
        if not c.startswith("paraprop") and "as installed" not in c:
            tot = ranks * t
            if v > best_peer.get((w, tot), (0, None))[0]:
                best_peer[(w, tot)] = (v, c)

    order = {"paraprop (fast)": 0, "paraprop (exact)": 1, "torch": 5, "numpy": 6}
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
        if env.get("one_thread_runs_pinned_to_cpu"):
            lines.append("- one-thread runs (sgemm, FMA peak and ppgemm at 1 thread, paraprop 1×1, "
                         "the peers at 1 thread) pinned to CPU %s"
                         % env["one_thread_runs_pinned_to_cpu"])
        lines.append("- OpenBLAS cores: **%s** (the best the CPU's features allow; every OpenBLAS "
                     "user ran with OPENBLAS_CORETYPE=%s, set by bench/run.sh for that command "
                     "only), %s as installed (OpenBLAS's own choice%s); preset environment "
                     "(unset for every run): %s"
                     % (env.get("openblas_core_best"), env.get("openblas_core_best"),
                        env.get("openblas_core_as_installed"),
                        ", the same core: not run twice"
                        if env.get("blas_modes") == ["best"] else ", run beside",
                        json.dumps(env.get("openblas_preset") or {})))
        if env.get("paraprop_version"):
            lines.append("- `paraprop --version`: %s"
                         % env["paraprop_version"].replace("\n", " / "))
        if env.get("paraprop"):
            lines.append("- paraprop: `%s` (version %s, git %s)"
                         % (env["paraprop"], pp_version, env.get("paraprop_git")))
    ceilings = (
        (fma, fma_all, "FMA peak (%s, from registers)" % widest,
         lambda s: "bench/fmapeak.c"),
        (sgemm, sgemm_all, "sgemm, best core",
         lambda s: "cblas_sgemm %d², %s" % (s.get("n", 2048), s.get("blas", "OpenBLAS"))),
        (sgemm_asis, sgemm_asis_all, "sgemm, as installed",
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
                 "| % of FMA peak | % of sgemm | paraprop / best peer |")
    lines.append("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for k in keys:
        w, c, ranks, t = k
        v = med[k]
        runs = groups[k]
        spread = (max(runs) - min(runs)) / v * 100 if len(runs) > 1 and v else None
        gf = v * flop_per_sample(WORKLOADS[w]["layers"]) / 1e9
        lim = sgemm.get(ranks * t)
        pct = gf / lim["gflops"] * 100 if lim else None
        peak = fma.get(ranks * t)
        pct_own = gf / peak["gflops"] * 100 if peak else None
        ratio = ""
        if c.startswith("paraprop"):
            bp = best_peer.get((w, ranks * t))
            ratio = "%.2f (vs %s)" % (v / bp[0], bp[1]) if bp else "—"
        label = c + (" [%s]" % ", ".join(sorted(notes[k])) if k in notes else "")
        lines.append("| %s | %s | %d×%d | %s | %s | %s | %s | %s | %s |"
                     % (w, label, ranks, t, fmt(v), "%.0f%%" % spread if spread is not None
                        else "—", fmt(gf, 2), fmt(pct_own, 1), fmt(pct, 1), ratio))
    lines.append("")
    lines.append("GFLOP/s counts GEMM work only: %s FLOP/sample."
                 % ", ".join("%s %s" % (w, fmt(flop_per_sample(WORKLOADS[w]["layers"])))
                             for w in sorted(WORKLOADS)))
    lines.append("% of FMA peak and % of sgemm compare with the FMA peak and the best "
                 "cblas_sgemm rate (best OpenBLAS core) at the same total thread count (ranks × "
                 "threads); the best peer is the faster of torch and numpy with the best core. "
                 "Spread = (max − min) / median over the repeats.")
    shapes = read_jsonl(os.path.join(d, "shapes.jsonl"))
    if shapes:
        labels = []
        cells = {}
        for r in shapes:
            if r["label"] not in labels:
                labels.append(r["label"])
            k = (r["workload"], r["op"], r["M"], r["N"], r["K"], r["threads"])
            c = cells.setdefault(k, {})
            c[r["label"]] = max(c.get(r["label"], 0), r["gflops"])
        lines.append("")
        lines.append("Engines per product shape (bench/shapes.c), GFLOP/s, best of the "
                     "repetitions; op nt = A·Bᵀ (forward), nn = A·B (BP2), tn = Aᵀ·B (BP4); "
                     "with 2 threads each multiplies half the rows:")
        lines.append("")
        lines.append("| workload | op | M×N×K | threads | " + " | ".join(labels) + " | fastest |")
        lines.append("|---|---|---|---:|" + "---:|" * len(labels) + "---|")
        for k in sorted(cells, key=lambda k: (k[0], k[5])):
            c = cells[k]
            top = max(c, key=c.get)
            lines.append("| %s | %s | %d×%d×%d | %d | " % k + " | ".join(
                ("**%.1f**" if l == top else "%.1f") % c[l] if l in c else "—" for l in labels)
                + " | %s |" % top)
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
