#!/usr/bin/python3
"""Bad command lines and config files are refused with status 2 and a useful message.

usage: bad_options.py PARAPROP_BINARY SCRATCH_DIR [-v] [-k SUBSTRING]

Each case runs paraprop (timeout 60 s, under `ulimit -v 4 GiB` so an absurd
allocation fails instead of being OOM-killed) and requires
  * no crash (signal) and no hang,
  * the expected exit status (2 = usage error; 3 = bad input file; a few
    positive controls expect 0),
  * every listed phrase in stderr (case-insensitive; a tuple means "any of").
Then `paraprop CMD --help` must exit 0 for every command and mention every
option the command accepts: candidate option names are gathered from all help
texts and from the sources, each is tried on each command, and any one the
command does not reject as unknown must appear in its --help.
All cases run; failures are listed at the end (exit status 1).
"""
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np

args = [a for a in sys.argv[1:] if not a.startswith("-")]
VERBOSE = "-v" in sys.argv
ONLY = None
if "-k" in sys.argv:
    ONLY = sys.argv[sys.argv.index("-k") + 1]
    args.remove(ONLY)
if len(args) < 2:
    sys.exit("usage: bad_options.py PARAPROP_BINARY SCRATCH_DIR [-v] [-k SUBSTRING]")
BIN = os.path.abspath(args[0])
SCRATCH = os.path.abspath(args[1])
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
W = os.path.join(SCRATCH, "bad_options")
shutil.rmtree(W, ignore_errors=True)
os.makedirs(W)
TIMEOUT = 60
JOBS = max(2, min(4, os.cpu_count() or 2))
VMEM = 4 << 30
BASE_ENV = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
BASE_ENV.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def P(name):
    return os.path.join(W, name)


# ASan reserves terabytes of address space and cannot start under RLIMIT_AS; in a sanitizer
# build its own allocator limit plays the part of the 4 GiB ceiling.
ASAN = b"libasan" in subprocess.run(["ldd", BIN], capture_output=True).stdout


def limit():
    if not ASAN:
        resource.setrlimit(resource.RLIMIT_AS, (VMEM, VMEM))


def run(argv, env=None):
    e = dict(BASE_ENV)
    if ASAN:
        e["ASAN_OPTIONS"] = (e.get("ASAN_OPTIONS", "") + ":allocator_may_return_null=1"
                             ":max_allocation_size_mb=%d" % (VMEM >> 20)).lstrip(":")
    e.update(env or {})
    t0 = time.time()
    p = subprocess.Popen([BIN] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=W, env=e, start_new_session=True, preexec_fn=limit)
    try:
        out, err = p.communicate(timeout=TIMEOUT)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        rc = "timeout"
    return rc, out, err, time.time() - t0


# ------------------------------------------------------------------ fixtures
def dataset(path, n, d, k, u8=False):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = np.bytes_("paraprop-dataset")
        f.attrs["format_version"] = np.int64(1)
        f.attrs["classes"] = np.int64(k)
        f.attrs["source"] = np.bytes_("bad_options.py")
        rng = np.random.default_rng(1)
        if u8:
            x = f.create_dataset("train/inputs", data=rng.integers(0, 256, (n, d)).astype(np.uint8))
            x.attrs["scale"] = 1.0 / 255
        else:
            f["train/inputs"] = rng.standard_normal((n, d)).astype(np.float32)
        f["train/labels"] = (np.arange(n) % k).astype(np.int32)
    return path


DS = dataset(P("small.h5"), 30, 4, 3)
MNISTLIKE = dataset(P("mnistlike.h5"), 20, 784, 10, u8=True)
CSV = P("small.csv")
with open(CSV, "w") as f:
    f.write("0,1.5,2\n1,0.5,-1\n2,3,4\n")


def cfgfile(name, text):
    with open(P(name), "w") as f:
        f.write(text)
    return P(name)


GOOD_CFG = cfgfile("good.cfg", "# a comment\n\ndata = %s\nlayers = 4,5,3\nepochs = 1\n"
                   "batch-size = 7\nprogress = off\n" % DS)
BAD_LINE_CFG = cfgfile("badline.cfg", "layers = 4,5,3\nthis line has no equals sign\n")
UNKNOWN_KEY_CFG = cfgfile("unknownkey.cfg", "layers = 4,5,3\nepochs = 1\nbananas = 3\n")
BAD_VALUE_CFG = cfgfile("badvalue.cfg", "layers = 4,5,3\nbatch-size = zero\n")
BAD_LAYERS_CFG = cfgfile("badlayers.cfg", "# layers\nlayers = 4,x,3\n")
NESTED_CFG = cfgfile("nested.cfg", "epochs = 1\nconfig = %s\n" % GOOD_CFG)
EVAL_CFG = cfgfile("evalonly.cfg", "model = x.h5\nlayers = 4,5,3\n")
EMPTY_KEY_CFG = cfgfile("emptykey.cfg", "layers = 4,5,3\n = 5\n")

RUN_I = [0]


def train(*extra, drop=(), data=DS, layers="4,5,3"):
    """A valid training command (1 epoch on 30 samples) with EXTRA appended."""
    RUN_I[0] += 1
    base = {"--data": data, "--layers": layers, "--epochs": "1", "--progress": "off",
            "--threads": "1", "--run-dir": P(f"run{RUN_I[0]}")}
    argv = ["train"]
    for k, v in base.items():
        if k not in drop:
            argv += [k, v]
    return argv + list(extra)


CASES = []


def case(name, argv, status, phrases=(), env=None, max_seconds=None):
    CASES.append((name, argv, status if isinstance(status, (set, tuple)) else {status}, phrases,
                  env, max_seconds))


PAIRS = ("accepted pairs", "accepted", "supported")
# ---- positive controls
case("positive: the base command trains", train(), 0)
case("positive: --threads 0 (OMP_NUM_THREADS / cores)", train("--threads", "0"), 0)
case("positive: --threads 0 with OMP_NUM_THREADS=1", train("--threads", "0"), 0,
     env={"OMP_NUM_THREADS": "1"})
case("positive: --config with every required option",
     ["train", "--config", GOOD_CFG, "--run-dir", P("runcfg")], 0)
case("positive: quadratic with a softmax output", train("--cost", "quadratic"), 0)

# ---- general
case("no command", [], 2, ["usage"])
case("unknown command", ["frobnicate"], 2, ["frobnicate", "unknown command"])
case("unknown option", train("--bogus", "1"), 2, ["bogus", "unknown option"])
case("unknown option (single dash)", train("-x"), 2, ["-x"])
case("stray positional argument", train("extra"), 2, ["extra"])
case("missing value at the end (--layers)", train("--layers", drop=("--layers",)), 2,
     ["--layers", "value"])
case("missing value at the end (--batch-size)", train("--batch-size"), 2, ["--batch-size", "value"])
case("option of another command (eval --layers)",
     ["eval", "--model", "m.h5", "--data", DS, "--layers", "4,5,3"], 2, ["layers", "apply"])
case("option of another command (train --model)", train("--model", "m.h5"), 2, ["model"])
case("train without --data", train(drop=("--data",)), 2, ["--data"])
case("train without --layers", train(drop=("--layers",)), 2, ["--layers"])

# ---- --layers
case("--layers ''", train(layers=""), 2, ["--layers"])
case("--layers 4,0,3", train(layers="4,0,3"), 2, ["--layers", "4,0,3"])
case("--layers 784,0,10", train(layers="784,0,10", data=MNISTLIKE), 2, ["--layers", "784,0,10"])
case("--layers 784,abc,10", train(layers="784,abc,10", data=MNISTLIKE), 2, ["--layers", "abc"])
case("--layers 4 (one size only)", train(layers="4"), 2, ["--layers", ("two", "at least", "2")])
case("--layers 4,,3", train(layers="4,,3"), 2, ["--layers"])
case("--layers 4,5,3, (trailing comma)", train(layers="4,5,3,"), 2, ["--layers"])
case("--layers 4,-5,3", train(layers="4,-5,3"), 2, ["--layers"])
case("--layers 4,5.5,3", train(layers="4,5.5,3"), 2, ["--layers"])
case("--layers 5,5,3 vs 4 inputs in the data", train(layers="5,5,3"), 2,
     ["--layers", "small.h5", "4"])
case("--layers 4,5,4 vs 3 classes in the data", train(layers="4,5,4"), 2,
     ["--layers", "small.h5", "3"])
# refused before allocating (the ulimit case below proves nothing big was allocated); the
# time bound only catches a hang, never speed: this machine is shared and noisy
case("--layers 784,100000000,10 refused with an estimate",
     train(layers="784,100000000,10", data=MNISTLIKE), 2, ["GiB", "784,100000000,10"], max_seconds=120)
case("--layers 784,10000000,10 (30 GiB per copy) under ulimit -v 4 GiB",
     train(layers="784,10000000,10", data=MNISTLIKE), {2, 6}, [("memory", "allocate", "GiB")],
     max_seconds=120)

# ---- bounds: sizes the int-indexed kernels cannot take, a batch above N, decay ηλ/N ≥ 1
case("--layers 4,2147483648,3 (above INT_MAX)", train(layers="4,2147483648,3"), 2,
     ["--layers", "2147483648", "INT_MAX"])
case("--layers 4,2147483647,3 (INT_MAX: past the bound, refused by the memory estimate)",
     train(layers="4,2147483647,3"), 2, ["GiB", "4,2147483647,3"], max_seconds=120)
case("--batch-size 31 with 30 training samples", train("--batch-size", "31"), 2,
     ["--batch-size 31", "30 training samples"])
case("positive: --batch-size 30 = N (full batch)", train("--batch-size", "30"), 0)
case("--l2 30 --learning-rate 1 with N = 30 (decay ηλ/N = 1)",
     train("--l2", "30", "--learning-rate", "1"), 2, ["weight decay", "below 1"])
case("--l2 1e12 (decay far above 1)", train("--l2", "1e12"), 2, ["weight decay", "below 1"])
case("positive: --l2 29 --learning-rate 1 with N = 30 (decay 0.97)",
     train("--l2", "29", "--learning-rate", "1"), 0)

# ---- numbers
case("--batch-size 0", train("--batch-size", "0"), 2, ["--batch-size", "0"])
case("--batch-size -1", train("--batch-size", "-1"), 2, ["--batch-size", "-1"])
case("--batch-size abc", train("--batch-size", "abc"), 2, ["--batch-size", "abc"])
case("--batch-size 2.5", train("--batch-size", "2.5"), 2, ["--batch-size", "2.5"])
case("--batch-size 99999999999999999999999", train("--batch-size", "99999999999999999999999"), 2,
     ["--batch-size"])
case("--batch-size ''", train("--batch-size", ""), 2, ["--batch-size"])
case("--learning-rate nan", train("--learning-rate", "nan"), 2, ["--learning-rate", "nan"])
case("--learning-rate inf", train("--learning-rate", "inf"), 2, ["--learning-rate", "inf"])
case("--learning-rate -1", train("--learning-rate", "-1"), 2, ["--learning-rate", "-1"])
case("--learning-rate 0.1x", train("--learning-rate", "0.1x"), 2, ["--learning-rate", "0.1x"])
case("--momentum 1.5", train("--momentum", "1.5"), 2, ["--momentum", "1.5"])
case("--momentum 1", train("--momentum", "1"), 2, ["--momentum"])
case("--momentum -0.1", train("--momentum", "-0.1"), 2, ["--momentum", "-0.1"])
case("--l2 -1", train("--l2", "-1"), 2, ["--l2", "-1"])
case("--l2 nan", train("--l2", "nan"), 2, ["--l2", "nan"])
case("--epochs -1", train("--epochs", "-1"), 2, ["--epochs", "-1"])
case("--epochs abc", train("--epochs", "abc"), 2, ["--epochs", "abc"])
case("--seed abc", train("--seed", "abc"), 2, ["--seed", "abc"])
case("--seed -1", train("--seed", "-1"), 2, ["--seed", "-1"])
case("--keep 0", train("--keep", "0"), 2, ["--keep", "0"])
case("--threads -2", train("--threads", "-2"), 2, ["--threads", "-2"])
case("--threads abc", train("--threads", "abc"), 2, ["--threads", "abc"])
case("--threads 100000", train("--threads", "100000"), 2, ["--threads", "100000"])
case("OMP_NUM_THREADS=abc with --threads 0", train("--threads", "0"), 2,
     ["OMP_NUM_THREADS", "abc"], env={"OMP_NUM_THREADS": "abc"})
case("OMP_NUM_THREADS=-3 with --threads 0", train("--threads", "0"), 2,
     ["OMP_NUM_THREADS", "-3"], env={"OMP_NUM_THREADS": "-3"})

# ---- words
case("--hidden-activation softmax", train("--hidden-activation", "softmax"), 2,
     ["softmax", ("hidden", "output layer", "only")])
case("--hidden-activation banana", train("--hidden-activation", "banana"), 2, ["banana"])
case("--output-activation banana", train("--output-activation", "banana"), 2, ["banana"])
case("--cost banana", train("--cost", "banana"), 2, ["banana"])
case("--cost cross-entropy --output-activation softmax (lists accepted pairs)",
     train("--cost", "cross-entropy", "--output-activation", "softmax"), 2,
     [PAIRS, "cross-entropy with sigmoid", "log-likelihood with softmax", "quadratic"])
case("--cost log-likelihood --output-activation sigmoid",
     train("--cost", "log-likelihood", "--output-activation", "sigmoid"), 2,
     [PAIRS, "log-likelihood with softmax"])
case("--cost cross-entropy --output-activation relu",
     train("--cost", "cross-entropy", "--output-activation", "relu"), 2,
     [PAIRS, "cross-entropy with sigmoid"])
case("--init banana", train("--init", "banana"), 2, ["--init", "banana", "he"])
case("--shuffle maybe", train("--shuffle", "maybe"), 2, ["--shuffle", "maybe"])
case("--reduction banana", train("--reduction", "banana"), 2, ["--reduction", "banana"])
case("--data-mode banana", train("--data-mode", "banana"), 2, ["--data-mode", "banana"])
case("--memory-budget 5bananas", train("--memory-budget", "5bananas"), 2,
     ["--memory-budget", "5bananas"])
case("--memory-budget -1GiB", train("--memory-budget", "-1GiB"), 2, ["--memory-budget", "-1GiB"])
case("--memory-budget 0", train("--memory-budget", "0"), 2, ["--memory-budget"])
case("--memory-budget 100B (positive control: the set does not fit, auto streams it)",
     train("--memory-budget", "100B"), 0, [])
case("--progress sometimes", train("--progress", "sometimes"), 2, ["--progress", "sometimes"])
case("--checkpoint-every 5bananas", train("--checkpoint-every", "5bananas"), 2,
     ["--checkpoint-every", "bananas"])
case("--stop-after 5bananas", train("--stop-after", "5bananas"), 2, ["--stop-after", "bananas"])
case("--stop-after -3steps", train("--stop-after", "-3steps"), 2, ["--stop-after", "-3steps"])
case("--stop-after m", train("--stop-after", "m"), 2, ["--stop-after"])
case("--checkpoint-every steps", train("--checkpoint-every", "steps"), 2, ["--checkpoint-every"])
case("--checkpoint-every -3steps", train("--checkpoint-every", "-3steps"), 2,
     ["--checkpoint-every", "-3steps"])
case("--checkpoint-every 0steps", train("--checkpoint-every", "0steps"), 2, ["--checkpoint-every"])
case("--run-dir ''", train("--run-dir", ""), 2, ["--run-dir"])

# ---- optimizers, L1, dropout (issue 12)
DEEP = "4,6,5,3"  # two hidden layers
case("positive: --optimizer adam", train("--optimizer", "adam", "--learning-rate", "0.01"), 0)
case("positive: --optimizer adamw with --l2, --beta1, --beta2, --adam-epsilon",
     train("--optimizer", "adamw", "--l2", "1", "--beta1", "0.8", "--beta2", "0.99",
           "--adam-epsilon", "1e-6"), 0)
case("positive: --optimizer nesterov --momentum 0.9", train("--optimizer", "nesterov",
                                                            "--momentum", "0.9"), 0)
case("positive: --l1 and --dropout 0.5 (every hidden layer)",
     train("--l1", "0.5", "--dropout", "0.5", layers=DEEP), 0)
case("positive: --dropout 0.2,0.5 (one per hidden layer)", train("--dropout", "0.2,0.5",
                                                                  layers=DEEP), 0)
case("positive: --dropout 0 without hidden layers", train("--dropout", "0", layers="4,3"), 0)
case("--optimizer banana", train("--optimizer", "banana"), 2,
     ["--optimizer", "banana", "adam"])
case("--optimizer ''", train("--optimizer", ""), 2, ["--optimizer"])
case("--beta1 1", train("--optimizer", "adam", "--beta1", "1"), 2, ["--beta1", "[0, 1)"])
case("--beta1 -0.1", train("--optimizer", "adam", "--beta1", "-0.1"), 2, ["--beta1", "-0.1"])
case("--beta2 1.5", train("--optimizer", "adam", "--beta2", "1.5"), 2, ["--beta2", "1.5"])
case("--beta2 nan", train("--optimizer", "adam", "--beta2", "nan"), 2, ["--beta2", "nan"])
case("--adam-epsilon 0", train("--optimizer", "adam", "--adam-epsilon", "0"), 2,
     ["--adam-epsilon", "above 0"])
case("--adam-epsilon -1e-8", train("--optimizer", "adam", "--adam-epsilon", "-1e-8"), 2,
     ["--adam-epsilon", "-1e-8"])
case("--momentum with --optimizer adam", train("--optimizer", "adam", "--momentum", "0.9"), 2,
     ["--momentum", "adam", "--beta1"])
case("--momentum with --optimizer adamw", train("--optimizer", "adamw", "--momentum", "0.5"), 2,
     ["--momentum", "adamw"])
case("--optimizer nesterov without --momentum", train("--optimizer", "nesterov"), 2,
     ["nesterov", "--momentum"])
case("--beta1 with --optimizer sgd", train("--beta1", "0.8"), 2, ["--beta1", "adam", "sgd"])
case("--beta2 with --optimizer nesterov",
     train("--optimizer", "nesterov", "--momentum", "0.9", "--beta2", "0.9"), 2,
     ["--beta2", "nesterov"])
case("--adam-epsilon with --optimizer sgd", train("--adam-epsilon", "1e-6"), 2,
     ["--adam-epsilon", "adam"])
case("--l1 -1", train("--l1", "-1"), 2, ["--l1", "-1"])
case("--l1 inf", train("--l1", "inf"), 2, ["--l1", "inf"])
case("--clip-norm -1", train("--clip-norm", "-1"), 2, ["--clip-norm", "-1"])
case("--clip-norm abc", train("--clip-norm", "abc"), 2, ["--clip-norm", "abc"])
case("positive: --clip-norm 0.5 --init he", train("--clip-norm", "0.5", "--init", "he"), 0)
case("--dropout 1", train("--dropout", "1"), 2, ["--dropout", "[0, 1)"])
case("--dropout -0.1", train("--dropout", "-0.1"), 2, ["--dropout", "-0.1"])
case("--dropout 0.5,abc", train("--dropout", "0.5,abc", layers=DEEP), 2, ["--dropout", "abc"])
case("--dropout 0.5, (trailing comma)", train("--dropout", "0.5,", layers=DEEP), 2, ["--dropout"])
case("--dropout 0.5,,0.2", train("--dropout", "0.5,,0.2", layers=DEEP), 2, ["--dropout"])
case("--dropout '' ", train("--dropout", ""), 2, ["--dropout"])
case("--dropout with more values than hidden layers",
     train("--dropout", "0.1,0.2,0.3", layers=DEEP), 2, ["--dropout", "3 values", "2 hidden"])
case("--dropout 0.5 without hidden layers", train("--dropout", "0.5", layers="4,3"), 2,
     ["--dropout", "no hidden layer"])
case("config file: --optimizer adam with momentum",
     train("--config", cfgfile("adam_momentum.cfg", "optimizer = adam\nmomentum = 0.9\n")), 2,
     ["--momentum", "adam"])
case("config file: bad dropout value",
     train("--config", cfgfile("bad_dropout.cfg", "dropout = 0.5,2\n"), layers=DEEP), 2,
     ["bad_dropout.cfg:1", "--dropout"])
case("gradcheck --dropout 1", ["gradcheck", "--layers", "4,5,3", "--dropout", "1"], 2,
     ["--dropout"])
case("gradcheck --optimizer (a training option)",
     ["gradcheck", "--layers", "4,5,3", "--optimizer", "adam"], 2, ["optimizer", "apply"])

# ---- combinations and files
case("--resume together with --init-from",
     train("--resume", P("a.h5"), "--init-from", P("b.h5")), 2, ["--resume", "--init-from"])
case("--config missing file", train("--config", P("nope.cfg")), {2, 3}, ["nope.cfg"])
case("--config without a file name", train("--config"), 2, ["--config"])
case("config file: a line without '='", train("--config", BAD_LINE_CFG), 2,
     [BAD_LINE_CFG + ":2"])
case("config file: unknown key", train("--config", UNKNOWN_KEY_CFG), 2,
     [UNKNOWN_KEY_CFG + ":3", "bananas"])
case("config file: bad value", train("--config", BAD_VALUE_CFG), 2,
     [BAD_VALUE_CFG + ":2", "batch-size", "zero"])
case("config file: bad --layers value", ["train", "--config", BAD_LAYERS_CFG, "--data", DS], 2,
     [BAD_LAYERS_CFG + ":2", "layers"])
case("config file: includes another config", train("--config", NESTED_CFG), 2,
     [NESTED_CFG + ":2"])
case("config file: key of another command (model)", train("--config", EVAL_CFG), 2,
     [EVAL_CFG + ":1", "model"])
case("config file: empty key", train("--config", EMPTY_KEY_CFG), 2, [EMPTY_KEY_CFG + ":2"])
case("config file is a directory", train("--config", W), {2, 3}, [W])

# ---- other commands
case("eval without --model", ["eval", "--data", DS], 2, ["--model"])
case("eval without --data", ["eval", "--model", P("m.h5")], 2, ["--data"])
case("eval --split banana", ["eval", "--model", P("m.h5"), "--data", DS, "--split", "banana"], 2,
     ["--split", "banana"])
case("inspect without a file", ["inspect"], 2, ["usage"])
case("inspect with two files", ["inspect", DS, DS], 2, ["usage"])
case("gradcheck --samples 0", ["gradcheck", "--layers", "4,3", "--samples", "0"], 2, ["--samples"])
case("gradcheck --epsilon -1", ["gradcheck", "--layers", "4,3", "--epsilon", "-1"], 2,
     ["--epsilon"])
case("gradcheck without --layers", ["gradcheck"], 2, ["--layers"])
case("bench --steps 0", ["bench", "--data", DS, "--layers", "4,5,3", "--steps", "0"], 2, ["--steps"])
case("bench --warmup abc", ["bench", "--data", DS, "--layers", "4,5,3", "--warmup", "abc"], 2,
     ["--warmup", "abc"])
case("convert without a format", ["convert"], 2, [("idx", "csv")])
case("convert with an unknown format", ["convert", "xlsx", "--train", CSV, "-o", P("o.h5")], 2,
     [("xlsx", "'idx' or 'csv'")])
case("convert csv without -o", ["convert", "csv", "--train", CSV], 2, ["-o"])
case("convert csv without --train", ["convert", "csv", "-o", P("o.h5")], 2, ["--train"])
case("convert idx without --train-labels", ["convert", "idx", "--train-images", CSV, "-o",
                                            P("o.h5")], 2, ["--train-labels"])
case("convert idx with --test-images but no --test-labels",
     ["convert", "idx", "--train-images", CSV, "--train-labels", CSV, "--test-images", CSV, "-o",
      P("o.h5")], 2, ["--test-labels"])
case("convert csv --label-column abc", ["convert", "csv", "--train", CSV, "--label-column", "abc",
                                        "-o", P("o.h5")], 2, ["--label-column", "abc"])
case("convert csv --label-column 7 (3 columns)",
     ["convert", "csv", "--train", CSV, "--label-column", "7", "-o", P("o.h5")], {2, 3},
     ["7", ("column", "label")])
case("convert csv --classes 0", ["convert", "csv", "--train", CSV, "--classes", "0", "-o",
                                 P("o.h5")], 2, ["--classes"])
case("convert csv --bogus", ["convert", "csv", "--train", CSV, "--bogus", "1", "-o", P("o.h5")], 2,
     ["--bogus"])
case("convert csv with an IDX option (--train-images)",
     ["convert", "csv", "--train", CSV, "--train-images", CSV, "-o", P("o.h5")], 2,
     ["--train-images"])
case("convert idx with a CSV option (--label-column)",
     ["convert", "idx", "--train-images", CSV, "--train-labels", CSV, "--label-column", "1", "-o",
      P("o.h5")], 2, ["--label-column"])
case("convert -o into a missing directory",
     ["convert", "csv", "--train", CSV, "-o", P("no/such/dir/o.h5")], {5, 2},
     ["no/such/dir/o.h5"])


# ------------------------------------------------------------------ validation, early stopping,
# schedules, logging, plot (issue 12)
def with_val(path, n, d, k):
    dataset(path, n, d, k)
    with h5py.File(path, "a") as f:
        rng = np.random.default_rng(2)
        f["validation/inputs"] = rng.standard_normal((10, d)).astype(np.float32)
        f["validation/labels"] = (np.arange(10) % k).astype(np.int32)
    return path


DSV = with_val(P("withval.h5"), 30, 4, 3)
case("positive: --validation-split 0.2 --early-stop 2 --lr-schedule plateau:1:0.5:0.01",
     train("--validation-split", "0.2", "--early-stop", "2", "--lr-schedule", "plateau:1:0.5:0.01",
           "--epochs", "3"), 0)
case("positive: a /validation group with --monitor val_accuracy",
     train("--monitor", "val_accuracy", "--early-stop", "1", data=DSV), 0)
case("positive: --lr-schedule step, cosine, cosine:1 and --log-every in a config file",
     ["train", "--config", cfgfile("sched.cfg", "data = %s\nlayers = 4,5,3\nepochs = 2\n"
      "progress = off\nlr-schedule = cosine:1\nlog-every = 2\nrun-dir = %s\n" % (DS, P("runc")))], 0)
for v in ("abc", "-1", "1.5", "0.0", "1.0", "1e", "30", "100", "0x10", ""):
    expect = ["--validation-split"]
    case(f"--validation-split {v!r}", train("--validation-split", v), 2, expect)
case("--validation-split with a /validation group", train("--validation-split", "5", data=DSV), 2,
     ["--validation-split", "/validation"])
case("--validation-split leaving fewer samples than the batch",
     train("--validation-split", "25", "--batch-size", "10"), 2, ["--validation-split", "--batch-size"])
case("--early-stop without validation data", train("--early-stop", "3"), 2,
     ["--early-stop", "validation"])
case("--early-stop -1", train("--early-stop", "-1", "--validation-split", "5"), 2, ["--early-stop"])
case("--early-stop x", train("--early-stop", "x", "--validation-split", "5"), 2, ["--early-stop"])
case("--monitor without validation data", train("--monitor", "val_loss"), 2, ["--monitor", "validation"])
case("--monitor test_loss", train("--monitor", "test_loss", "--validation-split", "5"), 2,
     ["--monitor", "val_loss"])
case("--lr-schedule plateau without validation data", train("--lr-schedule", "plateau:2:0.5:0"), 2,
     ["plateau", "validation"])
for v in ("linear", "constant:1", "step", "step:0:0.5", "step:2", "step:2:0", "step:2:1.5",
          "step:1.5:0.5", "step:2:0.5:1", "cosine:", "cosine:0", "cosine:x", "cosine:2.5",
          "plateau", "plateau:2:0.5", "plateau:0:0.5:0", "plateau:2:1:0", "plateau:2:0:0",
          "plateau:2:0.5:-1", "plateau:2:0.5:nan", "step:inf:0.5", "x" * 100):
    case(f"--lr-schedule {v[:30]!r}", train("--lr-schedule", v), 2, ["--lr-schedule"])
case("--lr-schedule cosine:1 with --epochs 1 (warm-up not shorter than the run)",
     train("--lr-schedule", "cosine:1"), 2, ["cosine:1", "--epochs"])
case("bad --lr-schedule in a config file names the line",
     ["train", "--config", cfgfile("badsched.cfg", "layers = 4,5,3\nlr-schedule = step:x:1\n")], 2,
     ["badsched.cfg:2", "--lr-schedule"])
case("--log-every -5", train("--log-every", "-5"), 2, ["--log-every"])
case("--log-every 1.5", train("--log-every", "1.5"), 2, ["--log-every"])
case("eval --split validation without a /validation group",
     ["eval", "--data", DS, "--model", P("nomodel.h5"), "--split", "validation"], (2, 3), [])
case("convert --validation-count 0", ["convert", "csv", "--train", CSV, "--validation-count", "0",
     "-o", P("v.h5")], 2, ["--validation-count"])
case("convert --validation-count as large as the training set",
     ["convert", "csv", "--train", CSV, "--validation-count", "3", "-o", P("v.h5")], 2,
     ["--validation-count"])
case("convert --train-count beyond the file",
     ["convert", "csv", "--train", CSV, "--train-count", "4", "-o", P("v.h5")], 2, ["--train-count"])
case("plot without a run directory", ["plot"], 2, ["usage"])
case("plot of a directory without metrics.jsonl", ["plot", P("no-such-run")], 3, ["metrics.jsonl"])
case("plot with an unknown option", ["plot", "--bogus", P("x")], 2, ["unknown option"])
case("plot with two directories", ["plot", P("a"), P("b")], 2, ["one RUN_DIR"])


# ------------------------------------------------------------------ run the table
def has(err, ph):
    alts = ph if isinstance(ph, tuple) else (ph,)
    return any(a.lower() in err.lower() for a in alts)


failures = []
t_start = time.time()
selected = [c_ for c_ in CASES if not ONLY or ONLY in c_[0]]
n_run = len(selected)
with ThreadPoolExecutor(max_workers=JOBS) as pool:
    results = list(pool.map(lambda c_: run(c_[1], c_[4]), selected))
for (name, argv, statuses, phrases, env, max_s), (rc, out, err, secs) in zip(selected, results):
    problems = []
    if rc == "timeout":
        problems.append(f"hung: no exit within {TIMEOUT} s (killed)")
    elif rc < 0:
        problems.append(f"killed by signal {signal.Signals(-rc).name}")
    elif rc not in statuses:
        problems.append(f"exit status {rc}, expected {' or '.join(map(str, sorted(statuses)))}")
    if rc != "timeout":
        for ph in phrases:
            if not has(err, ph):
                problems.append(f"stderr lacks {ph!r}")
        if 0 not in statuses and not err.strip():
            problems.append("nothing on stderr")
    if max_s and secs > max_s:
        problems.append(f"took {secs:.1f} s (limit {max_s} s)")
    print(f"{'ok  ' if not problems else 'FAIL'} {name}  [{rc}, {secs:.1f}s]")
    if problems or VERBOSE:
        for pr in problems:
            print(f"       - {pr}")
        print("       $ paraprop " + " ".join(repr(a) if a == "" or " " in a else a for a in argv))
        for line in (err.strip() or out.strip()).splitlines()[:4]:
            print(f"       | {line}")
    if problems:
        failures.append((name, argv, env, rc, err, problems))

# ------------------------------------------------------------------ --help of every command
COMMANDS = ["train", "eval", "convert", "inspect", "gradcheck", "bench", "plot"]
if not ONLY or "help" in ONLY:
    helps = {}
    rc, top, err, _ = run(["--help"])
    ok = rc == 0 and all(c in top for c in COMMANDS)
    print(f"{'ok  ' if ok else 'FAIL'} paraprop --help exits 0 and lists every command  [{rc}]")
    if not ok:
        failures.append(("--help", ["--help"], None, rc, err, ["status or command list"]))
    for c in COMMANDS:
        rc, out, err, _ = run([c, "--help"])
        helps[c] = out
        ok = rc == 0 and len(out.strip()) > 20
        print(f"{'ok  ' if ok else 'FAIL'} paraprop {c} --help exits 0 and prints help  [{rc}]")
        if not ok:
            failures.append((f"{c} --help", [c, "--help"], None, rc, err, ["status/empty"]))
    # candidate option names: every help text + the sources (read only)
    cands = set()
    for t in list(helps.values()) + [top]:
        cands |= set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-z])\b", t))
    for sub in ("src/run/config.c",):
        p = os.path.join(ROOT, sub)
        if os.path.exists(p):
            cands |= {"--" + m for m in re.findall(r'\{\s*"([a-z][a-z0-9-]*)",\s*T_', open(p).read())}
    app = os.path.join(ROOT, "src", "app")
    if os.path.isdir(app):
        for fn in os.listdir(app):
            if fn.endswith(".c"):
                cands |= set(re.findall(r'"(--[a-z][a-z0-9-]*|-[a-z])"', open(os.path.join(app, fn)).read()))
    cands -= {"--help", "-h", "--version"}  # -h is --help
    REJECT = ("unknown option", "does not apply", "not an option", "unexpected argument")
    probes = []  # (command, option, argv)
    for c in ("train", "eval", "gradcheck", "bench", "convert"):
        for opt in sorted(cands):
            for f_ in ([["convert", "csv"], ["convert", "idx"]] if c == "convert" else [[c]]):
                if c != "convert":
                    probe = f_ + [opt, "1"]
                elif opt in ("-o", "--output"):
                    probe = f_ + [opt, P("h.h5")]
                else:
                    probe = f_ + [opt, "1", "-o", P("h.h5")]
                probes.append((c, opt, probe))
    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        outcomes = list(pool.map(lambda p_: run(p_[2]), probes))
    accepted_by = {}
    for (c, opt, _), (rc, out, err, _) in zip(probes, outcomes):
        rejected = any(r in err.lower() for r in REJECT) and opt.lstrip("-") in err
        if rc != "timeout" and not rejected:
            accepted_by.setdefault(c, set()).add(opt)
    for c in ("train", "eval", "gradcheck", "bench", "convert"):
        accepted = sorted(accepted_by.get(c, ()))
        missing = [o for o in accepted
                   if not re.search(r"(?<![\w-])" + re.escape(o) + r"(?![\w-])", helps[c])]
        ok = not missing and accepted
        print(f"{'ok  ' if ok else 'FAIL'} {c} --help mentions all {len(accepted)} accepted options"
              + (f"; missing: {' '.join(missing)}" if missing else ""))
        if not ok:
            failures.append((f"{c} --help completeness", [c, "--help"], None, 0, "",
                             [f"accepted but not in --help: {' '.join(missing) or '(none found)'}"]))

print(f"\n{n_run} cases in {time.time() - t_start:.1f} s, {len(failures)} failed")
if failures:
    print("\nFAILED cases:")
    for name, argv, env, rc, err, problems in failures:
        print(f"  * {name}: {'; '.join(problems)}")
        envs = " ".join(f"{k}={v}" for k, v in (env or {}).items())
        print(f"      cd {W} && {envs + ' ' if envs else ''}{BIN} "
              + " ".join(repr(a) if a == "" or " " in a else a for a in argv))
        print(f"      -> status {rc}; stderr: {err.strip()[:300]}")
    sys.exit(1)
print("bad_options: all cases passed")
