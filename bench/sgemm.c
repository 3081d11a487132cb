/* sgemm.c - OpenBLAS single-precision GEMM ceiling for the paraprop benchmarks.
 *
 * Build:  cc -O2 bench/sgemm.c -o sgemm -lopenblas
 * Usage:  sgemm [--n N] [--reps R] [--threads T ...]
 *
 * For each thread count T, times cblas_sgemm(C = A*B) on square N x N float
 * matrices (default N=2048), R timed repetitions after one untimed warm-up,
 * and prints one JSON line per T:
 *   {"threads":T,"n":N,"reps":R,"gflops":best,"gflops_median":median,"blas":"..."}
 * "gflops" is the best repetition (the practical ceiling); the median is
 * reported as well because the benchmark machine is shared and noisy.
 */
#define _POSIX_C_SOURCE 199309L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Declared in OpenBLAS's cblas.h; repeated here in case another cblas.h wins. */
extern void openblas_set_num_threads(int num_threads);
extern char *openblas_get_config(void);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int n = 2048, reps = 7;
    int threads[16];
    int nthreads = 0;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) {
            n = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            while (i + 1 < argc && argv[i + 1][0] != '-' && nthreads < 16)
                threads[nthreads++] = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--n N] [--reps R] [--threads T ...]\n", argv[0]);
            return 2;
        }
    }
    if (nthreads == 0) {
        threads[0] = 1;
        threads[1] = 2;
        nthreads = 2;
    }
    if (n <= 0 || reps <= 0) {
        fprintf(stderr, "sgemm: bad --n/--reps\n");
        return 2;
    }

    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(nn * sizeof *a);
    float *b = malloc(nn * sizeof *b);
    float *c = malloc(nn * sizeof *c);
    double *t = malloc((size_t)reps * sizeof *t);
    if (!a || !b || !c || !t) {
        fprintf(stderr, "sgemm: out of memory\n");
        return 1;
    }
    unsigned s = 12345u;
    for (size_t i = 0; i < nn; ++i) {
        s = s * 1664525u + 1013904223u;
        a[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
        s = s * 1664525u + 1013904223u;
        b[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
        c[i] = 0.0f;
    }

    const char *cfg = openblas_get_config();
    double flop = 2.0 * (double)n * (double)n * (double)n;
    for (int k = 0; k < nthreads; ++k) {
        openblas_set_num_threads(threads[k]);
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
               "\"checksum\":%.6g,\"blas\":\"%s\"}\n",
               threads[k], n, reps, best, med, (double)c[nn / 2 + 7], cfg ? cfg : "");
        fflush(stdout);
    }
    free(a);
    free(b);
    free(c);
    free(t);
    return 0;
}
