/* What bench/sgemm.c and bench/ppgemm.c share: the command line, the inputs, the statistics.
 * Each program is still built alone (sgemm.c against OpenBLAS only). */
#ifndef PARAPROP_GEMM_BENCH_H
#define PARAPROP_GEMM_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gemm_bench {
    int n, reps, threads[16], nthreads;
    float *a, *b, *c; /* n × n each */
    double *t;        /* reps timings */
} gemm_bench;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Parses [--n N] [--reps R] [--threads T ...] (default threads 1 2) and allocates and fills A
 * and B with the same pseudo-random values in both programs. Returns 0, or the exit status. */
static int gemm_bench_init(gemm_bench *g, int argc, char **argv, int default_reps)
{
    memset(g, 0, sizeof *g);
    g->n = 2048;
    g->reps = default_reps;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) {
            g->n = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            g->reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            while (i + 1 < argc && argv[i + 1][0] != '-' && g->nthreads < 16)
                g->threads[g->nthreads++] = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--n N] [--reps R] [--threads T ...]\n", argv[0]);
            return 2;
        }
    }
    if (g->nthreads == 0) {
        g->threads[0] = 1;
        g->threads[1] = 2;
        g->nthreads = 2;
    }
    if (g->n <= 0 || g->reps <= 0) {
        fprintf(stderr, "%s: bad --n/--reps\n", argv[0]);
        return 2;
    }
    size_t nn = (size_t)g->n * (size_t)g->n;
    g->a = malloc(nn * sizeof *g->a);
    g->b = malloc(nn * sizeof *g->b);
    g->c = calloc(nn, sizeof *g->c);
    g->t = malloc((size_t)g->reps * sizeof *g->t);
    if (!g->a || !g->b || !g->c || !g->t) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        return 1;
    }
    unsigned s = 12345u;
    for (size_t i = 0; i < nn; ++i) {
        s = s * 1664525u + 1013904223u;
        g->a[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
        s = s * 1664525u + 1013904223u;
        g->b[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
    return 0;
}

static void gemm_bench_free(gemm_bench *g)
{
    free(g->a);
    free(g->b);
    free(g->c);
    free(g->t);
}

#endif
