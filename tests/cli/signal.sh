#!/usr/bin/env bash
# Preemption: SIGUSR1 to ONE rank of a 2-rank run → both ranks stop at the same step, a
# checkpoint is written, the exit status is 75; running again resumes and ends with the bits of
# an uninterrupted run. bench, which polls no stop flag, is ended by SIGTERM at once.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2; rm -rf "$dir"; mkdir -p "$dir"
synth_h5 "$bin" "$dir/d.h5" 4000 100 32 4
# long enough that the signal lands mid-run, on any machine: 12 epochs took 0.8 s once two
# ranks shared their batch's factors (2026-12-02, a Xeon model 207) and the run ended before it
# was signalled, while under ASan they take ~30 s. So the uninterrupted run is timed, and rerun
# with proportionally more epochs when it took under 3 s; the polls below wait 20 ms
epochs=12
for _ in 1 2; do
  args=(--data "$dir/d.h5" --layers 32,256,256,4 --batch-size 8 --epochs "$epochs"
        --learning-rate 0.05 --threads 1 --checkpoint-every none --progress off)
  rm -rf "$dir/u"
  t0=$(date +%s%N)
  mpirun_n 2 "$bin" train "${args[@]}" --run-dir "$dir/u" > "$dir/u.txt" || fail "uninterrupted run"
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "$ms" -lt 3000 ] || break
  epochs=$(( epochs * (3000 / (ms > 100 ? ms : 100) + 1) ))
  [ "$epochs" -le 400 ] || epochs=400
done
echo "uninterrupted run: $epochs epochs in ${ms} ms"
want=$(fingerprint_of "$dir/u.txt")
mpirun_n 2 "$bin" train "${args[@]}" --run-dir "$dir/s" > "$dir/s.txt" 2>&1 &
launcher=$!
# wait until training runs (metrics.jsonl has the start event: both ranks have their signal
# handlers by then), then signal rank 1 only, at once
for _ in $(seq 3000); do grep -q '"start"' "$dir/s/metrics.jsonl" 2>/dev/null && break; sleep 0.02; done
ranks=()
for _ in $(seq 50); do
  ranks=()
  for p in $(pgrep -f -- "train .*--run-dir $dir/s" || true); do
    [ "$p" != "$launcher" ] && [ "$(cat /proc/$p/comm 2>/dev/null)" = paraprop ] && ranks+=("$p")
  done
  [ ${#ranks[@]} -eq 2 ] && break
  sleep 0.02
done
kill -0 $launcher 2>/dev/null || fail "the run ended before it could be signalled: $(tail -3 "$dir/s.txt")"
[ ${#ranks[@]} -eq 2 ] || fail "expected 2 rank processes, found ${#ranks[@]}"
kill -USR1 "${ranks[1]}"
set +e; wait $launcher; rc=$?; set -e
[ $rc -eq 75 ] || fail "exit status $rc, expected 75: $(tail -5 "$dir/s.txt")"
grep -q "checkpoint written to" "$dir/s.txt" || fail "no checkpoint message"
n=$(ls "$dir/s/checkpoints" | wc -l)
[ "$n" -eq 1 ] || fail "expected one checkpoint, found $n"
mpirun_n 2 "$bin" train "${args[@]}" --run-dir "$dir/s" > "$dir/r.txt" || fail "resume failed"
grep -q "resuming from" "$dir/r.txt" || fail "did not resume"
got=$(fingerprint_of "$dir/r.txt")
[ "$got" = "$want" ] || fail "resumed fingerprint $got, uninterrupted $want"
# bench (like eval) polls no stop flag, so it must keep SIGTERM's default action: it ends at
# once, killed by the signal, instead of swallowing it and running its steps to the end
"$bin" bench --data "$dir/d.h5" --layers 32,256,256,4 --steps 100000000 --threads 1 \
  > "$dir/b.txt" 2>&1 &
bench=$!
sleep 2
kill -0 $bench 2>/dev/null || fail "bench ended before it could be signalled: $(tail -3 "$dir/b.txt")"
kill -TERM $bench
for _ in $(seq 600); do kill -0 $bench 2>/dev/null || break; sleep 0.1; done
if kill -0 $bench 2>/dev/null; then kill -KILL $bench; fail "bench ignored SIGTERM"; fi
set +e; wait $bench; rc=$?; set -e
[ $rc -eq 143 ] || fail "bench after SIGTERM: exit status $rc, expected 143 (killed by SIGTERM)"
echo "PASS signal (stopped at $(ls "$dir/s/checkpoints"))"
