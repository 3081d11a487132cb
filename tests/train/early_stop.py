#!/usr/bin/python3
"""Early stopping: the run ends with status 0 at the epoch the rule gives for its own logged
validation losses (full precision, from final.h5), says why, and keeps the best epoch's model in
best.h5 (its fingerprint is that epoch's, and `eval --split validation` of it gives that epoch's
val_loss). Interrupted mid-patience — by --stop-after (status 75, then the same command again)
and by losing everything after a mid-patience checkpoint, resumed on 2 ranks × 2 threads — it
ends at the same epoch with the same bits. Running the finished command again does nothing.

usage: early_stop.py PARAPROP SCRATCH"""
import glob
import os
import re
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from util import dataset, fail, fingerprint, history, lines, run, scratch  # noqa: E402

BIN, W = sys.argv[1], scratch(sys.argv[2])
data = dataset(BIN, W, 200, 40, 6, 3, n_val=50)
P, B, N = 3, 10, 200
S = (N + B - 1) // B
base = ["train", "--data", data, "--layers", "6,9,3", "--batch-size", str(B), "--epochs", "80",
        "--learning-rate", "3", "--early-stop", str(P), "--reduction", "exact", "--progress", "off",
        "--checkpoint-every", "7steps", "--keep", "1000"]
if len(sys.argv) > 3 and sys.argv[3] == "adam":
    # issue 12's combination: Adam, dropout and the plateau schedule under early stopping, so
    # the interrupted runs below must also carry the moments, the masks' step and the plateau
    # counter across the resume
    i = base.index("--learning-rate")
    base[i + 1] = "0.05"
    base += ["--optimizer", "adam", "--dropout", "0.2", "--lr-schedule", "plateau:2:0.5:1e-7"]


def summary(rd, out):
    m, st, _ = history(os.path.join(rd, "final.h5"))
    _, _, battrs = history(os.path.join(rd, "best.h5"))
    return {"fingerprint": fingerprint(out), "val_loss": m["val_loss"].tobytes(),
            "epochs": len(m["epoch"]), "state": {k: float(v) for k, v in st.items()},
            "best": battrs["fingerprint"], "best_epoch": int(battrs["epoch"])}


# --- the uninterrupted run
A = os.path.join(W, "a")
_, out, err = run(BIN, base + ["--run-dir", A, "--threads", "1"])
m, st, _ = history(os.path.join(A, "final.h5"))
vl = m["val_loss"]
# the rule, replayed on the logged values: a new best is strictly lower; stop once P epochs passed
best, best_e, stop_e = np.inf, 0, None
for e, v in enumerate(vl, 1):
    if v < best:
        best, best_e = v, e
    elif e - best_e >= P:
        stop_e = e
        break
if stop_e is None:
    fail(f"the rule never stops on the logged val_loss {vl}: the test needs a run that stops")
if len(vl) != stop_e:
    fail(f"the run trained {len(vl)} epochs; the rule on its val_loss stops after {stop_e}")
msg = re.search(r"early stop after epoch (\d+): val_loss has not improved for (\d+) epoch", out + err)
if not msg or int(msg.group(1)) != stop_e or int(msg.group(2)) != P:
    fail(f"no 'early stop after epoch {stop_e}' reason in the output:\n{out}{err}")
if int(st["stopped"]) != 1 or int(st["best_epoch"]) != best_e or int(st["patience_count"]) != P:
    fail(f"/training_state {st}, expected stopped 1, best_epoch {best_e}, patience_count {P}")
if st["best_metric"] != vl[best_e - 1]:
    fail(f"best_metric {st['best_metric']!r} is not val_loss[{best_e}] {vl[best_e - 1]!r}")
print(f"ok stops after epoch {stop_e} (best {best_e}, patience {P}) with status 0")

# --- best.h5 is the best epoch's model
sa = summary(A, out)
ep = {j["epoch"]: j for j in lines(A, "epoch")}
if sa["best_epoch"] != best_e or sa["best"] != ep[best_e]["fingerprint"]:
    fail(f"best.h5: epoch {sa['best_epoch']} fingerprint {sa['best']}, expected epoch {best_e} "
         f"fingerprint {ep[best_e]['fingerprint']}")
_, ev, _ = run(BIN, ["eval", "--data", data, "--model", os.path.join(A, "best.h5"),
                     "--split", "validation", "--threads", "1"])
got = float(re.search(r"^loss: (\S+)", ev, re.M).group(1))
if abs(got - vl[best_e - 1]) > 5e-7:  # eval prints 6 decimals
    fail(f"eval of best.h5 on the validation set: loss {got}, the run logged {vl[best_e - 1]}")
print(f"ok best.h5 holds epoch {best_e}'s parameters (fingerprint and eval loss {got})")

# --- stopped by --stop-after in the middle of the patience, then the same command again
mid = (best_e + 1) * S + S // 2
if not best_e + 1 < stop_e:
    fail("no epoch lies between the best one and the stop")
Bd = os.path.join(W, "b")
cmd = base + ["--run-dir", Bd, "--threads", "2", "--stop-after", f"{mid}steps"]
status, outb, errb = run(BIN, cmd, expect=None)
if status != 75:
    fail(f"--stop-after {mid}steps: status {status}, expected 75\n{errb}")
for _ in range(10):
    status, outb, errb = run(BIN, cmd, expect=None)
    if status != 75:
        break
if status != 0:
    fail(f"resumed run: status {status}\n{errb}")
sb = summary(Bd, outb)
if sb != sa:
    fail(f"interrupted at step {mid} and resumed: {sb}\nuninterrupted: {sa}")
print(f"ok stopped at step {mid} (mid-patience) and resumed: same stop epoch and bits")

# --- everything after a mid-patience checkpoint lost (as after SIGKILL), resumed on 2×2
C = os.path.join(W, "c")
shutil.copytree(A, C)
keep = max(int(os.path.basename(p)[5:17]) for p in glob.glob(os.path.join(C, "checkpoints", "*.h5"))
           if int(os.path.basename(p)[5:17]) <= mid)
for p in glob.glob(os.path.join(C, "checkpoints", "*.h5")):
    if int(os.path.basename(p)[5:17]) > keep:
        os.remove(p)
os.remove(os.path.join(C, "final.h5"))
_, outc, _ = run(BIN, base + ["--run-dir", C, "--threads", "2"], ranks=2)
sc = summary(C, outc)
if sc != sa:
    fail(f"resumed from global step {keep} on 2x2: {sc}\nuninterrupted: {sa}")
print(f"ok resumed from the checkpoint at global step {keep} on 2 ranks x 2 threads: same bits")

# --- the finished run's command again: nothing to train
_, outd, errd = run(BIN, base + ["--run-dir", A, "--threads", "1"])
if "already ended" not in outd + errd or fingerprint(outd) != sa["fingerprint"]:
    fail(f"re-running the finished command:\n{outd}{errd}")
print("ok the finished run's command again trains nothing")
# --- a resume under another schedule, monitor or hold-out would be another run: refused
Dd = os.path.join(W, "d")
run(BIN, base + ["--run-dir", Dd, "--stop-after", "5steps"], expect=75)
for extra, what in ((["--lr-schedule", "step:1:0.5"], "--lr-schedule"),
                    (["--monitor", "val_accuracy"], "--monitor")):
    status, o, e = run(BIN, base + ["--run-dir", Dd] + extra, expect=None)
    if status != 2 or "cannot resume" not in e or what not in e:
        fail(f"resume with {' '.join(extra)}: status {status}\n{e[-800:]}")
plain = dataset(BIN, W, 250, 0, 6, 3)
Ed = os.path.join(W, "e")
split = ["--data", plain, "--validation-split", "50"]
run(BIN, base + split + ["--run-dir", Ed, "--stop-after", "5steps"], expect=75)
status, o, e = run(BIN, base + ["--data", plain, "--validation-split", "0.2", "--run-dir", Ed],
                   expect=None)
# 0.2 of 250 is the same 50 samples: refused for the option, not for the training-set size
if status != 2 or "cannot resume" not in e or "--validation-split 50, this run 0.2" not in e:
    fail(f"resume with another --validation-split: status {status}\n{e[-800:]}")
print("ok a resume with another --lr-schedule, --monitor or --validation-split is refused")
print("early_stop: all passed")
