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

/* out (cols × rows) = in (rows × cols)ᵀ, in strips of 16 along the side whose rows lie further
 * apart, which is read or written along its rows: rows a power of two apart (W3: 8 KB) touched a
 * column at a time fight over one L1 set. */
static inline void pp_transpose(const pp_real *in, size_t rows, size_t cols, pp_real *out)
{
    if (cols >= rows) {
        for (size_t c0 = 0; c0 < cols; c0 += 16) {
            const size_t c1 = c0 + 16 < cols ? c0 + 16 : cols;
            for (size_t r = 0; r < rows; r++)
                for (size_t c = c0; c < c1; c++) out[c * rows + r] = in[r * cols + c];
        }
    } else {
        for (size_t r0 = 0; r0 < rows; r0 += 16) {
            const size_t r1 = r0 + 16 < rows ? r0 + 16 : rows;
            for (size_t c = 0; c < cols; c++)
                for (size_t r = r0; r < r1; r++) out[c * rows + r] = in[r * cols + c];
        }
    }
}

/* pp_net_forward / pp_net_backward on the plans where set and the block has pl->rows rows.
 * A planned product that fails sets *bad (the block's outputs are then undefined). */
void pp_net_forward_planned(const pp_arch *a, const pp_real *params, pp_workspace *ws, size_t r0,
                            size_t r1, const pp_net_plans *pl, const pp_net_plan_buf *buf,
                            int *bad);
double pp_net_backward_planned(const pp_arch *a, const pp_real *params, pp_workspace *ws, size_t r0,
                               size_t r1, const pp_net_plans *pl, const pp_net_plan_buf *buf,
                               int *bad);

#endif
