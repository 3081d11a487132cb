/* One rank's share of a minibatch step: the gradient SUM over its samples, OpenMP-threaded. */
#ifndef PARAPROP_BATCH_H
#define PARAPROP_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "paraprop/data.h"
#include "paraprop/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds spent, as seen by thread 0. */
typedef struct pp_batch_times {
    double data, compute;
} pp_batch_times;

/* Fast mode: the gradient SUM of samples ids[0…m) into grad (flat layout, overwritten) and the
 * sum of their costs as the return value. Threads split the rows for forward/backward and the
 * output neurons for ∇W, so each thread writes its own outputs. m may be 0 (grad becomes 0). */
double pp_batch_grad(const pp_arch *a, const pp_real *params, const pp_data *x, const uint32_t *ids,
                     size_t m, pp_workspace *ws, int threads, pp_real *grad, pp_batch_times *times);

/* The two halves of pp_batch_grad, for ranks that share one workspace (the factors of
 * the gradient, run/reduce.h): gather, forward and backward of rows [r0, r1) of ws, row r
 * holding sample ids[r] (the cost sum is returned); then ∇W and ∇b summed over rows [0, m) of ws
 * into grad, for part `part` of `parts` of every layer's units (their rows of ∇Wˡ and entries of
 * ∇bˡ; parts = 1: all). Every rank that runs the second on the same rows with the same threads
 * gets the same bits. */
double pp_batch_rows(const pp_arch *a, const pp_real *params, const pp_data *x, const uint32_t *ids,
                     size_t r0, size_t r1, pp_workspace *ws, int threads, pp_batch_times *times);
void pp_batch_wgrad(const pp_arch *a, const pp_workspace *ws, size_t m, int part, int parts,
                    int threads, pp_real *grad, pp_batch_times *times);

/* What pp_batch_grad_overlap hands over, on the master thread (OpenMP thread 0): ready(arg,
 * l) once ∇Wˡ and ∇bˡ (grad[w_off[l], b_off[l] + n[l])) are final, for l = L…1 in turn, and
 * poll(arg) between pieces of the work after it, so that a nonblocking sum of them can move. */
typedef struct pp_grad_hook {
    void (*ready)(void *arg, int l);
    void (*poll)(void *arg);
    void *arg;
} pp_grad_hook;

/* pp_batch_grad with the backward pass taken layer by layer from the top (Δˡ, ∇Wˡ, then
 * Δˡ⁻¹ from Δˡ), each layer's gradient handed to h as soon as it is final: the caller starts
 * its allreduce while the layers below are computed (PyTorch DDP's buckets, one per layer).
 * The same products in pieces: fast mode's bits, not always pp_batch_grad's. */
double pp_batch_grad_overlap(const pp_arch *a, const pp_real *params, const pp_data *x,
                             const uint32_t *ids, size_t m, pp_workspace *ws, int threads,
                             pp_real *grad, pp_batch_times *times, const pp_grad_hook *h);

#ifdef __cplusplus
}
#endif
#endif
