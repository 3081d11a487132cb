/* fmapeak.c - the physical single-precision limit of this CPU: fused multiply-adds from
 * registers only (no memory traffic), on 512-bit (zmm) and 256-bit (ymm) vectors, at 1 and 2
 * threads. The benchmark's ratios are against this and against the best GEMM library
 * (bench/README.md).
 *
 * Build:  cc -O2 -fopenmp bench/fmapeak.c -o fmapeak   (x86-64, GCC or Clang)
 * Usage:  fmapeak [--reps R] [--threads T ...]
 * One JSON line per vector width and thread count:
 *   {"isa":"avx512"|"avx2","threads":T,"gflops":best,"gflops_median":median}
 * Each thread runs 12 independent FMA chains (enough to cover the latency of two FMA units);
 * the best of R timings of about 0.2 s each is reported. avx512 is skipped when the CPU lacks
 * avx512f, avx2 when it lacks avx2 or fma. */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAINS 12
#define ITERS 20000000L
#if defined(__clang__)
#define PP_UNROLL _Pragma("unroll")
#else
#define PP_UNROLL _Pragma("GCC unroll 16")
#endif

/* x = x·m + a on CHAINS independent vectors; returns a sum so nothing is optimised away */
__attribute__((target("avx512f"))) static float run512(long iters)
{
    __m512 x[CHAINS];
    const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) x[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iters; it++) /* unrolled, so the chains live in registers */
        PP_UNROLL for (int i = 0; i < CHAINS; i++) x[i] = _mm512_fmadd_ps(x[i], m, a);
    __m512 s = x[0];
    for (int i = 1; i < CHAINS; i++) s = _mm512_add_ps(s, x[i]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float run256(long iters)
{
    __m256 x[CHAINS];
    const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) x[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < iters; it++)
        PP_UNROLL for (int i = 0; i < CHAINS; i++) x[i] = _mm256_fmadd_ps(x[i], m, a);
    __m256 s = x[0];
    for (int i = 1; i < CHAINS; i++) s = _mm256_add_ps(s, x[i]);
    float v[8];
    _mm256_storeu_ps(v, s);
    return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int reps = 5, threads[8] = {1, 2}, nthreads = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            nthreads = 0;
            while (i + 1 < argc && argv[i + 1][0] != '-' && nthreads < 8)
                threads[nthreads++] = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--reps R] [--threads T ...]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > 100 || nthreads < 1) return 2;
    __builtin_cpu_init();
    static const struct {
        const char *isa;
        int lanes;
    } W[2] = {{"avx512", 16}, {"avx2", 8}};
    volatile float sink = 0;
    for (int w = 0; w < 2; w++) {
        if (w == 0 && !__builtin_cpu_supports("avx512f")) continue;
        if (w == 1 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) continue;
        for (int k = 0; k < nthreads; k++) {
            const int T = threads[k];
            double t[100];
            long iters = w == 0 ? ITERS / 2 : ITERS;
            for (int r = -1; r < reps; r++) { /* r = -1: warm-up (clock ramp, thread start) */
                double t0 = omp_get_wtime();
#pragma omp parallel num_threads(T)
                {
                    float s = w == 0 ? run512(iters) : run256(iters);
#pragma omp atomic
                    sink += s;
                }
                if (r >= 0) t[r] = omp_get_wtime() - t0;
            }
            qsort(t, (size_t)reps, sizeof *t, cmp_double);
            /* one FMA is 2 flops per lane */
            double flop = 2.0 * W[w].lanes * CHAINS * (double)iters * T;
            printf("{\"isa\":\"%s\",\"threads\":%d,\"reps\":%d,\"gflops\":%.2f,"
                   "\"gflops_median\":%.2f}\n",
                   W[w].isa, T, reps, flop / t[0] / 1e9, flop / t[reps / 2] / 1e9);
            fflush(stdout);
        }
    }
    return sink == 12345.0f; /* practically never: keeps the sums alive */
}
