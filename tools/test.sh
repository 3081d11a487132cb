#!/usr/bin/env bash
# The second README command: installs the Debian packages, then builds and runs the whole test
# suite: `ci` (release, -Werror: everything, including the slow Fashion-MNIST job, the kill test
# and the real-Slurm tests), `double` (gradient checks to 1e-6), `blis` (another BLAS vendor,
# BLA_VENDOR=FLAME, with PARAPROP_KERNELS=blas: the CBLAS path on a few tests), `asan` (ASan+UBSan: all but
# slow, slurm, install (an ASan library cannot serve an uninstrumented downstream program),
# accuracy (the two Nielsen reproductions, minutes under ASan) and kill (robust_kill_adam_5: SIGKILLs
# at random instants, whose resumes run under ASan in smaller tests) and variant (the other
# R×T of cli_resume and cli_optim_resume, which ASan runs at 2×2), including the corrupt-file
# corpus), then each libFuzzer harness for a bounded
# time (PP_FUZZ_SECONDS, default 12) plus the saved crash reproducers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh --test
status=0
for preset in ci double blis asan; do
  echo "=== build: $preset"
  cmake --preset "$preset" > /dev/null
  cmake --build --preset "$preset"
done
for preset in ci double blis asan; do
  echo "=== tests: $preset"
  ctest --preset "$preset" --timeout 1500 || status=1
done
echo "=== fuzz"
bash tests/fuzz/run.sh build/fuzz "${PP_FUZZ_SECONDS:-12}" || status=1
echo "=== fuzz regressions (inputs that once crashed)"
export ASAN_OPTIONS="suppressions=$PWD/tests/fuzz/asan.supp" LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp"
for f in tests/fuzz/crashes/*; do
  case $(basename "$f") in
    checkpoint-*|hdf5-*) h=checkpoint ;;
    csv-*) h=csv ;;
    dataset-*) h=dataset ;;
    *) continue ;;
  esac
  if build/fuzz/tests/fuzz/fuzz_$h "$f" > build/fuzz/regression.log 2>&1; then
    echo "ok   $f"
  else
    echo "FAIL $f"; tail -20 build/fuzz/regression.log; status=1
  fi
done
[ $status -eq 0 ] && echo "all suites passed" || echo "some suites FAILED"
exit $status
