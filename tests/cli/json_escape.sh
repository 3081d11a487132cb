#!/usr/bin/env bash
# JSON output stays valid JSON whatever the paths hold: a run directory with '"', '\', a tab and
# a byte that is not UTF-8 is trained, resumed (its path goes into the resume event) and
# metrics.jsonl parsed line by line; bench's JSON line is parsed too.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2; rm -rf "$dir"; mkdir -p "$dir"
synth_h5 "$bin" "$dir/d.h5" 200 50 4 3
run="$dir/we\"ird\\dir"$'\t'$'\xff'"x"
args=(--data "$dir/d.h5" --layers 4,5,3 --batch-size 10 --threads 1 --progress off --run-dir "$run")
"$bin" train "${args[@]}" --epochs 1 > "$dir/a.txt" 2>&1 || fail "first run: $(tail -3 "$dir/a.txt")"
"$bin" train "${args[@]}" --epochs 2 > "$dir/b.txt" 2>&1 || fail "resumed run: $(tail -3 "$dir/b.txt")"
grep -q "resuming from" "$dir/b.txt" || fail "the second run did not resume"
"$bin" bench --data "$dir/d.h5" --layers 4,5,3 --steps 3 --warmup 1 --threads 1 \
  --json "$dir/bench.jsonl" > "$dir/bench.txt" 2>&1 || fail "bench: $(tail -3 "$dir/bench.txt")"
/usr/bin/python3 - "$run" "$dir" <<'PY' || fail "invalid JSON (above)"
import json, os, sys
run, d = os.fsencode(sys.argv[1]), sys.argv[2]
with open(os.path.join(run, b"metrics.jsonl"), "rb") as f:
    lines = f.read().decode("utf-8").splitlines()  # strict: every byte must be UTF-8
events = [json.loads(line) for line in lines]
kinds = [e["event"] for e in events]
assert kinds.count("epoch") == 2 and "resume" in kinds and kinds[-1] == "finished", kinds
res = next(e for e in events if e["event"] == "resume")["resumed_from"]
# the invalid byte 0xff comes back as U+00FF, everything else exactly
want = os.fsdecode(run).replace("\udcff", "\u00ff")
assert res.startswith(want + "/checkpoints/step-"), (res, want)
for name in ("bench.jsonl", "bench.txt"):
    with open(os.path.join(d, name)) as f:
        line = [l for l in f if l.startswith("{")][-1]
    b = json.loads(line)
    assert b["layers"] == [4, 5, 3] and len(b["fingerprint"]) == 64, b
print("metrics.jsonl (%d lines) and bench lines parse" % len(events))
PY
echo "PASS json_escape"
