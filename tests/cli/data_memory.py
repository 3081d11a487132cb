#!/usr/bin/python3
"""Node mode's memory per rank (issue 11): with 4 ranks on one node, what the training set
costs a rank is at most dataset ÷ 4 + model state + 64 MiB; rank mode (a copy on every rank)
exceeds that bound, which shows the bound can fail.

usage: data_memory.py PARAPROP_BINARY SCRATCH_DIR [ROWS]

What is measured (docs/DATA.md): peak RSS (VmHWM, bench's peak_rss_bytes) counts every page
of the node's shared block that a rank has touched, although the node holds that block once
for all its ranks. So bench reports, per rank, its private resident bytes (Private_Clean +
Private_Dirty of /proc/self/smaps) over every mapping except the shared block, sampled after
loading and after the steps (the larger), and the block's size; a rank costs its private bytes
plus block ÷ ranks-per-node. A dataset of ROWS × 784 uint8 inputs (default 300000: 226 MiB)
makes the bound fail by far if any rank held a private copy.
"""
import json
import os
import shutil
import struct
import subprocess
import sys

BIN, SCRATCH = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
ROWS = int(sys.argv[3]) if len(sys.argv) > 3 else 300000
# ASan's shadow memory and quarantine are private memory of every rank: no bound on what the
# data costs can hold there (ctest counts status 77 as skipped)
if b"libasan" in subprocess.run(["ldd", BIN], capture_output=True).stdout:
    print("skipped: a sanitizer build measures its own memory")
    sys.exit(77)
shutil.rmtree(SCRATCH, ignore_errors=True)
os.makedirs(SCRATCH)
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
env.pop("OMP_NUM_THREADS", None)


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


img, lab, h5 = (os.path.join(SCRATCH, n) for n in ("img.idx", "lab.idx", "big.h5"))
with open(img, "wb") as f:  # random pixels: the bytes are what matters here
    f.write(struct.pack(">IIII", 0x803, ROWS, 28, 28))
    f.write(os.urandom(ROWS * 784))
with open(lab, "wb") as f:
    f.write(struct.pack(">II", 0x801, ROWS))
    f.write(bytes(b % 10 for b in os.urandom(ROWS)))
subprocess.run([BIN, "convert", "idx", "--train-images", img, "--train-labels", lab, "-o", h5],
               check=True, env=env, stdout=subprocess.DEVNULL)
os.remove(img)
os.remove(lab)

R = 4
MiB = 1 << 20


def bench(mode):
    cmd = ["mpiexec", "-n", str(R), "--oversubscribe", "--bind-to", "none", BIN, "bench",
           "--data", h5, "--layers", "784,30,10", "--steps", "20", "--warmup", "2",
           "--threads", "1", "--data-mode", mode]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        fail(f"bench --data-mode {mode}: status {p.returncode}: {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def cost(j):
    """The bytes the worst rank costs, and the bound."""
    share = j["node_shared_bytes"] / j["local_ranks"]
    worst = max(j["private_bytes"]) + share
    # parameters, gradient, velocity and the workspaces' activations, as float32, 4× over
    model = 4 * 4 * j["parameters"] + 4 * 4 * 10 * (784 + 30 + 10)
    return worst, j["data_bytes"] / R + model + 64 * MiB


node = bench("node")
if node["data_mode"] != "node" or node["local_ranks"] != R:
    fail(f"expected node mode with {R} ranks on the node: {node}")
worst, bound = cost(node)
print(f"node: data {node['data_bytes'] / MiB:.1f} MiB, shared block "
      f"{node['node_shared_bytes'] / MiB:.1f} MiB, private per rank "
      f"{[round(b / MiB, 1) for b in node['private_bytes']]} MiB, peak RSS "
      f"{[round(b / MiB, 1) for b in node['peak_rss_bytes']]} MiB; worst rank "
      f"{worst / MiB:.1f} MiB ≤ bound {bound / MiB:.1f} MiB?")
if worst > bound:
    fail(f"node mode: a rank costs {worst / MiB:.1f} MiB, more than {bound / MiB:.1f} MiB")
rank = bench("rank")
rworst, _ = cost(rank)
print(f"rank: private per rank {[round(b / MiB, 1) for b in rank['private_bytes']]} MiB")
if rworst <= bound:
    fail(f"rank mode costs {rworst / MiB:.1f} MiB per rank, within the bound: the measure is blind")
if node["fingerprint"] != rank["fingerprint"]:
    fail(f"fingerprints differ: node {node['fingerprint']}, rank {rank['fingerprint']}")
print("PASS data memory")
