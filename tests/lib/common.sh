# Shared helpers for the shell tests: fail(), a synthetic dataset, MPI launch as root.
set -euo pipefail
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
fail() { echo "FAIL: $*" >&2; exit 1; }
mpirun_n() { local n=$1; shift; mpiexec -n "$n" --oversubscribe --bind-to none "$@"; }

# synth_csv FILE N D K SEED: K Gaussian-ish blobs in D dimensions (centres fixed, samples by
# SEED), label in column 0
synth_csv() {
  awk -v n="$2" -v d="$3" -v k="$4" -v seed="$5" 'BEGIN {
    srand(1);   # the same blob centres for every file
    for (c = 0; c < k; c++) for (j = 0; j < d; j++) ctr[c, j] = 2 * rand() - 1;
    srand(seed);
    for (i = 0; i < n; i++) {
      c = int(rand() * k); line = c;
      for (j = 0; j < d; j++) {
        u = rand() + rand() + rand() - 1.5;   # roughly normal, sd 0.5
        line = line "," sprintf("%.6f", ctr[c, j] + 0.6 * u);
      }
      print line;
    }
  }' > "$1"
}

# synth_h5 PARAPROP OUT N_TRAIN N_TEST D K: a dataset file with train and test groups
synth_h5() {
  local bin=$1 out=$2 dir
  dir=$(dirname "$out")
  synth_csv "$dir/train.csv" "$3" "$5" "$6" 11
  synth_csv "$dir/test.csv" "$4" "$5" "$6" 12
  "$bin" convert csv --train "$dir/train.csv" --test "$dir/test.csv" --classes "$6" -o "$out" >/dev/null
}

fingerprint_of() { sed -n 's/^fingerprint: //p' "$1" | tail -n 1; }
