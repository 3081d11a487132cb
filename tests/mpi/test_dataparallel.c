/* Data-parallel equivalence: the minibatch gradient SUM of a batch split over the ranks (uneven
 * shards for batch 10 on 3 and 4 ranks) and T threads, allreduced, equals the one-process
 * gradient within 1e-5 relative; exact mode gives the same bits as one process. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paraprop/batch.h"
#include "paraprop/comm.h"
#include "paraprop/exact.h"
#include "paraprop/rng.h"

int main(int argc, char **argv)
{
    pp_comm *c;
    pp_status st = pp_comm_init(&argc, &argv, &c);
    if (st.code) {
        fprintf(stderr, "%s\n", st.msg);
        return 1;
    }
    const int rank = pp_comm_rank(c), R = pp_comm_size(c);
    const size_t sizes[4] = {12, 20, 15, 4};
    const size_t batches[3] = {10, 7, 130};
    int bad = 0;
    for (int pair = 0; pair < 2; pair++) {
        pp_arch a;
        pp_arch_init(&a, 3, sizes, pair ? PP_ACT_RELU : PP_ACT_SIGMOID,
                     pair ? PP_ACT_SIGMOID : PP_ACT_SOFTMAX,
                     pair ? PP_COST_CROSS_ENTROPY : PP_COST_LOG_LIKELIHOOD);
        const size_t P = a.nparams, N = 300;
        pp_real *p = malloc(P * sizeof *p), *g = malloc(P * sizeof *g),
                *g1 = malloc(P * sizeof *g1);
        pp_net_init_params(&a, PP_INIT_NORMALIZED, 3, p);
        pp_data x;
        pp_data_alloc(&x, N, sizes[0], sizes[3], 0, 1);
        for (size_t i = 0; i < N * sizes[0]; i++) x.f32[i] = (float)pp_rng_uniform(5, 3, 0, i);
        for (size_t i = 0; i < N; i++) x.labels[i] = (int32_t)(pp_rng_u64(5, 3, 1, i) % sizes[3]);
        uint32_t *ids = malloc(N * sizeof *ids);
        pp_rng_permutation(9, 0, N, ids);
        for (int bi = 0; bi < 3; bi++) {
            const size_t n = batches[bi];
            pp_workspace w1, w;
            pp_workspace_init(&w1, &a, n);
            pp_batch_grad(&a, p, &x, ids, n, &w1, 1, g1, NULL); /* the one-process reference */
            for (int T = 1; T <= 2; T++) {
                size_t lo = n * (size_t)rank / (size_t)R, hi = n * (size_t)(rank + 1) / (size_t)R;
                pp_workspace_init(&w, &a, hi - lo ? hi - lo : 1);
                pp_batch_grad(&a, p, &x, ids + lo, hi - lo, &w, T, g, NULL);
                pp_comm_sum_real(c, g, P);
                double d = 0, s = 0;
                for (size_t i = 0; i < P; i++) {
                    d += ((double)g[i] - g1[i]) * ((double)g[i] - g1[i]);
                    s += (double)g1[i] * g1[i];
                }
                double rel = sqrt(d / s);
                if (!(rel < 1e-5)) {
                    bad++;
                    printf("rank %d: fast R=%d T=%d batch %zu pair %d: relative difference %g\n",
                           rank, R, T, n, pair, rel);
                }
                pp_workspace_free(&w);
                /* exact: same bits as the one-process exact gradient */
                pp_exact ex, ex1;
                pp_exact_shard(n, rank, R, &lo, &hi);
                pp_workspace_init(&w, &a, hi - lo ? hi - lo : 1);
                pp_exact_init(&ex, &a, T);
                pp_exact_forward_backward(&ex, &a, p, &x, ids + lo, hi - lo, &w, NULL);
                pp_comm_max_double(c, ex.maxes, (size_t)ex.nmax);
                pp_exact_accumulate(&ex, &a, &w, hi - lo, n, NULL);
                pp_comm_sum_i64(c, ex.acc, P);
                pp_exact_finish(&ex, &a, g);
                pp_exact_init(&ex1, &a, 1);
                pp_exact_forward_backward(&ex1, &a, p, &x, ids, n, &w1, NULL);
                pp_exact_accumulate(&ex1, &a, &w1, n, n, NULL);
                pp_exact_finish(&ex1, &a, g1);
                if (memcmp(g, g1, P * sizeof *g) != 0) {
                    bad++;
                    printf("rank %d: exact R=%d T=%d batch %zu pair %d: bits differ\n", rank, R, T,
                           n, pair);
                }
                pp_batch_grad(&a, p, &x, ids, n, &w1, 1, g1, NULL);
                pp_exact_free(&ex);
                pp_exact_free(&ex1);
                pp_workspace_free(&w);
            }
            pp_workspace_free(&w1);
        }
        pp_data_free(&x);
        free(ids);
        free(p);
        free(g);
        free(g1);
    }
    int total = bad;
    double t = total;
    pp_comm_sum_double(c, &t, 1);
    if (rank == 0) printf("%s: %d ranks, %g failure(s)\n", t == 0 ? "PASS" : "FAIL", R, t);
    pp_comm_finalize(c);
    return t == 0 ? 0 : 1;
}
