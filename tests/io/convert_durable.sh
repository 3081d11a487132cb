#!/usr/bin/env bash
# convert's output is durable once it reports success: the new file is fsynced before the
# rename, and the directory is fsynced after it (without that a crash can undo the rename).
# Traced with strace: the system calls are the behaviour under test.
source "$(dirname "$0")/../lib/common.sh"
bin=$1 dir=$2; rm -rf "$dir"; mkdir -p "$dir"
synth_csv "$dir/t.csv" 50 4 3 1
/usr/bin/strace -f -o "$dir/trace.txt" -e trace=openat,fsync,fdatasync,rename,renameat,renameat2 \
  "$bin" convert csv --train "$dir/t.csv" --classes 3 -o "$dir/out.h5" > "$dir/out.txt" 2>&1 \
  || fail "convert under strace: $(tail -3 "$dir/out.txt")"
/usr/bin/python3 - "$dir" <<'PY' || fail "durability (above); trace in $dir/trace.txt"
import re, sys
d = sys.argv[1]
calls = [re.sub(r"^\d+\s+", "", l) for l in open(d + "/trace.txt")]
ren = [i for i, c in enumerate(calls) if re.match(r'rename\w*\(.*"%s/out\.h5\.tmp".*"%s/out\.h5"' % (d, d), c)]
assert len(ren) == 1, "no single rename of out.h5.tmp into place"
r = ren[0]
# before: the temporary file opened for writing and fsynced
fd = [re.search(r"= (\d+)$", c.strip()).group(1) for c in calls[:r]
      if re.match(r'openat\(.*"%s/out\.h5\.tmp", O_WRONLY' % d, c)]
assert fd and any(c.startswith("fsync(%s)" % fd[-1]) for c in calls[:r]), "tmp not fsynced"
# after: the directory opened and fsynced
after = calls[r + 1:]
dfd = [re.search(r"= (\d+)$", c.strip()).group(1) for c in after
       if re.match(r'openat\(.*"%s", O_RDONLY\|O_DIRECTORY' % d, c)]
assert dfd and any(c.startswith("fsync(%s)" % dfd[0]) for c in after), "directory not fsynced after the rename"
print("tmp fsynced, renamed, directory fsynced")
PY
echo "PASS convert_durable"
