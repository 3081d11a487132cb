#!/usr/bin/env bash
# A training run on synthetic data reaches an accuracy threshold; run dir contents are right.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2; rm -rf "$dir"; mkdir -p "$dir"
synth_h5 "$bin" "$dir/d.h5" 3000 600 8 3
"$bin" train --data "$dir/d.h5" --layers 8,16,3 --epochs 8 --batch-size 10 --learning-rate 0.5 \
  --run-dir "$dir/run" --progress off > "$dir/out.txt" || fail "train failed: $(cat "$dir/out.txt")"
acc=$(sed -n 's/^test accuracy: \([0-9.]*\).*/\1/p' "$dir/out.txt")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }' || fail "test accuracy $acc < 0.9"
[ -f "$dir/run/final.h5" ] || fail "no final.h5"
[ -f "$dir/run/config.txt" ] || fail "no config.txt"
grep -q '^layers = 8,16,3$' "$dir/run/config.txt" || fail "config.txt lacks the layers"
[ "$(grep -c '"event": "epoch"' "$dir/run/metrics.jsonl")" -eq 8 ] || fail "metrics.jsonl should have 8 epoch lines"
ls "$dir/run/checkpoints"/step-*.h5 >/dev/null || fail "no checkpoints"
[ "$(ls "$dir/run/checkpoints"/step-*.h5 | wc -l)" -eq 3 ] || fail "--keep 3 not honoured"
"$bin" eval --model "$dir/run/final.h5" --data "$dir/d.h5" > "$dir/eval.txt" || fail "eval failed"
grep -q "accuracy: $acc" "$dir/eval.txt" || fail "eval accuracy differs from train's $acc: $(cat "$dir/eval.txt")"
info=$("$bin" inspect "$dir/run/final.h5") || fail "inspect failed: $info"
grep -q "valid: yes" <<<"$info" || fail "inspect says invalid"
# --epochs 0 writes the initial model
"$bin" train --data "$dir/d.h5" --layers 8,16,3 --epochs 0 --run-dir "$dir/init" --progress off >/dev/null
info=$("$bin" inspect "$dir/init/final.h5") || fail "inspect failed: $info"
grep -q "position: 0 epochs" <<<"$info" || fail "--epochs 0 model"
echo "PASS train_synthetic (accuracy $acc)"
