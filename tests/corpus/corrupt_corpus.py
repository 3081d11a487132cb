#!/usr/bin/python3
"""Generated corrupt-file corpus: paraprop must refuse damaged files cleanly.

usage: corrupt_corpus.py PARAPROP_BINARY SCRATCH_DIR [-j JOBS] [-v] [-k SUBSTRING] [--keep]

From a valid small dataset (made with 'paraprop convert csv') and a valid small checkpoint
(made with 'paraprop train --epochs 1'), this writes several hundred corrupt variants into
SCRATCH_DIR/corrupt_corpus:

  * truncations at >= 40 offsets spread over each file (including 0 and size-1),
  * single-byte flips (XOR 0xff) at >= 40 offsets striding over each whole file,
  * structural damage made with h5py: wrong dtype / rank of the weights, missing or
    inconsistent /model/layer_sizes, huge layer sizes, negative counters, every required root
    attribute of a checkpoint removed one at a time, a few more; and damaged dataset groups.
    These are re-sealed with 'paraprop seal' so that the checks behind the seal are reached;
    the truncations and flips keep their original seal, which must catch them.

Checkpoints are given to 'paraprop inspect FILE', datasets to
'paraprop train --data FILE --layers D,4,K --epochs 1 --run-dir R --checkpoint-every none'.
A case passes when
  * paraprop ends within 60 s and is not killed by a signal,
  * the exit status is 3 (bad input), or 0 where the damage may be harmless: a byte flip or
    truncation that leaves a checkpoint for which inspect says "valid: yes" with the original
    fingerprint, or a dataset on which the training really ran (never for structural damage),
  * for a non-zero status, the output names the file,
  * the output holds no "ERROR: AddressSanitizer" / "runtime error:" report (run it with an
    ASan/UBSan build, e.g. build/asan/src/app/paraprop; ASAN_OPTIONS=detect_leaks=0 is set).
A launch whose output shows Open MPI's own start-up failing (before paraprop runs) is repeated
once and reported. The last line is "N passed, M failed"; the exit status is 1 if any case failed.
Only python3 with h5py and numpy is needed.
"""
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

TIMEOUT = 60
ROOT_ATTRS = ["format", "format_version", "complete", "seed", "epoch", "step", "samples_seen",
              "batch_size", "ranks", "threads", "reduction", "epoch_loss_sum", "epoch_loss_count",
              "elapsed_seconds", "data_samples", "data_inputs", "data_outputs", "data_path",
              "fingerprint", "created_utc", "paraprop_version", "precision", "config"]
N_OFFSETS = 48  # per file and kind (truncation, flip): the brief asks for >= 40
D, K = 4, 3


def usage():
    sys.exit(__doc__.split("\n\n")[1])


argv = sys.argv[1:]
VERBOSE = "-v" in argv
KEEP = "--keep" in argv
JOBS = 2
ONLY = None
pos = []
i = 0
while i < len(argv):
    a = argv[i]
    if a in ("-j", "-k"):
        if i + 1 >= len(argv):
            usage()
        if a == "-j":
            JOBS = max(1, int(argv[i + 1]))
        else:
            ONLY = argv[i + 1]
        i += 2
        continue
    if not a.startswith("-"):
        pos.append(a)
    i += 1
if len(pos) != 2:
    usage()
BIN = os.path.abspath(pos[0])
W = os.path.join(os.path.abspath(pos[1]), "corrupt_corpus")
shutil.rmtree(W, ignore_errors=True)
os.makedirs(W)
ENV = dict(os.environ, OMP_NUM_THREADS="1", ASAN_OPTIONS="detect_leaks=0",
           UBSAN_OPTIONS="print_stacktrace=1", OMPI_ALLOW_RUN_AS_ROOT="1",
           OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
SAN_RE = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:")


def P(*parts):
    return os.path.join(W, *parts)


# Open MPI's own start-up failing (its daemon did not come up, seen once in 296 singleton
# starts inside a loaded fresh chroot) happens before any paraprop code runs: such a launch is
# repeated once and counted, never judged.
MPI_STARTUP_FAILURE = re.compile(r"orte_ess_init failed|ompi_rte_init failed|"
                                 r"Unable to start a daemon on the local node")
RELAUNCHED = []


def run(args, cwd=W):
    """Runs paraprop (again once if Open MPI itself failed to start); returns (status or
    'timeout', output, seconds). A negative status is a signal (subprocess convention)."""
    rc, out, secs = run_once(args, cwd)
    if rc != 0 and MPI_STARTUP_FAILURE.search(out):
        RELAUNCHED.append(" ".join(args))
        rc, out, secs = run_once(args, cwd)
    return rc, out, secs


def run_once(args, cwd):
    t0 = time.time()
    p = subprocess.Popen([BIN] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         cwd=cwd, env=ENV, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=TIMEOUT)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        rc = "timeout"
    return rc, out.decode("utf-8", "replace"), time.time() - t0


def must(args, what):
    rc, out, _ = run(args)
    if rc != 0:
        sys.exit(f"corrupt_corpus: making the {what} failed (status {rc}):\n{out}")
    return out


def fingerprint_of(out):
    m = re.search(r"^fingerprint: ([0-9a-f]{64})$", out, re.M)
    return m.group(1) if m else None


# ------------------------------------------------------------------ the two valid originals
rng = np.random.default_rng(11)
with open(P("train.csv"), "w") as f:
    for i in range(12):
        f.write(",".join([str(i % K)] + ["%.4f" % v for v in rng.standard_normal(D)]) + "\n")
with open(P("test.csv"), "w") as f:
    for i in range(6):
        f.write(",".join([str(i % K)] + ["%.4f" % v for v in rng.standard_normal(D)]) + "\n")
DATASET = P("dataset.h5")
must(["convert", "csv", "--train", P("train.csv"), "--test", P("test.csv"), "-o", DATASET],
     "dataset")
must(["train", "--data", DATASET, "--layers", f"{D},4,{K}", "--epochs", "1", "--momentum", "0.5",
      "--run-dir", P("run-original"), "--checkpoint-every", "none", "--progress", "off"],
     "checkpoint")
CHECKPOINT = P("checkpoint.h5")
shutil.copy(P("run-original", "final.h5"), CHECKPOINT)
out = must(["inspect", CHECKPOINT], "inspection of the original checkpoint")
FINGERPRINT = fingerprint_of(out)
if not FINGERPRINT or "valid: yes" not in out:
    sys.exit(f"corrupt_corpus: the original checkpoint does not inspect as valid:\n{out}")
with open(CHECKPOINT, "rb") as f:
    CK_BYTES = f.read()
with open(DATASET, "rb") as f:
    DS_BYTES = f.read()
os.makedirs(P("cases"))

# ------------------------------------------------------------------ the variants
# (name, kind "checkpoint" | "dataset", path, zero_ok: may status 0 be acceptable)
CASES = []


def add(name, kind, path, zero_ok):
    CASES.append((name, kind, path, zero_ok))


def offsets(size, n):
    """n distinct offsets spread over [0, size), always including 0 and size-1."""
    if size <= n:
        return list(range(size))
    return sorted({0, size - 1} | {round(i * (size - 1) / (n - 1)) for i in range(n)})


def flip_offsets(size, n):
    """Offsets striding over the whole file, shifted off the truncation grid."""
    stride = max(1, size // n)
    return sorted({min(size - 1, i * stride + stride // 3) for i in range(n)} | {0, size - 1})


for kind, data in (("checkpoint", CK_BYTES), ("dataset", DS_BYTES)):
    short = "ck" if kind == "checkpoint" else "ds"
    for off in offsets(len(data), N_OFFSETS):
        path = P("cases", f"{short}-trunc-{off:06d}.h5")
        with open(path, "wb") as f:
            f.write(data[:off])
        add(os.path.basename(path)[:-3], kind, path, True)
    for off in flip_offsets(len(data), N_OFFSETS):
        b = bytearray(data)
        b[off] ^= 0xFF
        path = P("cases", f"{short}-flip-{off:06d}.h5")
        with open(path, "wb") as f:
            f.write(b)
        add(os.path.basename(path)[:-3], kind, path, True)


def structural(kind, name, mutate):
    """A copy of the original changed with h5py (zero_ok is False: it must be refused)."""
    path = P("cases", f"{'ck' if kind == 'checkpoint' else 'ds'}-{name}.h5")
    shutil.copy(CHECKPOINT if kind == "checkpoint" else DATASET, path)
    with h5py.File(path, "r+") as f:
        mutate(f)
    # renew the SHA-256 seal, as a user who edits a file on purpose would: otherwise the seal
    # check refuses every variant before the reader's own checks are reached
    must(["seal", path], f"re-sealing {os.path.basename(path)}")
    add(os.path.basename(path)[:-3], kind, path, False)


def replace(f, name, data=None, **kw):
    """Replaces dataset `name` by a new one (same attributes not kept)."""
    del f[name]
    return f.create_dataset(name, data=data, **kw)


def set_attr(name, value):
    def m(f):
        f.attrs[name] = value
    return m


def weights(f, l=1):
    return f[f"/model/layer_{l}/weights"][()]


# checkpoint: the model
structural("checkpoint", "weights-int32",
           lambda f: replace(f, "/model/layer_1/weights", weights(f).astype(np.int32)))
structural("checkpoint", "weights-float64-wrong-shape",
           lambda f: replace(f, "/model/layer_1/weights", weights(f).astype(np.float64).T))
structural("checkpoint", "weights-rank1",
           lambda f: replace(f, "/model/layer_1/weights", weights(f).ravel()))
structural("checkpoint", "weights-rank3",
           lambda f: replace(f, "/model/layer_1/weights", weights(f)[None, :, :]))
structural("checkpoint", "weights-scalar",
           lambda f: replace(f, "/model/layer_2/weights", np.float32(1.0)))
structural("checkpoint", "weights-string",
           lambda f: replace(f, "/model/layer_1/weights", np.bytes_("weights")))
structural("checkpoint", "weights-missing", lambda f: f.__delitem__("/model/layer_2/weights"))
structural("checkpoint", "biases-missing", lambda f: f.__delitem__("/model/layer_1/biases"))
structural("checkpoint", "biases-rank2",
           lambda f: replace(f, "/model/layer_1/biases", f["/model/layer_1/biases"][()][:, None]))
structural("checkpoint", "layer-group-missing", lambda f: f.__delitem__("/model/layer_2"))
structural("checkpoint", "model-group-missing", lambda f: f.__delitem__("/model"))
structural("checkpoint", "optimizer-weights-wrong-shape",
           lambda f: replace(f, "/optimizer/layer_1/weights",
                             np.zeros((3, 3), dtype=np.float32)))
structural("checkpoint", "optimizer-layer2-missing",
           lambda f: f.__delitem__("/optimizer/layer_2"))
structural("checkpoint", "weights-changed",  # the fingerprint no longer matches
           lambda f: replace(f, "/model/layer_1/weights", weights(f) + np.float32(0.5)))
structural("checkpoint", "weights-nan",
           lambda f: replace(f, "/model/layer_1/weights", np.full_like(weights(f), np.nan)))
structural("checkpoint", "layer-sizes-missing", lambda f: f.__delitem__("/model/layer_sizes"))
structural("checkpoint", "layer-sizes-inconsistent",
           lambda f: replace(f, "/model/layer_sizes", np.array([D, 6, K], dtype=np.int32)))
structural("checkpoint", "layer-sizes-extra-layer",
           lambda f: replace(f, "/model/layer_sizes", np.array([D, 4, K, 2], dtype=np.int32)))
structural("checkpoint", "layer-sizes-one-entry",
           lambda f: replace(f, "/model/layer_sizes", np.array([D], dtype=np.int32)))
structural("checkpoint", "layer-sizes-empty",
           lambda f: replace(f, "/model/layer_sizes", np.zeros(0, dtype=np.int32)))
structural("checkpoint", "layer-sizes-100-entries",
           lambda f: replace(f, "/model/layer_sizes", np.full(100, 3, dtype=np.int32)))
structural("checkpoint", "layer-sizes-zero",
           lambda f: replace(f, "/model/layer_sizes", np.array([D, 0, K], dtype=np.int32)))
structural("checkpoint", "layer-sizes-negative",
           lambda f: replace(f, "/model/layer_sizes", np.array([D, -4, K], dtype=np.int32)))
structural("checkpoint", "layer-sizes-2pow31-int64",
           lambda f: replace(f, "/model/layer_sizes", np.array([2**31, 4, K], dtype=np.int64)))
structural("checkpoint", "layer-sizes-int32-max",
           lambda f: replace(f, "/model/layer_sizes", np.array([D, 2**31 - 1, K], dtype=np.int32)))
structural("checkpoint", "layer-sizes-2pow30-hidden",
           lambda f: replace(f, "/model/layer_sizes", np.array([D, 2**30, K], dtype=np.int32)))
structural("checkpoint", "layer-sizes-2pow40-int64",
           lambda f: replace(f, "/model/layer_sizes", np.array([D, 4, 2**40], dtype=np.int64)))
structural("checkpoint", "layer-sizes-float",
           lambda f: replace(f, "/model/layer_sizes", np.array([D, 4.5, K], dtype=np.float64)))
structural("checkpoint", "layer-sizes-rank2",
           lambda f: replace(f, "/model/layer_sizes", np.array([[D, 4, K]], dtype=np.int32)))
structural("checkpoint", "activations-missing", lambda f: f.__delitem__("/model/activations"))
structural("checkpoint", "activations-unknown",
           lambda f: replace(f, "/model/activations", np.array([b"sigmoid", b"bogus"])))
structural("checkpoint", "activations-too-few",
           lambda f: replace(f, "/model/activations", np.array([b"sigmoid"])))
structural("checkpoint", "activations-vlen",
           lambda f: replace(f, "/model/activations", ["sigmoid", "softmax"],
                             dtype=h5py.string_dtype()))
structural("checkpoint", "activations-int",
           lambda f: replace(f, "/model/activations", np.array([1, 2], dtype=np.int32)))
structural("checkpoint", "cost-missing", lambda f: f.__delitem__("/model/cost"))
structural("checkpoint", "cost-unknown", lambda f: replace(f, "/model/cost", np.bytes_("hinge")))
structural("checkpoint", "cost-mismatched-output",
           lambda f: replace(f, "/model/cost", np.bytes_("cross-entropy")))
# checkpoint: root attributes
structural("checkpoint", "epoch-negative", set_attr("epoch", np.int64(-1)))
structural("checkpoint", "step-negative", set_attr("step", np.int64(-5)))
structural("checkpoint", "samples-seen-negative", set_attr("samples_seen", np.int64(-12)))
structural("checkpoint", "batch-size-negative", set_attr("batch_size", np.int64(-10)))
structural("checkpoint", "complete-zero", set_attr("complete", np.int64(0)))
structural("checkpoint", "format-wrong", set_attr("format", np.bytes_("paraprop-dataset")))
structural("checkpoint", "format-version-2", set_attr("format_version", np.int64(2)))
structural("checkpoint", "format-int", set_attr("format", np.int64(1)))
structural("checkpoint", "epoch-string", set_attr("epoch", np.bytes_("one")))
structural("checkpoint", "epoch-array", set_attr("epoch", np.array([1, 2], dtype=np.int64)))
structural("checkpoint", "fingerprint-wrong", set_attr("fingerprint", np.bytes_("0" * 64)))
structural("checkpoint", "fingerprint-too-long", set_attr("fingerprint", np.bytes_("a" * 200)))
structural("checkpoint", "reduction-too-long", set_attr("reduction", np.bytes_("x" * 100)))
structural("checkpoint", "data-path-too-long", set_attr("data_path", np.bytes_("d" * 5000)))
# (a fixed-length attribute of more than 64 KiB does not fit in a version-1 object header)
structural("checkpoint", "config-vlen-too-long", set_attr("config", "c" * 70000))
structural("checkpoint", "data-path-vlen-too-long", set_attr("data_path", "d" * 5000))
structural("checkpoint", "fingerprint-vlen-too-long", set_attr("fingerprint", "f" * 100))
structural("checkpoint", "metrics-missing", lambda f: f.__delitem__("/metrics"))
structural("checkpoint", "metrics-short-column",
           lambda f: replace(f, "/metrics/train_loss", np.zeros(0)))
for attr in ROOT_ATTRS:
    structural("checkpoint", f"attr-missing-{attr.replace('_', '-')}",
               lambda f, a=attr: f.attrs.__delitem__(a))


# datasets
def ds_replace(name, fn):
    return lambda f: replace(f, name, fn(f[name][()]))


structural("dataset", "inputs-int32", ds_replace("/train/inputs", lambda x: x.astype(np.int32)))
structural("dataset", "inputs-rank3", ds_replace("/train/inputs", lambda x: x[:, :, None]))
structural("dataset", "inputs-rank1", ds_replace("/train/inputs", lambda x: x.ravel()))
structural("dataset", "inputs-zero-columns",
           ds_replace("/train/inputs", lambda x: np.zeros((x.shape[0], 0), np.float32)))
structural("dataset", "inputs-nan", ds_replace("/train/inputs", lambda x: x * np.nan))
structural("dataset", "inputs-uint8-no-scale",
           ds_replace("/train/inputs", lambda x: np.zeros(x.shape, np.uint8)))
structural("dataset", "inputs-missing", lambda f: f.__delitem__("/train/inputs"))
structural("dataset", "labels-missing", lambda f: f.__delitem__("/train/labels"))
structural("dataset", "labels-out-of-range", ds_replace("/train/labels", lambda y: y + K))
structural("dataset", "labels-negative", ds_replace("/train/labels", lambda y: y - K))
structural("dataset", "labels-float", ds_replace("/train/labels", lambda y: y.astype(np.float32)))
structural("dataset", "labels-too-few", ds_replace("/train/labels", lambda y: y[:-1]))
structural("dataset", "labels-rank2", ds_replace("/train/labels", lambda y: y[:, None]))
structural("dataset", "test-wrong-width",
           ds_replace("/test/inputs", lambda x: np.zeros((x.shape[0], D + 1), np.float32)))
structural("dataset", "train-missing", lambda f: f.__delitem__("/train"))
structural("dataset", "classes-missing", lambda f: f.attrs.__delitem__("classes"))
structural("dataset", "classes-huge", set_attr("classes", np.int64(2**40)))
structural("dataset", "classes-negative", set_attr("classes", np.int64(-3)))
structural("dataset", "format-missing", lambda f: f.attrs.__delitem__("format"))
structural("dataset", "format-wrong", set_attr("format", np.bytes_("paraprop-checkpoint")))
structural("dataset", "format-version-9", set_attr("format_version", np.int64(9)))

if ONLY:
    CASES[:] = [c for c in CASES if ONLY in c[0]]


# ------------------------------------------------------------------ running
def check(case):
    """Runs one case; returns (name, None) or (name, reason), and the output."""
    name, kind, path, zero_ok = case
    if kind == "checkpoint":
        rc, out, secs = run(["inspect", path])
    else:
        rundir = P("runs", name)
        rc, out, secs = run(["train", "--data", path, "--layers", f"{D},4,{K}", "--epochs", "1",
                             "--run-dir", rundir, "--checkpoint-every", "none", "--progress",
                             "off"])
        trained = os.path.exists(os.path.join(rundir, "final.h5"))
        if not KEEP:
            shutil.rmtree(rundir, ignore_errors=True)
    reasons = []
    if rc == "timeout":
        reasons.append(f"no result within {TIMEOUT} s")
    elif rc < 0:
        reasons.append(f"killed by signal {-rc} ({signal.Signals(-rc).name})")
    elif rc not in (0, 3):
        reasons.append(f"exit status {rc}, expected 3 (or 0 if the damage is harmless)")
    elif rc == 0:
        if not zero_ok:
            reasons.append("exit status 0: this damage must be refused")
        elif kind == "checkpoint":
            if "valid: yes" not in out:
                reasons.append("exit status 0 but inspect does not say 'valid: yes'")
            elif fingerprint_of(out) != FINGERPRINT:
                reasons.append(f"exit status 0, 'valid: yes', but fingerprint "
                               f"{fingerprint_of(out)} differs from the original's {FINGERPRINT}")
        elif not trained:
            reasons.append("exit status 0 but the training did not run (no final.h5)")
    if rc != 0 and rc != "timeout" and os.path.basename(path) not in out:
        reasons.append("the output does not name the file")
    m = SAN_RE.search(out)
    if m:
        reasons.append(f"sanitizer report: {m.group(0)}")
    return name, "; ".join(reasons) or None, rc, out, secs


t0 = time.time()
failed = []
passed = 0
statuses = {}
with concurrent.futures.ThreadPoolExecutor(max_workers=JOBS) as pool:
    for name, reason, rc, out, secs in pool.map(check, CASES):
        statuses[rc] = statuses.get(rc, 0) + 1
        if reason:
            failed.append((name, reason, out))
            print(f"FAIL {name}: {reason}", flush=True)
        else:
            passed += 1
        if VERBOSE:
            print(f"---- {name}: status {rc}, {secs:.1f} s\n{out.rstrip()}", flush=True)
if failed:
    print("\nfailures (output):")
    for name, reason, out in failed:
        tail = "\n".join(out.rstrip().splitlines()[-25:])
        print(f"---- {name}: {reason}\n{tail}\n")
print(f"{len(CASES)} cases ({sum(1 for c in CASES if c[1] == 'checkpoint')} checkpoint, "
      f"{sum(1 for c in CASES if c[1] == 'dataset')} dataset) in {time.time() - t0:.0f} s; "
      f"exit statuses: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str)))
if RELAUNCHED:
    print(f"{len(RELAUNCHED)} launch(es) repeated because Open MPI itself failed to start: "
          + "; ".join(RELAUNCHED[:5]))
print(f"{passed} passed, {len(failed)} failed")
if not KEEP and not failed:
    shutil.rmtree(P("cases"), ignore_errors=True)
sys.exit(1 if failed else 0)
