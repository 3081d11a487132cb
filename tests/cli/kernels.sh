#!/usr/bin/env bash
# The matrix engines: --version names them; PARAPROP_KERNELS forces one; the restart with a
# better OpenBLAS core (PARAPROP_BLAS_CORE names the core here, as the CPU's features would on a
# CPU model OpenBLAS does not know) happens once, before MPI, and PARAPROP_BLAS_CORE=asis stops
# it; exact mode refuses ranks whose kernels differ (issue 14). OPENBLAS_CORETYPE is never set
# here: only paraprop sets it, in its own process.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2; rm -rf "$dir"; mkdir -p "$dir"
unset OPENBLAS_CORETYPE PARAPROP_KERNELS PARAPROP_BLAS_CORE PARAPROP_BLAS_RESTARTED

v=$("$bin" --version)
echo "$v"
grep -q '^products: auto: ' <<< "$v" || fail "--version does not name the products' engines: $v"
if grep -q ' avx512f ' /proc/cpuinfo; then
  grep -q 'own AVX-512' <<< "$v" || fail "AVX-512 CPU but --version names no own kernels: $v"
fi
vb=$(PARAPROP_KERNELS=blas "$bin" --version)
grep -q '^products: forced: ' <<< "$vb" || fail "PARAPROP_KERNELS=blas: $vb"
! grep -q 'own AVX-512\|oneDNN' <<< "$vb" || fail "PARAPROP_KERNELS=blas still names other engines: $vb"

# a tiny data set for the training runs
synth_h5 "$bin" "$dir/d.h5" 200 20 5 3
args=(--data "$dir/d.h5" --layers 5,8,3 --batch-size 16 --epochs 1 --learning-rate 0.2
      --checkpoint-every none --progress off)

if grep -q 'OpenBLAS' <<< "$vb"; then
  # the core OpenBLAS picked, upper case as --version prints it; ask for another one
  have=$(sed -n 's/^products: forced: OpenBLAS [^ ]* \([A-Z0-9]*\).*/\1/p' <<< "$vb")
  [ -n "$have" ] || fail "no OpenBLAS core in: $vb"
  want=Sandybridge; [ "$have" = SANDYBRIDGE ] && want=Haswell
  vr=$(PARAPROP_BLAS_CORE=$want PARAPROP_KERNELS=blas "$bin" --version)
  echo "$vr"
  grep -qi "^products: forced: OpenBLAS [^ ]* $want\$" <<< "$vr" || fail "no restart with $want: $vr"
  grep -q "restarted itself with OPENBLAS_CORETYPE=$want" <<< "$vr" || fail "restart not reported: $vr"
  va=$(PARAPROP_BLAS_CORE=asis PARAPROP_KERNELS=blas "$bin" --version)
  if grep -q 'restarted itself' <<< "$vb"; then
    # a CPU model OpenBLAS does not know (a Xeon model 207 here, 2026-12-02): asis keeps the
    # core OpenBLAS chose, which the restart line of the default run names, and restarts nothing
    own=$(sed -n 's/^OpenBLAS chose \([A-Za-z0-9]*\) for this CPU model.*/\1/p' <<< "$vb")
    [ -n "$own" ] || fail "restart line without OpenBLAS's own choice: $vb"
    grep -qi "^products: forced: OpenBLAS [^ ]* $own\$" <<< "$va" \
      || fail "PARAPROP_BLAS_CORE=asis: not OpenBLAS's own $own: $va"
    ! grep -q 'restarted itself' <<< "$va" || fail "PARAPROP_BLAS_CORE=asis restarted: $va"
  else
    [ "$va" = "$vb" ] || fail "PARAPROP_BLAS_CORE=asis changed something: $va"
  fi
  # the restart happens on every rank, before MPI_Init: a 2-rank exact run still works
  PARAPROP_BLAS_CORE=$want PARAPROP_KERNELS=blas mpirun_n 2 "$bin" train "${args[@]}" \
    --reduction exact --run-dir "$dir/restart" > "$dir/restart.txt" 2>&1 \
    || fail "2 ranks restarted with $want: $(tail -3 "$dir/restart.txt")"
  # exact mode, one rank on another OpenBLAS core: refused at set-up
  if PARAPROP_KERNELS=blas mpirun_n 2 bash -c \
      '[ "$OMPI_COMM_WORLD_RANK" = 1 ] && export PARAPROP_BLAS_CORE='"$want"'; exec "$0" "$@"' \
      "$bin" train "${args[@]}" --reduction exact --run-dir "$dir/mixcore" > "$dir/mixcore.txt" 2>&1; then
    fail "exact mode ran with two OpenBLAS cores"
  else
    rc=$?
  fi
  [ "$rc" = 2 ] || fail "mixed cores: exit $rc, not 2: $(tail -3 "$dir/mixcore.txt")"
  grep -q 'needs the same matrix kernels on every rank' "$dir/mixcore.txt" \
    || fail "mixed cores: no clear message: $(tail -3 "$dir/mixcore.txt")"
fi

# exact mode with PARAPROP_KERNELS=blas on rank 1 only: refused where the default differs
if [ "$(PARAPROP_KERNELS=blas "$bin" --version | sed -n 's/^products: [a-z]*: //p')" != \
     "$(sed -n 's/^products: [a-z]*: //p' <<< "$v")" ] && grep -q 'own AVX-512' <<< "$v"; then
  if mpirun_n 2 bash -c '[ "$OMPI_COMM_WORLD_RANK" = 1 ] && export PARAPROP_KERNELS=blas; exec "$0" "$@"' \
      "$bin" train "${args[@]}" --reduction exact --run-dir "$dir/mix" > "$dir/mix.txt" 2>&1; then
    fail "exact mode ran with own kernels on rank 0 and the CBLAS on rank 1"
  else
    rc=$?
  fi
  [ "$rc" = 2 ] || fail "mixed kernels: exit $rc, not 2: $(tail -3 "$dir/mix.txt")"
  grep -q 'rank 0 runs .*own AVX-512.* and rank 1 ' "$dir/mix.txt" || fail "mixed kernels: $(cat "$dir/mix.txt")"
  # fast mode promises no bits across ranks: the same mix runs
  mpirun_n 2 bash -c '[ "$OMPI_COMM_WORLD_RANK" = 1 ] && export PARAPROP_KERNELS=blas; exec "$0" "$@"' \
    "$bin" train "${args[@]}" --reduction fast --run-dir "$dir/mixfast" > "$dir/mixfast.txt" 2>&1 \
    || fail "fast mode with mixed kernels failed: $(tail -3 "$dir/mixfast.txt")"
  # and the same kernels on both ranks are accepted in exact mode
  mpirun_n 2 "$bin" train "${args[@]}" --reduction exact --run-dir "$dir/same" > "$dir/same.txt" 2>&1 \
    || fail "exact mode, same kernels: $(tail -3 "$dir/same.txt")"
fi
echo "PASS kernels"
