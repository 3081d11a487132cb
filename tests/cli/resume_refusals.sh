#!/usr/bin/env bash
# Resumes that would silently change the run are refused (status 2, the difference named): a
# changed --shuffle (the epoch's order is regenerated on resume) and --momentum > 0 from a
# checkpoint that holds no velocity (it would restart at zero). The unchanged command resumes.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2; rm -rf "$dir"; mkdir -p "$dir"
synth_h5 "$bin" "$dir/d.h5" 200 50 4 3
args=(--data "$dir/d.h5" --layers 4,5,3 --batch-size 10 --threads 1 --progress off --run-dir "$dir/run")
"$bin" train "${args[@]}" --epochs 1 > "$dir/a.txt" 2>&1 || fail "first run: $(tail -3 "$dir/a.txt")"
expect_refusal() { # NAME PHRASE EXTRA...
  local name=$1 phrase=$2; shift 2
  set +e
  "$bin" train "${args[@]}" --epochs 2 "$@" > "$dir/$name.txt" 2>&1
  local rc=$?
  set -e
  [ $rc -eq 2 ] || fail "$name: exit status $rc, expected 2: $(tail -3 "$dir/$name.txt")"
  grep -qF -- "$phrase" "$dir/$name.txt" || fail "$name: message lacks '$phrase': $(grep error "$dir/$name.txt")"
}
expect_refusal shuffle "--shuffle on, this run off" --shuffle off
expect_refusal momentum "holds no momentum velocity" --momentum 0.5
[ "$(grep -c '"event": "epoch"' "$dir/run/metrics.jsonl")" -eq 1 ] || fail "a refused resume trained on"
"$bin" train "${args[@]}" --epochs 2 > "$dir/ok.txt" 2>&1 || fail "unchanged resume: $(tail -3 "$dir/ok.txt")"
grep -q "resuming from" "$dir/ok.txt" || fail "the unchanged command did not resume"
echo "PASS resume_refusals"
