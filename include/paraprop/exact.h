/* Exact mode: a minibatch gradient that is bitwise identical for every ranks × threads split.
 *
 * The global minibatch is cut into fixed blocks of PP_EXACT_BLOCK consecutive samples. A block is
 * always computed whole, by one thread, with one GEMM shape, so its partial gradient has the same
 * bits wherever it runs; its ∇W is computed in tiles of units whose size depends on the layer
 * alone, for the same reason. Partials are converted to 64-bit fixed point with a per-layer scale
 * that all ranks agree on (from the global maxima of |Δˡ| and |Aˡ⁻¹|), and integer sums do not
 * depend on order — across blocks, threads and the integer allreduce. docs/REPRODUCIBILITY.md gives
 * the precision. Usage per step: forward_backward → (allreduce MAX of maxes) → accumulate →
 * (allreduce SUM of acc) → finish. */
#ifndef PARAPROP_EXACT_H
#define PARAPROP_EXACT_H

#include <stddef.h>
#include <stdint.h>

#include "paraprop/batch.h"
#include "paraprop/data.h"
#include "paraprop/net.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PP_EXACT_BLOCK 64

typedef struct pp_exact {
    int threads;
    int L;
    size_t nparams;
    struct pp_exact_work *work;      /* private (exact.c): packed products, per-thread buffers */
    int64_t *acc;                    /* (nparams) fixed-point sums: the result */
    int nmax;                        /* number of maxima: 2·L */
    double maxes[2 * PP_MAX_LAYERS]; /* |Δˡ| at [l−1], |Aˡ⁻¹| at [L + l − 1] */
    int wshift[PP_MAX_LAYERS + 1];   /* ∇Wˡ = acc · 2^−wshift[l] */
    int bshift[PP_MAX_LAYERS + 1];   /* ∇bˡ = acc · 2^−bshift[l] */
} pp_exact;

pp_status pp_exact_init(pp_exact *ex, const pp_arch *a, int threads);
void pp_exact_free(pp_exact *ex);

/* How many of the layers' products (forward, backward, ∇W tiles) run planned, on operands packed
 * once per step (oneDNN builds, layers of ≥ 2^20 weights; 0 elsewhere). */
int pp_exact_planned(const pp_exact *ex);

/* This rank's block-aligned share [lo, hi) of a global minibatch of n samples. */
void pp_exact_shard(size_t n, int rank, int nranks, size_t *lo, size_t *hi);

/* Forward and backward of the m local samples ids[0…m) (m is a whole number of blocks, except
 * for the global minibatch's last block) and the local maxima into ex->maxes. Returns the cost
 * sum. */
double pp_exact_forward_backward(pp_exact *ex, const pp_arch *a, const pp_real *params,
                                 const pp_data *x, const uint32_t *ids, size_t m, pp_workspace *ws,
                                 pp_batch_times *times);

/* pp_exact_forward_backward of rows [row0, row1) of ws, the samples ids[row0…row1) (row0 a
 * multiple of PP_EXACT_BLOCK): a rank's blocks in a workspace that holds the whole global
 * batch (the node-shared rows of the split way, run/reduce.h). */
double pp_exact_forward_backward_rows(pp_exact *ex, const pp_arch *a, const pp_real *params,
                                      const pp_data *x, const uint32_t *ids, size_t row0,
                                      size_t row1, pp_workspace *ws, pp_batch_times *times);

/* With ex->maxes holding the GLOBAL maxima and n the global minibatch size: the local partial
 * gradients as fixed-point sums into ex->acc[0…P). When there is nothing to sum across ranks
 * (one rank), gsum may take the gradient SUM at once, tile by tile while the sums are in cache
 * (pp_exact_finish's bits; ex->acc is then not filled); else NULL. Fails (PP_ERR_DIVERGED) when a
 * maximum is not finite or the gradient bound exceeds the double range. */
pp_status pp_exact_accumulate(pp_exact *ex, const pp_arch *a, const pp_workspace *ws, size_t m,
                              size_t n, pp_real *gsum);

/* pp_exact_accumulate with gsum, of part `part` of `parts` of every layer's tiles of units only,
 * from all m rows of ws (the whole global batch): the split way, where the ranks of a node share
 * the batch's rows and each finishes its part of the gradient (the bits of one rank's
 * pp_exact_accumulate, whatever the parts). */
pp_status pp_exact_accumulate_part(pp_exact *ex, const pp_arch *a, const pp_workspace *ws, size_t m,
                                   size_t n, pp_real *gsum, int part, int parts);

/* With ex->acc[0…P) summed over all ranks: the gradient SUM in gsum (flat layout). */
void pp_exact_finish(const pp_exact *ex, const pp_arch *a, pp_real *gsum);

#ifdef __cplusplus
}
#endif
#endif
