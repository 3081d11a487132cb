#!/usr/bin/env bash
# Installs paraprop's Debian 12 packages (as root). `--test` adds what the test suite uses.
# Slurm packages are installed by the Slurm test fixture itself (tests/slurm/cluster.sh).
set -euo pipefail
# libdnnl-dev (oneDNN) is optional: the build uses it when present, for the large products
# (docs/PERFORMANCE.md, "Engines per shape")
pkgs=(cmake make gcc pkg-config libopenmpi-dev openmpi-bin libhdf5-openmpi-dev libopenblas-dev
      zlib1g-dev dataset-fashion-mnist libdnnl-dev)
if [ "${1:-}" = "--test" ]; then
  # clang for the libFuzzer stage, with its sanitizer runtimes and its OpenMP (libomp)
  # libblis-dev: the build with another BLAS vendor (the `blis` preset); strace: io_convert_durable;
  # gfortran, python3-torch, python3-onnx, python3-pip: the Fortran module, the Python export and
  # pip-install tests; gnuplot-nox: `paraprop plot -o FILE.png` (train_plot); time: /usr/bin/time
  # for peak RSS (io_convert_large)
  pkgs+=(python3 python3-h5py python3-numpy procps gawk clang libclang-rt-14-dev libomp-14-dev
         libblis-dev strace gfortran python3-torch python3-onnx python3-pip gnuplot-nox time)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Open MPI resolves "localhost" at every launch. A system without /etc/hosts (a minimal
# container, a debootstrap chroot) sends that to DNS, and each launch waits out the resolver's
# 5-second time-outs when no server answers; a Debian install always has the file.
if [ ! -e /etc/hosts ]; then
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > /etc/hosts
  echo "install-deps: /etc/hosts was missing; wrote one that names localhost (Open MPI looks it up)"
fi
