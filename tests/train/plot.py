#!/usr/bin/python3
"""paraprop plot RUN_DIR: from a real run directory it writes a well-formed SVG whose curves are
the run's epochs — one polyline per logged series (train/test/validation loss, test/validation
accuracy, η), with one point per epoch inside its panel, ordered by epoch, and heights that rank
the values as metrics.jsonl does. A run without test or validation data draws only what it has.

usage: plot.py PARAPROP SCRATCH"""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from util import dataset, fail, lines, run, scratch  # noqa: E402

BIN, W = sys.argv[1], scratch(sys.argv[2])
NS = "{http://www.w3.org/2000/svg}"
full = dataset(BIN, W, 200, 40, 6, 3, n_val=50)
plain = dataset(BIN, W, 200, 0, 6, 3)
E = 5


def check(rd, path, want):
    tree = ET.parse(path)  # raises on malformed XML
    if tree.getroot().tag != NS + "svg":
        fail(f"{path}: root element {tree.getroot().tag}")
    epochs = lines(rd, "epoch")
    panels = {g.get("id"): g for g in tree.iter(NS + "g")}
    got = set()
    for g in panels.values():
        r = g.find(NS + "rect")
        x0, y0 = float(r.get("x")), float(r.get("y"))
        x1, y1 = x0 + float(r.get("width")), y0 + float(r.get("height"))
        for pl in g.iter(NS + "polyline"):
            key = pl.get("class")
            got.add(key)
            pts = [tuple(map(float, p.split(","))) for p in pl.get("points").split()]
            if len(pts) != len(epochs):
                fail(f"{key}: {len(pts)} points for {len(epochs)} epochs")
            xs = [p[0] for p in pts]
            if xs != sorted(xs) or not all(x0 - 1e-6 <= x <= x1 + 1e-6 and y0 - 1e-6 <= y <= y1 + 1e-6
                                           for x, y in pts):
                fail(f"{key}: points {pts} are not in epoch order inside the panel")
            vals = [e[key] for e in epochs]
            # higher value, higher on the page (smaller y): same order, ties aside
            for i in range(len(vals)):
                for j in range(len(vals)):
                    if vals[i] < vals[j] and not pts[i][1] > pts[j][1] - 1e-6:
                        fail(f"{key}: epoch {i + 1} ({vals[i]}) drawn above epoch {j + 1} ({vals[j]})")
    if got != want:
        fail(f"{path}: curves {sorted(got)}, expected {sorted(want)}")


rd = os.path.join(W, "full")
run(BIN, ["train", "--data", full, "--layers", "6,9,3", "--epochs", str(E), "--progress", "off",
          "--lr-schedule", "step:2:0.5", "--run-dir", rd])
_, out, _ = run(BIN, ["plot", rd])
if f"{E} epoch(s)" not in out:
    fail(f"plot output: {out}")
check(rd, os.path.join(rd, "curves.svg"),
      {"train_loss", "test_loss", "val_loss", "test_accuracy", "val_accuracy", "lr"})
print("ok plot of a run with test and validation data: six curves, one point per epoch")

rd2 = os.path.join(W, "plain")
run(BIN, ["train", "--data", plain, "--layers", "6,9,3", "--epochs", str(E), "--progress", "off",
          "--run-dir", rd2])
out_svg = os.path.join(W, "elsewhere.svg")
run(BIN, ["plot", rd2, "-o", out_svg])
check(rd2, out_svg, {"train_loss", "lr"})
print("ok plot -o of a run with training data only: the train loss and η")

# PNG through gnuplot: a real image of the panels' size; without gnuplot, status 2 and why
png = os.path.join(W, "curves.png")
_, out, _ = run(BIN, ["plot", rd, "-o", png])
with open(png, "rb") as f:
    head = f.read(24)
if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
    fail(f"{png} is not a PNG: {head!r}")
w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
if (w, h) != (900, 810) or f"{E} epoch(s)" not in out:
    fail(f"{png}: {w}x{h} ({out.strip()}), expected 900x810 and {E} epochs")
env = dict(os.environ, PATH="/nonexistent")
p = subprocess.run([os.path.abspath(BIN), "plot", rd, "-o", os.path.join(W, "none.png")],
                   capture_output=True, text=True, env=env)
if p.returncode != 2 or "gnuplot" not in p.stderr or os.path.exists(os.path.join(W, "none.png")):
    fail(f"PNG without gnuplot: status {p.returncode}, {p.stderr}")
print("ok plot -o FILE.png: a 900x810 PNG through gnuplot; without gnuplot, status 2 and why")
print("plot: all passed")
