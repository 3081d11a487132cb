#!/usr/bin/python3
"""Learning-rate schedules against a numpy reference: the η of every step (from --log-every 1
step lines, printed to 17 digits) and of every epoch (final.h5 /metrics/learning_rate) for
constant, step:EVERY:GAMMA, cosine and cosine:WARMUP; the plateau rule replayed on the run's own
logged validation losses (full precision), including the end at its floor.

usage: schedules.py PARAPROP SCRATCH"""
import math
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from util import dataset, fail, history, lines, run, scratch  # noqa: E402

BIN, W = sys.argv[1], scratch(sys.argv[2])
data = dataset(BIN, W, 200, 0, 6, 3, n_val=50)
N, B, E, ETA = 200, 10, 6, 3.0
S = (N + B - 1) // B
base = ["train", "--data", data, "--layers", "6,9,3", "--batch-size", str(B), "--epochs", str(E),
        "--learning-rate", str(ETA), "--progress", "off", "--log-every", "1", "--threads", "1",
        "--checkpoint-every", "none"]


def reference(kind, args, g):
    """η of the step with 0-based global index g (docs/TRAINING.md)."""
    if kind == "constant":
        return ETA
    if kind == "step":
        every, gamma = int(args[0]), float(args[1])
        return ETA * gamma ** ((g // S) // every)
    if kind == "cosine":
        w = (int(args[0]) if args else 0) * S
        total = E * S
        if g < w:
            return ETA * (g + 1) / w
        return ETA * 0.5 * (1 + math.cos(math.pi * (g - w) / (total - w)))
    raise ValueError(kind)


def close(a, b):
    return abs(a - b) <= 1e-12 * max(abs(a), abs(b), 1e-300)


def train(name, sched, epochs=E):
    rd = os.path.join(W, name)
    _, out, err = run(BIN, base + ["--lr-schedule", sched, "--run-dir", rd, "--epochs", str(epochs)])
    steps = lines(rd, "step")
    m, st, _ = history(os.path.join(rd, "final.h5"))
    return rd, steps, m, st, out + err


for sched in ("constant", "step:2:0.5", "step:1:0.9", "cosine", "cosine:2"):
    kind, *args = sched.split(":")
    rd, steps, m, _, _ = train(sched.replace(":", "_"), sched)
    if [s["global_step"] for s in steps] != list(range(1, E * S + 1)):
        fail(f"{sched}: step lines for global steps {[s['global_step'] for s in steps][:5]}…")
    want = np.array([reference(kind, args, g) for g in range(E * S)])
    got = np.array([s["lr"] for s in steps])
    bad = [g for g in range(E * S) if not close(got[g], want[g])]
    if bad:
        g = bad[0]
        fail(f"{sched}: step {g + 1} ran with η {got[g]!r}, the reference gives {want[g]!r}")
    ep = m["learning_rate"]
    for e in range(E):
        if not close(ep[e], want[e * S]):
            fail(f"{sched}: epoch {e + 1} logs η {ep[e]!r}, its first step had {want[e * S]!r}")
    print(f"ok {sched}: η of all {E * S} steps and {E} epochs match the reference "
          f"({want[0]:.4g} … {want[-1]:.4g})")


def plateau(vl, patience, factor, floor):
    """η of each epoch and the epoch after which the rule ends the run (or None)."""
    lr, best, count, etas = ETA, math.inf, 0, []
    for e, v in enumerate(vl, 1):
        etas.append(lr)
        if v < best:
            best, count = v, 0
        else:
            count += 1
        if count >= patience:
            if lr <= floor:
                return etas, e
            lr, count = max(lr * factor, floor), 0
    return etas, None


for sched, want_stop in (("plateau:1:0.5:0.01", False), ("plateau:1:0.5:1.5", True)):
    _, P, F, MIN = sched.split(":")
    epochs = 40 if want_stop else E
    rd, steps, m, st, log = train(sched.replace(":", "_"), sched, epochs)
    log = "\n".join(l for l in log.splitlines() if "step" not in l)[-1500:]
    vl = m["val_loss"]
    etas, stop = plateau(vl, int(P), float(F), float(MIN))
    cuts = sum(1 for a, b in zip(etas, etas[1:]) if b < a)
    if not cuts:
        fail(f"{sched}: the logged val_loss {vl} never stalls: the test needs a run that does")
    if list(m["learning_rate"]) != etas:
        fail(f"{sched}: logged η per epoch {list(m['learning_rate'])}, the rule gives {etas}")
    for s in steps:  # within an epoch the plateau η is the epoch's
        if s["lr"] != etas[(s["global_step"] - 1) // S]:
            fail(f"{sched}: step {s['global_step']} ran with η {s['lr']}")
    if want_stop:
        if stop is None or len(vl) != stop or "at its floor" not in log or int(st["stopped"]) != 2:
            fail(f"{sched}: the rule ends after epoch {stop}; the run trained {len(vl)} epochs, "
                 f"stopped={st.get('stopped')}:\n{log}")
        print(f"ok {sched}: {cuts} cut(s) as the rule gives, then the end at the floor after "
              f"epoch {stop}")
    else:
        if stop is not None or len(vl) != epochs:
            fail(f"{sched}: stopped after {len(vl)} epochs; the rule gives {stop}")
        print(f"ok {sched}: η per epoch {etas} as the rule gives on the logged val_loss")
    if not re.search(r"lr [0-9.]+", log):
        fail(f"{sched}: the epoch lines do not show η:\n{log}")
print("schedules: all passed")
