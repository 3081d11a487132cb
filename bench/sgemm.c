/* sgemm.c - OpenBLAS single-precision GEMM ceiling for the paraprop benchmarks.
 *
 * Build:  cc -O2 bench/sgemm.c -o sgemm -lopenblas
 * Usage:  sgemm [--n N] [--reps R] [--threads T ...]
 *
 * For each thread count T, times cblas_sgemm(C = A*B) on square N x N float
 * matrices (default N=2048), R timed repetitions after one untimed warm-up,
 * and prints one JSON line per T:
 *   {"threads":T,"n":N,"reps":R,"gflops":best,"gflops_median":median,"blas":"...","core":"..."}
 * "core" is the kernel set OpenBLAS runs (openblas_get_corename: OPENBLAS_CORETYPE, else its
 * choice by CPU model).
 * "gflops" is the best repetition (the practical ceiling); the median is
 * reported as well because the benchmark machine is shared and noisy.
 */
#define _POSIX_C_SOURCE 199309L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gemm_bench.h"

/* Declared in OpenBLAS's cblas.h; repeated here in case another cblas.h wins. */
extern void openblas_set_num_threads(int num_threads);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    gemm_bench g;
    int rc = gemm_bench_init(&g, argc, argv, 7);
    if (rc) return rc;
    const int n = g.n, reps = g.reps;
    const size_t nn = (size_t)n * (size_t)n;
    float *a = g.a, *b = g.b, *c = g.c;
    double *t = g.t;

    const char *cfg = openblas_get_config();
    double flop = 2.0 * (double)n * (double)n * (double)n;
    for (int k = 0; k < g.nthreads; ++k) {
        openblas_set_num_threads(g.threads[k]);
        /* warm-up: spins up the thread pool and touches all pages */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                    n);
        for (int r = 0; r < reps; ++r) {
            double t0 = now_s();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f,
                        c, n);
            t[r] = now_s() - t0;
        }
        qsort(t, (size_t)reps, sizeof *t, cmp_double);
        double best = flop / t[0] / 1e9;
        double med = flop / t[reps / 2] / 1e9;
        printf("{\"threads\":%d,\"n\":%d,\"reps\":%d,\"gflops\":%.2f,\"gflops_median\":%.2f,"
               "\"checksum\":%.6g,\"blas\":\"%s\",\"core\":\"%s\"}\n",
               g.threads[k], n, reps, best, med, (double)c[nn / 2 + 7], cfg ? cfg : "",
               openblas_get_corename());
        fflush(stdout);
    }
    gemm_bench_free(&g);
    return 0;
}
