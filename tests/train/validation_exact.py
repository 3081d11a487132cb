#!/usr/bin/python3
"""Validation is rank-free: in exact mode, the fingerprints, the per-epoch validation loss and
accuracy (full precision, from the checkpoint), η and the schedule/early-stopping state are
bitwise equal for ranks × threads ∈ {1,2,3} × {1,2}, with a seeded --validation-split hold-out
(plateau schedule), with a /validation group (cosine schedule, --monitor val_accuracy), and with
Adam + dropout + cosine + a hold-out.

usage: validation_exact.py PARAPROP SCRATCH"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from util import dataset, fail, fingerprint, history, run, scratch  # noqa: E402

BIN, W = sys.argv[1], scratch(sys.argv[2])
plain = dataset(BIN, W, 250, 40, 6, 3)
withval = dataset(BIN, W, 200, 40, 6, 3, n_val=50)
common = ["--layers", "6,9,3", "--batch-size", "10", "--epochs", "4", "--reduction", "exact",
          "--progress", "off"]
sgd = ["--learning-rate", "1", "--momentum", "0.3"]
configs = {
    "split": ["--data", plain, "--validation-split", "0.2", "--lr-schedule", "plateau:1:0.5:0.01",
              "--early-stop", "3"] + sgd,
    "group": ["--data", withval, "--lr-schedule", "cosine:1", "--monitor", "val_accuracy"] + sgd,
    # issue 12's combination: Adam + dropout + cosine + validation
    "adam-dropout": ["--data", plain, "--validation-split", "0.2", "--lr-schedule", "cosine:1",
                     "--optimizer", "adam", "--learning-rate", "0.05", "--dropout", "0.3",
                     "--early-stop", "3"],
}
for name, extra in configs.items():
    ref = None
    for R in (1, 2, 3):
        for T in (1, 2):
            rd = os.path.join(W, f"{name}-{R}-{T}")
            _, out, _ = run(BIN, ["train"] + common + extra + ["--threads", str(T), "--run-dir", rd],
                            ranks=R)
            m, st, attrs = history(os.path.join(rd, "final.h5"))
            _, _, battrs = history(os.path.join(rd, "best.h5"))
            got = {
                "fingerprint": fingerprint(out),
                "val_loss": m["val_loss"].tobytes(),
                "val_accuracy": m["val_accuracy"].tobytes(),
                "learning_rate": m["learning_rate"].tobytes(),
                "state": sorted((k, np.asarray(v).tobytes()) for k, v in st.items()),
                "best": (battrs["fingerprint"], int(battrs["epoch"])),
                "data_samples": int(attrs["data_samples"]),
            }
            if not (m["val_accuracy"] >= 0).all() or not np.isfinite(m["val_loss"]).all():
                fail(f"{name} R={R} T={T}: no validation metrics: {m['val_accuracy']}")
            if ref is None:
                ref = got
                want_n = 200
                if got["data_samples"] != want_n:
                    fail(f"{name}: {got['data_samples']} training samples, expected {want_n}")
                continue
            for k in ref:
                if got[k] != ref[k]:
                    fail(f"{name}: R={R} T={T}: {k} differs from R=1 T=1: {got[k]!r} vs {ref[k]!r}")
    print(f"ok {name}: identical on 1-3 ranks x 1-2 threads, fingerprint {ref['fingerprint']}, "
          f"best epoch {ref['best'][1]}")
print("validation_exact: all passed")
