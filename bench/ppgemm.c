/* ppgemm.c - the rate of paraprop's own matrix kernels on the square product that
 * bench/sgemm.c times for OpenBLAS: a second, higher ceiling where paraprop's AVX-512 kernels
 * beat the CBLAS (bench/README.md). Compiled by bench/run.sh from src/core/gemm*.c.
 *
 * Usage:  ppgemm [--n N] [--reps R] [--threads T ...]
 * Prints one JSON line per thread count, like sgemm:
 *   {"threads":T,"n":N,"reps":R,"gflops":best,"gflops_median":median,"kernels":"avx512"}
 * With T threads each multiplies its own block of rows of A (as paraprop splits a minibatch). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "gemm_bench.h"

int main(int argc, char **argv)
{
    gemm_bench g;
    int rc = gemm_bench_init(&g, argc, argv, 5);
    if (rc) return rc;
    const int n = g.n, reps = g.reps;
    const size_t nn = (size_t)n * (size_t)n;
    float *a = g.a, *b = g.b, *c = g.c;
    double *t = g.t;
    const double flop = 2.0 * (double)n * (double)n * (double)n;
    for (int k = 0; k < g.nthreads; ++k) {
        const int T = g.threads[k];
        for (int r = -1; r < reps; ++r) { /* r = -1: warm-up */
            double t0 = omp_get_wtime();
#pragma omp parallel num_threads(T)
            {
                int id = omp_get_thread_num(), nt = omp_get_num_threads();
                int r0 = (int)((long)n * id / nt), r1 = (int)((long)n * (id + 1) / nt);
                pp_mm_nn(r1 - r0, n, n, a + (size_t)r0 * n, n, 1, b, n, c + (size_t)r0 * n, n);
            }
            if (r >= 0) t[r] = omp_get_wtime() - t0;
        }
        qsort(t, (size_t)reps, sizeof *t, cmp_double);
        printf("{\"threads\":%d,\"n\":%d,\"reps\":%d,\"gflops\":%.2f,\"gflops_median\":%.2f,"
               "\"checksum\":%.6g,\"kernels\":\"%s\"}\n",
               T, n, reps, flop / t[0] / 1e9, flop / t[reps / 2] / 1e9, (double)c[nn / 2 + 7],
               pp_mm_kernels());
        fflush(stdout);
    }
    gemm_bench_free(&g);
    return 0;
}
