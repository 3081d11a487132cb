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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int n = 2048, reps = 5, threads[16], nthreads = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0)
            while (i + 1 < argc && argv[i + 1][0] != '-' && nthreads < 16)
                threads[nthreads++] = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: ppgemm [--n N] [--reps R] [--threads T ...]\n");
            return 2;
        }
    }
    if (nthreads == 0) threads[nthreads++] = 1;
    if (n <= 0 || reps <= 0) {
        fprintf(stderr, "ppgemm: bad --n/--reps\n");
        return 2;
    }
    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
    double *t = malloc((size_t)reps * sizeof *t);
    if (!a || !b || !c || !t) {
        fprintf(stderr, "ppgemm: out of memory\n");
        return 1;
    }
    unsigned s = 12345u;
    for (size_t i = 0; i < nn; ++i) {
        s = s * 1664525u + 1013904223u;
        a[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
        s = s * 1664525u + 1013904223u;
        b[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
    const double flop = 2.0 * (double)n * (double)n * (double)n;
    for (int k = 0; k < nthreads; ++k) {
        const int T = threads[k];
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
    free(a);
    free(b);
    free(c);
    free(t);
    return 0;
}
