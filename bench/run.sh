#!/usr/bin/env bash
# bench/run.sh - one-command benchmark of paraprop against the FMA peak of the CPU,
# the OpenBLAS SGEMM rate, PyTorch and a hand-vectorized numpy MLP (issues 6, 10).
#
#   bench/run.sh [--paraprop PATH] [--quick] [--out DIR]
#                [--repeats N] [--workloads "W1 W2 W3"] [--no-peers] [--no-paraprop]
#                [--pin-cpu N|none]
#
# See bench/README.md for what is measured and how.  Every OpenBLAS user (sgemm,
# numpy, torch, paraprop's CBLAS path) runs twice: with the best OpenBLAS core
# the CPU's features allow (OPENBLAS_CORETYPE set by this script, for that
# command only) and "as installed" (OpenBLAS's own choice). A preset
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE is recorded and unset for every run. The
# peers get OPENBLAS_NUM_THREADS/OMP_NUM_THREADS (and OMP_WAIT_POLICY=passive for
# torch at 2 threads), paraprop only --threads and the ranks. Every one-thread run
# (sgemm, fmapeak and ppgemm at 1 thread, paraprop 1x1, the peers at 1 thread) is
# pinned to one CPU, the first this script may use unless --pin-cpu says otherwise.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
PY=/usr/bin/python3
DATA_SRC=/usr/share/datasets/fashion-mnist
N_TRAIN=60000

PARAPROP=""
QUICK=0
OUT=""
REPEATS=""
WORKLOADS="W1 W2 W3"
DO_PEERS=1
DO_PARAPROP=1
PIN_CPU=""

usage() {
  sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
  case "$1" in
    --paraprop) PARAPROP=$2; shift 2 ;;
    --paraprop=*) PARAPROP=${1#*=}; shift ;;
    --quick) QUICK=1; shift ;;
    --out) OUT=$2; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --workloads) WORKLOADS=$2; shift 2 ;;
    --no-peers) DO_PEERS=0; shift ;;
    --no-paraprop) DO_PARAPROP=0; shift ;;
    --pin-cpu) PIN_CPU=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# One CPU for every one-thread run: a VM's vCPUs need not run at one speed (seen on the 2-core
# Zen 5 VM: one 20-25 % slower than the other, alone or not), and unpinned runs land on either,
# so a ratio of two one-thread runs would measure where the scheduler put them.
[ -n "$PIN_CPU" ] || PIN_CPU=$(taskset -cp $$ | sed 's/.*: *//; s/[-,].*//')
if [ "$PIN_CPU" = none ]; then pin1() { "$@"; }; else pin1() { taskset -c "$PIN_CPU" "$@"; }; fi

# The fastest OpenBLAS 0.3.21 core this CPU's features allow (not its model number, which
# OpenBLAS goes by and does not know for recent CPUs). SkylakeX rather than Cooperlake: the
# same single-precision GEMM kernels (BUILD-NOTES: 197 vs 196 GFLOP/s).
best_core() {
  local f; f=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
  has() { case $f in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
  if has avx512f && has avx512bw && has avx512vl && has avx512dq && has avx512cd; then echo SkylakeX
  elif has avx2 && has fma; then echo Haswell
  elif has avx; then echo Sandybridge
  else echo Prescott; fi
}
# The variables a preset environment may hold are recorded, then unset for every run: each
# run says itself which core it wants.
PRESET_CORETYPE=${OPENBLAS_CORETYPE-}
PRESET_L2=${OPENBLAS_L2_SIZE-}
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
BEST_CORE=$(best_core)
# blas_env MODE: the environment of an OpenBLAS user in MODE best|asis
blas_env() { if [ "$1" = best ]; then echo "OPENBLAS_CORETYPE=$BEST_CORE"; else echo "PARAPROP_BLAS_CORE=asis"; fi; }

# ---------------------------------------------------------------- settings
if [ "$QUICK" = 1 ]; then
  : "${REPEATS:=1}"
  SGEMM_REPS=3
else
  : "${REPEATS:=3}"
  SGEMM_REPS=7
fi

# workload -> paraprop options; must match bench/peers/common.py
wl_layers()  { case $1 in W1) echo 784,30,10 ;; W2) echo 784,256,256,10 ;; W3) echo 784,2048,2048,10 ;; esac; }
wl_hidden()  { case $1 in W1) echo sigmoid ;; *) echo relu ;; esac; }
wl_output()  { case $1 in W1) echo sigmoid ;; *) echo softmax ;; esac; }
wl_cost()    { case $1 in W1) echo cross-entropy ;; *) echo log-likelihood ;; esac; }
wl_lr()      { case $1 in W1) echo 0.5 ;; *) echo 0.1 ;; esac; }
wl_mom()     { case $1 in W2) echo 0.9 ;; *) echo 0 ;; esac; }
wl_batch()   { case $1 in W1) echo 10 ;; W2) echo 128 ;; W3) echo 256 ;; esac; }
# full run: one epoch = ceil(60000/B) steps; quick run: a slice of it
wl_steps() {
  local b; b=$(wl_batch "$1")
  if [ "$QUICK" = 1 ]; then
    case $1 in W1) echo 600 ;; W2) echo 60 ;; W3) echo 16 ;; esac
  else
    echo $(( (N_TRAIN + b - 1) / b ))
  fi
}
wl_warmup() {
  if [ "$QUICK" = 1 ]; then
    case $1 in W1) echo 20 ;; W2) echo 5 ;; W3) echo 2 ;; esac
  else
    case $1 in W1) echo 200 ;; W2) echo 20 ;; W3) echo 5 ;; esac
  fi
}

case $REPEATS in ''|*[!0-9]*|0) echo "run.sh: --repeats wants a positive integer" >&2; exit 2 ;; esac
for w in $WORKLOADS; do
  case $w in W1|W2|W3) ;; *) echo "run.sh: unknown workload '$w'" >&2; exit 2 ;; esac
done

# ---------------------------------------------------------------- packages
need_pkgs=(python3-numpy python3-torch python3-threadpoolctl dataset-fashion-mnist
           libopenblas-dev openmpi-bin gcc libc6-dev)
missing=()
for p in "${need_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing missing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    echo "run.sh: missing Debian packages (run as root or install): ${missing[*]}" >&2
    exit 1
  fi
fi

# ---------------------------------------------------------------- paths
if [ -z "$OUT" ]; then
  OUT="$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)"
fi
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
# results of an earlier run in the same directory are replaced (fashion.h5 is kept)
rm -f "$OUT/sgemm.jsonl" "$OUT/ppgemm.jsonl" "$OUT/fmapeak.jsonl" "$OUT/shapes.jsonl" "$OUT/paraprop.jsonl" "$OUT/peers.jsonl" "$OUT/report.md" \
      "$OUT/env.json" "$OUT/failures.txt"
: > "$OUT/failures.txt"

if [ "$DO_PARAPROP" = 1 ] && [ -z "$PARAPROP" ]; then
  for c in "$ROOT/build/release/src/app/paraprop" "$ROOT/build/dev/src/app/paraprop"; do
    if [ -x "$c" ]; then PARAPROP=$c; break; fi
  done
fi
if [ "$DO_PARAPROP" = 1 ]; then
  if [ -z "$PARAPROP" ] || [ ! -x "$PARAPROP" ]; then
    log "WARNING: no paraprop binary (looked in build/release and build/dev; use --paraprop PATH); skipping paraprop"
    echo "paraprop: binary not found" >> "$OUT/failures.txt"
    DO_PARAPROP=0
  else
    PARAPROP=$(cd "$(dirname "$PARAPROP")" && pwd)/$(basename "$PARAPROP")
    log "paraprop: $PARAPROP"
  fi
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# ---------------------------------------------------------------- environment record
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD_START=$(loadavg)
if awk -v l="${LOAD_START%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  log "WARNING: load average is $LOAD_START on $(nproc) CPUs: other work is running, numbers will be noisy"
fi
START_TS=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# ---------------------------------------------------------------- sgemm ceiling
log "building sgemm"
(cd "$ROOT" && cc -O2 bench/sgemm.c -o "$TMP/sgemm" -lopenblas)
# the core OpenBLAS picks by itself; the "as installed" runs are made only when it differs
ASIS_CORE=$("$TMP/sgemm" --n 64 --reps 1 --threads 1 | sed -n 's/.*"core":"\([^"]*\)".*/\1/p')
BLAS_MODES="best asis"
if [ "$(echo "$ASIS_CORE" | tr A-Z a-z)" = "$(echo "$BEST_CORE" | tr A-Z a-z)" ]; then
  BLAS_MODES=best
  log "OpenBLAS picks $ASIS_CORE by itself, the best core for this CPU: one set of runs"
else
  log "OpenBLAS picks $ASIS_CORE, the CPU's features allow $BEST_CORE: every OpenBLAS user runs with both"
fi
log "sgemm 2048^3 at 1 and 2 threads ($SGEMM_REPS reps)"
# measured at the start and again at the end of the run; the report takes the
# better of the two per thread count (the machine is shared and noisy)
run_sgemm() {  # phase
  local m
  for m in $BLAS_MODES; do
    { pin1 env $(blas_env "$m") "$TMP/sgemm" --n 2048 --reps "$SGEMM_REPS" --threads 1
      env $(blas_env "$m") "$TMP/sgemm" --n 2048 --reps "$SGEMM_REPS" --threads 2; } |
      sed "s/^{/{\"phase\":\"$1\",\"blas_mode\":\"$m\",/" | tee -a "$OUT/sgemm.jsonl" >&2
  done
}
run_sgemm start

# the physical limit: FMAs from registers (bench/fmapeak.c)
log "building fmapeak"
cc -O2 -std=c17 -fopenmp "$ROOT/bench/fmapeak.c" -o "$TMP/fmapeak"
run_fmapeak() {  # phase
  { pin1 "$TMP/fmapeak" --reps "$([ "$QUICK" = 1 ] && echo 2 || echo 5)" --threads 1
    "$TMP/fmapeak" --reps "$([ "$QUICK" = 1 ] && echo 2 || echo 5)" --threads 2; } |
    sed "s/^{/{\"phase\":\"$1\",/" | tee -a "$OUT/fmapeak.jsonl" >&2
}
run_fmapeak start

# paraprop's own AVX-512 kernels on the same product: the ceiling they set where they beat
# the CBLAS (bench/ppgemm.c, compiled from src/core like sgemm.c is from OpenBLAS)
log "building ppgemm (paraprop's kernels)"
mkdir -p "$TMP/inc/paraprop"
sed -e 's/@PP_DOUBLE@/0/' -e 's/@PROJECT_VERSION@/bench/' \
  "$ROOT/include/paraprop/precision.h.in" > "$TMP/inc/paraprop/precision.h"
(cd "$ROOT" && cc -O3 -std=c17 -ffp-contract=off -fopenmp -D_POSIX_C_SOURCE=200809L \
  -I"$TMP/inc" -Iinclude -Isrc/core bench/ppgemm.c src/core/gemm.c src/core/gemm_avx512.c \
  src/core/linalg.c -o "$TMP/ppgemm" -lopenblas)
run_ppgemm() {  # phase
  { pin1 env PARAPROP_KERNELS=own "$TMP/ppgemm" --n 2048 --reps "$SGEMM_REPS" --threads 1
    env PARAPROP_KERNELS=own "$TMP/ppgemm" --n 2048 --reps "$SGEMM_REPS" --threads 2; } |
    sed "s/^{/{\"phase\":\"$1\",/" | tee -a "$OUT/ppgemm.jsonl" >&2
}
run_ppgemm start

# every product shape of W1-W3 on every GEMM engine installed (bench/shapes.c): the measurement
# behind paraprop's choice of engine per shape (docs/PERFORMANCE.md, "Engines per shape")
log "product shapes on each engine"
SH_FLAGS=(-O3 -std=c17 -fopenmp -D_POSIX_C_SOURCE=200809L -I"$TMP/inc" -I"$ROOT/include" -I"$ROOT/src/core")
SH_ARGS=(--reps "$([ "$QUICK" = 1 ] && echo 2 || echo 5)" --ms "$([ "$QUICK" = 1 ] && echo 10 || echo 30)")
run_shapes() {  # label, env..., binary
  local label=$1; shift
  env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$@" "${SH_ARGS[@]}" |
    sed "s/^{/{\"label\":\"$label\",/" >> "$OUT/shapes.jsonl" || echo "shapes $label: failed" >> "$OUT/failures.txt"
}
if grep -q ' avx512f ' /proc/cpuinfo &&
   cc "${SH_FLAGS[@]}" -ffp-contract=off -DENGINE_OWN "$ROOT/bench/shapes.c" "$ROOT/src/core/gemm_avx512.c" -o "$TMP/sh-own"; then
  run_shapes "own AVX-512" "$TMP/sh-own"
fi
if cc "${SH_FLAGS[@]}" -DENGINE_CBLAS "$ROOT/bench/shapes.c" -o "$TMP/sh-openblas" -lopenblas; then
  for m in $BLAS_MODES; do
    c=$BEST_CORE; [ "$m" = asis ] && c="$ASIS_CORE (as installed)"
    run_shapes "OpenBLAS $c" $(blas_env "$m") "$TMP/sh-openblas"
  done
  [ "$BEST_CORE" = SkylakeX ] && run_shapes "OpenBLAS Haswell (AVX2)" OPENBLAS_CORETYPE=Haswell "$TMP/sh-openblas"
fi
if [ -f /usr/include/oneapi/dnnl/dnnl.h ] &&
   cc "${SH_FLAGS[@]}" -DENGINE_DNNL "$ROOT/bench/shapes.c" -o "$TMP/sh-dnnl" -ldnnl; then
  run_shapes "oneDNN" "$TMP/sh-dnnl"
  [ "$BEST_CORE" = SkylakeX ] && run_shapes "oneDNN AVX2" DNNL_MAX_CPU_ISA=AVX2 "$TMP/sh-dnnl"
fi
BLIS_SO=/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4
if [ -f "$BLIS_SO" ] &&
   cc "${SH_FLAGS[@]}" -DENGINE_CBLAS -I/usr/include/x86_64-linux-gnu/blis-openmp "$ROOT/bench/shapes.c" -o "$TMP/sh-blis" "$BLIS_SO"; then
  run_shapes "BLIS" "$TMP/sh-blis"
fi
if [ -f /usr/lib/libxsmm.a ] &&
   cc "${SH_FLAGS[@]}" -DENGINE_XSMM "$ROOT/bench/shapes.c" -o "$TMP/sh-xsmm" /usr/lib/libxsmm.a -lopenblas -lpthread -ldl -lm; then
  run_shapes "libxsmm" $(blas_env best) "$TMP/sh-xsmm"
fi

# ---------------------------------------------------------------- paraprop
run_logged() {  # name, command...
  local name=$1; shift
  if "$@" > "$OUT/logs/$name.out" 2> "$OUT/logs/$name.err"; then
    return 0
  else
    local rc=$?
    log "FAILED ($rc): $name  (see $OUT/logs/$name.err)"
    echo "$name: exit $rc: $*" >> "$OUT/failures.txt"
    return 0
  fi
}

if [ "$DO_PARAPROP" = 1 ]; then
  H5="$OUT/fashion.h5"
  if [ ! -s "$H5" ]; then
    log "converting Fashion-MNIST to $H5"
    if ! "$PARAPROP" convert idx \
        --train-images "$DATA_SRC/train-images-idx3-ubyte.gz" \
        --train-labels "$DATA_SRC/train-labels-idx1-ubyte.gz" \
        --test-images "$DATA_SRC/t10k-images-idx3-ubyte.gz" \
        --test-labels "$DATA_SRC/t10k-labels-idx1-ubyte.gz" \
        -o "$H5" > "$OUT/logs/convert.out" 2> "$OUT/logs/convert.err"; then
      log "FAILED: paraprop convert (see $OUT/logs/convert.err); skipping paraprop"
      echo "convert: failed" >> "$OUT/failures.txt"
      rm -f "$H5"
      DO_PARAPROP=0
    fi
  fi
fi

if [ "$DO_PARAPROP" = 1 ]; then
  for w in $WORKLOADS; do
    steps=$(wl_steps "$w"); warm=$(wl_warmup "$w")
    for layout in "1 1" "1 2" "2 1"; do
      set -- $layout; ranks=$1; threads=$2
      # fast-blas: every product on the CBLAS (1x1 only), with the best OpenBLAS core and as
      # installed; fast-own: every product on paraprop's own kernels. The plain fast and exact
      # runs are what a user who sets nothing gets.
      variants="fast exact"
      if [ "$layout" = "1 1" ]; then
        variants="fast exact fast-own"
        for m in $BLAS_MODES; do variants="$variants fast-blas-$m"; done
      fi
      for variant in $variants; do
        red=${variant%%-*}
        kern=auto; benv=""
        case $variant in
          fast-own) kern=own ;;
          fast-blas-*) kern=blas; benv=$(blas_env "${variant#fast-blas-}") ;;
        esac
        for rep in $(seq 1 "$REPEATS"); do
          name="paraprop-$w-${ranks}x${threads}-$variant-$rep"
          log "$name  (steps $steps, warmup $warm)"
          cmd=("$PARAPROP" bench --data "$H5"
               --layers "$(wl_layers "$w")"
               --hidden-activation "$(wl_hidden "$w")"
               --output-activation "$(wl_output "$w")"
               --cost "$(wl_cost "$w")"
               --learning-rate "$(wl_lr "$w")"
               --momentum "$(wl_mom "$w")"
               --batch-size "$(wl_batch "$w")"
               --threads "$threads" --reduction "$red"
               --steps "$steps" --warmup "$warm"
               --json "$TMP/one.jsonl")
          rm -f "$TMP/one.jsonl"
          if [ "$ranks" = 1 ] && [ "$threads" = 1 ]; then
            run_logged "$name" pin1 env $benv PARAPROP_KERNELS="$kern" "${cmd[@]}"
          elif [ "$ranks" = 1 ]; then
            run_logged "$name" env $benv PARAPROP_KERNELS="$kern" "${cmd[@]}"
          else
            run_logged "$name" env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
              $benv PARAPROP_KERNELS="$kern" mpiexec -n "$ranks" --bind-to none "${cmd[@]}"
          fi
          # the variant goes with the record: the report names the row by it
          [ -s "$TMP/one.jsonl" ] &&
            sed "s/^{/{\"variant\":\"$variant\",/" "$TMP/one.jsonl" >> "$OUT/paraprop.jsonl"
        done
      done
    done
  done
fi

# ---------------------------------------------------------------- peers
if [ "$DO_PEERS" = 1 ]; then
  for w in $WORKLOADS; do
    if [ "$QUICK" = 1 ]; then
      pargs=(--epochs 1 --steps "$(wl_steps "$w")" --warmup-steps "$(wl_warmup "$w")")
    else
      pargs=(--epochs "$REPEATS" --warmup-steps "$(wl_warmup "$w")")
    fi
    for m in $BLAS_MODES; do
    for peer in torch numpy; do
      for t in 1 2; do
        name="$peer-$w-1x$t-$m"
        log "$name"
        envs=($(blas_env "$m") OPENBLAS_NUM_THREADS="$t" OMP_NUM_THREADS="$t")
        if [ "$peer" = torch ] && [ "$t" -gt 1 ]; then envs+=(OMP_WAIT_POLICY=passive); fi
        pin=()
        [ "$t" = 1 ] && pin=(pin1)
        run_logged "$name" "${pin[@]}" env "${envs[@]}" "$PY" "$BENCH_DIR/peers/${peer}_mlp.py" \
          --workload "$w" --threads "$t" "${pargs[@]}"
        sed "s/^{/{\"blas_mode\":\"$m\",/" "$OUT/logs/$name.out" >> "$OUT/peers.jsonl"
      done
    done
    done
  done
fi

log "sgemm, ppgemm and fmapeak again (end of run)"
run_sgemm end
run_ppgemm end
run_fmapeak end
LOAD_END=$(loadavg)
"$PY" - "$OUT/env.json" <<EOF
import json, os, platform, subprocess, sys
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return None
model = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")
json.dump({
    "start": "$START_TS",
    "end": sh("date -u +%Y-%m-%dT%H:%M:%SZ"),
    "host_cpu": model,
    "nproc": os.cpu_count(),
    "loadavg_start": "$LOAD_START",
    "loadavg_end": "$LOAD_END",
    "quick": $QUICK == 1,
    "repeats": $REPEATS,
    "workloads": "$WORKLOADS".split(),
    "paraprop": "$PARAPROP" or None,
    "paraprop_git": sh("git -C '$ROOT' rev-parse --short HEAD 2>/dev/null") or None,
    "openblas_env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")},
    "openblas_preset": {"OPENBLAS_CORETYPE": "$PRESET_CORETYPE" or None,
                        "OPENBLAS_L2_SIZE": "$PRESET_L2" or None},
    "openblas_core_best": "$BEST_CORE",
    "openblas_core_as_installed": "$ASIS_CORE",
    "blas_modes": "$BLAS_MODES".split(),
    "cpu_flags": sh("grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2").split(),
    "paraprop_version": sh("'$PARAPROP' --version 2>/dev/null") if "$PARAPROP" else None,
    "omp_env": {k: v for k, v in os.environ.items() if k.startswith(("OMP_", "GOMP_"))},
    "kernel": platform.release(),
    "one_thread_runs_pinned_to_cpu": "$PIN_CPU",
}, open(sys.argv[1], "w"), indent=1)
EOF

"$PY" "$BENCH_DIR/report.py" "$OUT"
log "report: $OUT/report.md"
if [ -s "$OUT/failures.txt" ]; then
  log "some runs failed:"
  cat "$OUT/failures.txt" >&2
  exit 1
fi
