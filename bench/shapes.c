/* shapes.c - the rate of one GEMM engine on the products paraprop makes for W1, W2 and W3
 * (bench/README.md, "Engines"), to choose the engine per shape by measurement.
 *
 * Built once per engine by bench/run.sh:  -DENGINE_OWN (paraprop's AVX-512 kernels),
 * -DENGINE_CBLAS (whatever CBLAS is linked: OpenBLAS, BLIS), -DENGINE_DNNL (oneDNN dnnl_sgemm),
 * -DENGINE_XSMM (libxsmm_sgemm).
 * Usage:  shapes [--reps R] [--threads T ...] [--ms MS]
 * One JSON line per shape and thread count: the best of R timings, each timing being as many
 * products as fill MS milliseconds. With T threads each thread multiplies its own block of rows
 * of C, as paraprop's fast mode splits a minibatch (forward, BP2) or the output units (BP4). */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(ENGINE_OWN)
#include "gemm_avx512.h"
#define ENGINE "own-avx512"
#elif defined(ENGINE_CBLAS)
#include <cblas.h>
#define ENGINE "cblas"
#elif defined(ENGINE_DNNL)
#include <dnnl.h>
#define ENGINE "onednn"
#elif defined(ENGINE_XSMM)
#include <libxsmm.h>
#define ENGINE "libxsmm"
#else
#error "define one ENGINE_*"
#endif

typedef struct {
    const char *wl, *op; /* op: nt = A Bᵀ (forward), nn = A B (BP2), tn = Aᵀ B (BP4) */
    int M, N, K;
} shape;

/* M×N×K of every product of one step (net.c): forward Z = A Wᵀ (batch × out × in), BP2
 * Δˡ⁻¹ = Δˡ Wˡ (batch × in × out), BP4 ∇W = Δᵀ A (out × in × batch) */
static const shape SHAPES[] = {
    {"W1", "nt", 10, 30, 784},    {"W1", "nt", 10, 10, 30},      {"W1", "nn", 10, 30, 10},
    {"W1", "tn", 30, 784, 10},    {"W1", "tn", 10, 30, 10},      {"W2", "nt", 128, 256, 784},
    {"W2", "nt", 128, 256, 256},  {"W2", "nt", 128, 10, 256},    {"W2", "nn", 128, 256, 10},
    {"W2", "nn", 128, 256, 256},  {"W2", "tn", 256, 784, 128},   {"W2", "tn", 256, 256, 128},
    {"W2", "tn", 10, 256, 128},   {"W3", "nt", 256, 2048, 784},  {"W3", "nt", 256, 2048, 2048},
    {"W3", "nt", 256, 10, 2048},  {"W3", "nn", 256, 2048, 10},   {"W3", "nn", 256, 2048, 2048},
    {"W3", "tn", 2048, 784, 256}, {"W3", "tn", 2048, 2048, 256}, {"W3", "tn", 10, 2048, 256},
};

/* C (m×N, row stride N) for rows of the product; a points at the thread's first row (nt, nn:
 * row i of A at a + i·K; tn: A stored K × Mfull, column i at a + i) */
static void product(const shape *s, int m, const float *a, int lda, const float *b, float *c)
{
    const int N = s->N, K = s->K;
    if (!strcmp(s->op, "nt")) { /* B is N×K */
#if defined(ENGINE_OWN)
        pp_mm_nt_avx512(m, N, K, a, K, b, K, c, N);
#elif defined(ENGINE_CBLAS)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, N, K, 1, a, K, b, K, 0, c, N);
#elif defined(ENGINE_DNNL)
        dnnl_sgemm('N', 'T', m, N, K, 1, a, K, b, K, 0, c, N);
#else /* row-major C = A Bᵀ is column-major Cᵀ = B Aᵀ */
        const float one = 1, zero = 0;
        libxsmm_sgemm("T", "N", &N, &m, &K, &one, b, &K, a, &K, &zero, c, &N);
#endif
    } else if (!strcmp(s->op, "nn")) { /* B is K×N */
#if defined(ENGINE_OWN)
        pp_mm_nn_avx512(m, N, K, a, K, 1, b, N, c, N);
#elif defined(ENGINE_CBLAS)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, N, K, 1, a, K, b, N, 0, c, N);
#elif defined(ENGINE_DNNL)
        dnnl_sgemm('N', 'N', m, N, K, 1, a, K, b, N, 0, c, N);
#else
        const float one = 1, zero = 0;
        libxsmm_sgemm("N", "N", &N, &m, &K, &one, b, &N, a, &K, &zero, c, &N);
#endif
    } else { /* tn: A(i,k) = a[k·lda + i], B is K×N */
#if defined(ENGINE_OWN)
        pp_mm_nn_avx512(m, N, K, a, 1, lda, b, N, c, N);
#elif defined(ENGINE_CBLAS)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, N, K, 1, a, lda, b, N, 0, c, N);
#elif defined(ENGINE_DNNL)
        dnnl_sgemm('T', 'N', m, N, K, 1, a, lda, b, N, 0, c, N);
#else
        const float one = 1, zero = 0;
        libxsmm_sgemm("N", "T", &N, &m, &K, &one, b, &N, a, &lda, &zero, c, &N);
#endif
    }
}

static float *filled(size_t n, unsigned seed)
{
    float *p = malloc(n * sizeof *p);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
    return p;
}

int main(int argc, char **argv)
{
    int reps = 5, threads[8] = {1, 2}, nthreads = 2;
    double ms = 30;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--ms") && i + 1 < argc) {
            ms = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            nthreads = 0;
            while (i + 1 < argc && argv[i + 1][0] != '-' && nthreads < 8)
                threads[nthreads++] = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--reps R] [--threads T ...] [--ms MS]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1 || nthreads < 1) return 2;
#if defined(ENGINE_CBLAS)
    extern void openblas_set_num_threads(int) __attribute__((weak));
    extern void bli_thread_set_num_threads(long) __attribute__((weak));
    if (openblas_set_num_threads) openblas_set_num_threads(1);
    if (bli_thread_set_num_threads) bli_thread_set_num_threads(1);
#endif
    const size_t big = (size_t)2048 * 2048;
    float *a = filled(big, 1), *b = filled(big, 2), *c = filled(big, 3);
    if (!a || !b || !c) return 1;
    for (size_t k = 0; k < sizeof SHAPES / sizeof *SHAPES; k++) {
        const shape *s = &SHAPES[k];
        for (int ti = 0; ti < nthreads; ti++) {
            const int T = threads[ti];
            double best = 1e30;
            long iters = 1;
            for (int r = -1; r < reps; r++) { /* r = -1: warm-up and calibration */
                double t0 = omp_get_wtime();
#pragma omp parallel num_threads(T)
                {
                    int id = omp_get_thread_num(), nt = omp_get_num_threads();
                    int r0 = s->M * id / nt, r1 = s->M * (id + 1) / nt;
                    const float *ar = strcmp(s->op, "tn") ? a + (size_t)r0 * s->K : a + r0;
                    for (long it = 0; it < iters; it++)
                        product(s, r1 - r0, ar, s->M, b, c + (size_t)r0 * s->N);
                }
                double t = (omp_get_wtime() - t0) / (double)iters;
                if (r < 0) {
                    iters = (long)(ms * 1e-3 / (t > 1e-9 ? t : 1e-9)) + 1;
                } else if (t < best) {
                    best = t;
                }
            }
            double gf = 2.0 * s->M * s->N * s->K / best / 1e9;
            printf("{\"engine\":\"%s\",\"workload\":\"%s\",\"op\":\"%s\",\"M\":%d,\"N\":%d,"
                   "\"K\":%d,\"threads\":%d,\"us\":%.2f,\"gflops\":%.2f}\n",
                   ENGINE, s->wl, s->op, s->M, s->N, s->K, T, best * 1e6, gf);
            fflush(stdout);
        }
    }
    free(a);
    free(b);
    free(c);
    return 0;
}
