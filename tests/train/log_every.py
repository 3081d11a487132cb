#!/usr/bin/python3
"""--log-every N: a step line in metrics.jsonl every N global steps with loss, η, samples/s and
the data/compute/allreduce/optimizer times as min ≤ mean ≤ max over the ranks, and the same
steps as lines on stderr when it is not a terminal (here a pipe); with N = steps per epoch the
line's loss is the epoch's train_loss. A resume from an older checkpoint leaves each step line
once. No line with --log-every 0.

usage: log_every.py PARAPROP SCRATCH"""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from util import dataset, fail, lines, run, scratch  # noqa: E402

BIN, W = sys.argv[1], scratch(sys.argv[2])
data = dataset(BIN, W, 200, 0, 6, 3)
N, B, E = 200, 10, 3
S = N // B
base = ["train", "--data", data, "--layers", "6,9,3", "--batch-size", str(B), "--epochs", str(E),
        "--progress", "off", "--threads", "1", "--learning-rate", "0.5"]

rd = os.path.join(W, "seven")
_, out, err = run(BIN, base + ["--log-every", "7", "--run-dir", rd], ranks=2)
steps = lines(rd, "step")
want = list(range(7, E * S + 1, 7))
if [s["global_step"] for s in steps] != want:
    fail(f"step lines at {[s['global_step'] for s in steps]}, expected {want}")
for s in steps:
    g = s["global_step"]
    if s["epoch"] != (g - 1) // S + 1 or s["step"] != (g - 1) % S + 1:
        fail(f"step line {s}: epoch/step do not match global step {g}")
    if not (s["loss"] > 0 and s["lr"] == 0.5 and s["samples_per_s"] > 0):
        fail(f"step line {s}: loss, lr or samples_per_s")
    for ph in ("data", "compute", "allreduce", "optimizer"):
        t = s[ph + "_s"]
        if not 0 <= t["min"] <= t["mean"] <= t["max"]:
            fail(f"step line {g}: {ph}_s {t} is not 0 ≤ min ≤ mean ≤ max")
got = [int(m) for m in re.findall(r"^paraprop: epoch \d+ step \d+/\d+ \(global (\d+)\): loss [0-9.]+"
                                  r"  lr [0-9.e-]+  \d+ samples/s", err, re.M)]
if got != want:
    fail(f"stderr (a pipe) has step lines for {got}, expected {want}:\n{err[-1500:]}")
print(f"ok {len(want)} step lines on 2 ranks in metrics.jsonl and on stderr, fields complete")

rd = os.path.join(W, "epochwise")
run(BIN, base + ["--log-every", str(S), "--run-dir", rd, "--checkpoint-every", "8steps",
                 "--keep", "100"])
steps, epochs = lines(rd, "step"), lines(rd, "epoch")
if [s["loss"] for s in steps] != [e["train_loss"] for e in epochs]:
    fail(f"--log-every {S}: losses {[s['loss'] for s in steps]} vs train_loss "
         f"{[e['train_loss'] for e in epochs]}")
print("ok with N = steps per epoch each line's loss is the epoch's train_loss")

# lose everything after global step 16, resume: the replayed steps' lines are not doubled
for p in glob.glob(os.path.join(rd, "checkpoints", "*.h5")):
    if int(os.path.basename(p)[5:17]) > 16:
        os.remove(p)
os.remove(os.path.join(rd, "final.h5"))
run(BIN, base + ["--log-every", str(S), "--run-dir", rd, "--checkpoint-every", "8steps",
                 "--keep", "100"])
again = lines(rd, "step")
if [s["global_step"] for s in again] != [S * (e + 1) for e in range(E)]:
    fail(f"after a resume from step 16 the step lines are {[s['global_step'] for s in again]}")
print("ok a resume from an older checkpoint leaves each step line once")

rd = os.path.join(W, "off")
_, out, err = run(BIN, base + ["--run-dir", rd])
if lines(rd, "step") or "step" in err:
    fail("--log-every 0 still logs steps")
print("ok nothing with --log-every 0")
print("log_every: all passed")
