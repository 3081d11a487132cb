/* The forward and backward passes on planned products (gemm.h's pp_mm_plan): exact mode's
 * 64-sample blocks, private to the core. */
#ifndef PARAPROP_NET_INTERNAL_H
#define PARAPROP_NET_INTERNAL_H

#include "gemm.h"
#include "paraprop/net.h"

/* Plans for blocks of `rows` rows; a NULL plan leaves that product on pp_mm_nt / pp_mm_nn.
 *   fwd[l]: (Zˡ)ᵀ (nₗ × rows) = Wˡ (nₗ × nₗ₋₁) · (Aˡ⁻¹)ᵀ, the block's activations packed per
 *           block and W read in place (no per-step copy of W; oneDNN's fast kernels want the
 *           long side in M);
 *   bwd[l]: Δˡ⁻¹ (rows × nₗ₋₁) = Δˡ · Wˡ over bwd_packed[l], Wˡ packed once per step. */
typedef struct pp_net_plans {
    size_t rows;
    pp_mm_plan *fwd[PP_MAX_LAYERS + 1];
    pp_mm_plan *bwd[PP_MAX_LAYERS + 1];
    void *bwd_packed[PP_MAX_LAYERS + 1];
} pp_net_plans;

/* A thread's buffers for the planned passes: scratch (every plan's scratchpad), abuf (a packed
 * (Aˡ⁻¹)ᵀ of any fwd plan), zt (rows × max nₗ floats). */
typedef struct pp_net_plan_buf {
    void *scratch;
    void *abuf;
    pp_real *zt;
} pp_net_plan_buf;

/* pp_net_forward / pp_net_backward on the plans where set and the block has pl->rows rows.
 * A planned product that fails sets *bad (the block's outputs are then undefined). */
void pp_net_forward_planned(const pp_arch *a, const pp_real *params, pp_workspace *ws, size_t r0,
                            size_t r1, const pp_net_plans *pl, const pp_net_plan_buf *buf,
                            int *bad);
double pp_net_backward_planned(const pp_arch *a, const pp_real *params, pp_workspace *ws, size_t r0,
                               size_t r1, const pp_net_plans *pl, const pp_net_plan_buf *buf,
                               int *bad);

#endif
