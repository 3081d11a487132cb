#!/usr/bin/python3
"""Nielsen, chapter 3, on the first 1000 MNIST training images (tests/data/mnist): 784-30-10
sigmoid network, cross-entropy, minibatch 10, η = 0.5, λ = 0.1, his "no improvement in ten
epochs" early stopping on validation accuracy (validation: training images 1001-2000), in exact
mode. The stop epoch, the best epoch, both models' fingerprints, every epoch's validation
metrics and the best model's test accuracy (official 10,000 test images) are the same on
1, 2, 3 ranks × 1, 2 threads (three of these shapes in an ASan build). `plateau`: his
learning-rate rule instead, η halved down to η0/128, the same on 1×1 and 3×2 (3×2 alone under
ASan). Prints the numbers docs/TRAINING.md reports.

usage: nielsen_mnist.py PARAPROP SCRATCH [early-stop|plateau]  (default early-stop)"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from util import fail, fingerprint, history, run, scratch  # noqa: E402

BIN, W = sys.argv[1], scratch(sys.argv[2])
MODE = sys.argv[3] if len(sys.argv) > 3 else "early-stop"
M = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist")
img, lab = (os.path.join(M, f"train10k-{k}-idx{n}-ubyte.gz") for k, n in (("images", 3), ("labels", 1)))
data = os.path.join(W, "mnist1000.h5")
run(BIN, ["convert", "idx", "--train-images", img, "--train-labels", lab, "--train-count", "2000",
          "--validation-count", "1000", "-o", data])
# the test set in a file of its own: evaluated once, on the best model, not every epoch
test = os.path.join(W, "mnist-test.h5")
run(BIN, ["convert", "idx", "--train-images", img, "--train-labels", lab, "--train-count", "10",
          "--test-images", os.path.join(M, "t10k-images-idx3-ubyte.gz"),
          "--test-labels", os.path.join(M, "t10k-labels-idx1-ubyte.gz"), "-o", test])
args = ["train", "--data", data, "--layers", "784,30,10", "--hidden-activation", "sigmoid",
        "--output-activation", "sigmoid", "--cost", "cross-entropy", "--batch-size", "10",
        "--learning-rate", "0.5", "--l2", "0.1", "--epochs", "400", "--early-stop", "10",
        "--monitor", "val_accuracy", "--reduction", "exact", "--progress", "off",
        "--checkpoint-every", "none"]
# Under ASan (10-20x slower here) three of the six shapes, still 1-3 ranks and 1-2 threads: that
# build looks for memory errors; the ci build checks all six.
ASAN = b"libasan" in subprocess.run(["ldd", BIN], capture_output=True).stdout
shapes = [(1, 1), (2, 2), (3, 1)] if ASAN else [(R, T) for R in (1, 2, 3) for T in (1, 2)]
ref = None
for R, T in shapes if MODE == "early-stop" else ():
    rd = os.path.join(W, f"r{R}t{T}")
    _, out, err = run(BIN, args + ["--threads", str(T), "--run-dir", rd], ranks=R)
    stop = re.search(r"early stop after epoch (\d+)", out + err)
    if not stop:
        fail(f"R={R} T={T}: no early stop within 400 epochs:\n{(out + err)[-1500:]}")
    m, st, _ = history(os.path.join(rd, "final.h5"))
    _, _, b = history(os.path.join(rd, "best.h5"))
    _, ev, _ = run(BIN, ["eval", "--data", test, "--model", os.path.join(rd, "best.h5"),
                         "--threads", "1"])
    got = {"stop": int(stop.group(1)), "best_epoch": int(st["best_epoch"]),
           "best_val_accuracy": float(st["best_metric"]), "fingerprint": fingerprint(out),
           "best": b["fingerprint"], "val_loss": m["val_loss"].tobytes(),
           "val_accuracy": m["val_accuracy"].tobytes(),
           "test_accuracy": re.search(r"^accuracy: (\S+)", ev, re.M).group(1),
           "test_loss": re.search(r"^loss: (\S+)", ev, re.M).group(1)}
    if got["best_epoch"] + 10 != got["stop"] or b["epoch"] != got["best_epoch"]:
        fail(f"R={R} T={T}: best epoch {got['best_epoch']} (best.h5 {b['epoch']}), stop "
             f"{got['stop']}: not ten epochs apart")
    if ref is None:
        ref = got
    for k in ref:
        if got[k] != ref[k]:
            fail(f"R={R} T={T}: {k} {got[k]!r} differs from R=1 T=1 {ref[k]!r}")
    print(f"ok R={R} T={T}")
if ref:
    print(f"stopped after epoch {ref['stop']}; best epoch {ref['best_epoch']}: validation accuracy "
          f"{ref['best_val_accuracy']:.4f}; its test accuracy {ref['test_accuracy']} (test loss "
          f"{ref['test_loss']}); best.h5 fingerprint {ref['best']}")

# Nielsen's learning-rate rule instead: halve η after ten epochs without improvement, end when
# it has reached η0/128 (and ten more epochs bring nothing): ~100 epochs.
if MODE == "plateau":
    i = args.index("--early-stop")
    plat = args[:i] + args[i + 2:] + ["--lr-schedule", "plateau:10:0.5:0.00390625"]
    pref = None
    for R, T in ((3, 2),) if ASAN else ((1, 1), (3, 2)):
        rd = os.path.join(W, f"plateau-r{R}t{T}")
        _, out, err = run(BIN, plat + ["--threads", str(T), "--run-dir", rd], ranks=R)
        stop = re.search(r"stopped after epoch (\d+): the plateau schedule's learning rate is at its "
                         r"floor", out + err)
        if not stop:
            fail(f"plateau R={R} T={T}: no end at the floor:\n{(out + err)[-1500:]}")
        m, st, _ = history(os.path.join(rd, "final.h5"))
        lr = m["learning_rate"]
        cuts = [e + 1 for e in range(1, len(lr)) if lr[e] < lr[e - 1]]
        _, ev, _ = run(BIN, ["eval", "--data", test, "--model", os.path.join(rd, "best.h5"),
                             "--threads", "1"])
        got = {"stop": int(stop.group(1)), "cuts": cuts, "best_epoch": int(st["best_epoch"]),
               "best_val_accuracy": float(st["best_metric"]), "fingerprint": fingerprint(out),
               "lr": lr.tobytes(), "test_accuracy": re.search(r"^accuracy: (\S+)", ev, re.M).group(1)}
        if len(cuts) != 7 or lr[-1] != 0.5 / 128:
            fail(f"plateau R={R} T={T}: η cut at epochs {cuts}, last η {lr[-1]}: expected seven "
                 f"halvings down to 0.5/128")
        pref = pref or got
        if got != pref:
            fail(f"plateau R={R} T={T}: {got} differs from R=1 T=1 {pref}")
        print(f"ok plateau R={R} T={T}")
    print(f"plateau: η halved at the start of epochs {pref['cuts']}; stopped after epoch "
          f"{pref['stop']}; best epoch {pref['best_epoch']}: validation accuracy "
          f"{pref['best_val_accuracy']:.4f}; its test accuracy {pref['test_accuracy']}")
print("nielsen_mnist: all passed")
