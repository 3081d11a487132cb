#!/usr/bin/env bash
# Collective failure: a failure that only one rank sees — a read error (that rank is given a
# missing data file) or an allocation failure (that rank has an address-space limit) — is agreed
# by all R ranks, which exit with the failing rank's message within a bounded time.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2 R=${3:-2}; rm -rf "$dir"; mkdir -p "$dir"
synth_h5 "$bin" "$dir/d.h5" 200 20 6 3
last=$((R - 1))
# ASan reserves terabytes of address space, so under ASan the limit is its own allocator's
asan=0   # (not `ldd | grep -q`: grep's early exit can kill ldd, and pipefail then says "no")
case "$(ldd "$bin")" in *libasan*) asan=1 ;; esac
# per-rank wrapper: the last rank gets the fault
cat > "$dir/wrap.sh" <<W
#!/usr/bin/env bash
if [ "\$OMPI_COMM_WORLD_RANK" = "$last" ]; then
  case "\$FAULT" in
    read) set -- "\${@/d.h5/missing.h5}" ;;
    alloc) if [ "$asan" = 1 ]; then
             export ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}allocator_may_return_null=1:max_allocation_size_mb=1000"
           else
             ulimit -v 1500000
           fi ;;
  esac
fi
exec "\$@"
W
chmod +x "$dir/wrap.sh"
for fault in read alloc; do
  layers=6,16,3
  [ $fault = alloc ] && layers=6,40000,10000,3   # ~1.6 GB of parameters: fits rank 0, not the limited rank
  start=$(date +%s)
  set +e
  FAULT=$fault timeout 120 mpiexec -n "$R" --oversubscribe --bind-to none -x FAULT "$dir/wrap.sh" \
    "$bin" train --data "$dir/d.h5" --layers $layers --output-activation softmax --epochs 1 \
    --batch-size 10 --threads 1 --run-dir "$dir/run-$fault" --progress off > "$dir/$fault.txt" 2>&1
  rc=$?
  set -e
  took=$(( $(date +%s) - start ))
  [ $rc -ne 124 ] || fail "$fault: the job hung (killed after 120 s)"
  case $fault in
    read) [ $rc -eq 3 ] || fail "read: exit $rc, expected 3: $(cat "$dir/$fault.txt")"
          grep -q "rank $last: .*missing.h5" "$dir/$fault.txt" || fail "read: message: $(cat "$dir/$fault.txt")" ;;
    alloc) [ $rc -eq 6 ] || fail "alloc: exit $rc, expected 6: $(cat "$dir/$fault.txt")"
           grep -q "rank $last: .*allocate" "$dir/$fault.txt" || fail "alloc: message: $(cat "$dir/$fault.txt")" ;;
  esac
  [ "$(grep -c 'paraprop: error' "$dir/$fault.txt")" -eq 1 ] || fail "$fault: the error should be printed once"
  echo "ok $fault fault on rank $last of $R: exit $rc in ${took}s: $(grep 'paraprop: error' "$dir/$fault.txt")"
done
echo "PASS one-rank failure R=$R"
