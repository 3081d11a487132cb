/* Private: gradient sums through node-shared memory (issue 10 item 4).
 *
 * MPI_Allreduce of a 318 KB gradient between two ranks of one node cost 62 µs of the main job's
 * 131 µs step: copies into and out of MPI's buffers and its progress engine, for data that both
 * processes can simply address. Here each rank's gradient is computed straight into its slot of
 * a node-shared block; after a node barrier rank j sums slice j of every slot (in local-rank
 * order, so the bits do not depend on timing) into the shared sum, the ranks with local rank j on
 * every node add their node's slice j with one inter-node allreduce, and after a second barrier
 * every rank reads the whole sum. On one node every rank then reads the same bits, so verdicts
 * on the sum (finite or not) need no agreement. */
#ifndef PARAPROP_REDUCE_H
#define PARAPROP_REDUCE_H

#include <stddef.h>
#include <stdint.h>

#include "paraprop/comm.h"
#include "paraprop/net.h"

#define NODE_SMALL 4 /* doubles per rank beside the gradient: cost, stop flag, … */

typedef struct node_reduce {
    pp_comm *comm;
    pp_shared *win;
    int lr, lsize; /* local rank, ranks on the node */
    int nodes;
    size_t n, stride, esz; /* elements, elements per slot (64-byte multiple), element size */
    char *slots;           /* lsize × stride elements */
    char *sum;             /* stride elements */
    double *small;         /* lsize × NODE_SMALL */
    size_t lo, hi;         /* this rank's slice of the sum */
} node_reduce;

/* How a step's gradients meet (PARAPROP_REDUCE=auto|mpi|node|factors|split; unset is auto). */
typedef enum { REDUCE_MPI, REDUCE_NODE, REDUCE_FACTORS, REDUCE_SPLIT } reduce_kind;

/* The way for a step with batches of B samples (the same answer on every rank). threads_equal:
 * every rank runs the same thread count; exact: exact mode (split or the slots, never factors).
 * auto on one node: in fast mode factors for B ≤ 16, else split; in exact mode split (each rank
 * finishes its part of the tiles of units from all rows: pp_exact_accumulate_part). Else node
 * slots whenever every node has the same number (> 1) of ranks; else MPI. PP_ERR_USAGE for an
 * unknown PARAPROP_REDUCE or a forced way this run cannot take. */
pp_status reduce_choose(pp_comm *c, size_t B, int threads_equal, int exact, reduce_kind *out);
const char *reduce_name(reduce_kind k);
/* Whether the MPI way overlaps each layer's allreduce with the backward pass below it
 * (batch.h's pp_batch_grad_overlap): PARAPROP_OVERLAP=auto|on|off. auto overlaps fast mode's
 * gradients of at least 64 Ki parameters when the ranks are on different nodes (real_nodes > 1:
 * pp_comm_real_nodes). Within one node the "transfer" is the cores' own copying and adding,
 * which overlap cannot hide: it only moves it into the backward pass, and at W3 2×1 on one host
 * the step got 5 % slower while the exposed allreduce halved (docs/PERFORMANCE.md). Exact mode's
 * sums wait for its global maxima, so it never overlaps. The same answer on every rank. */
pp_status reduce_overlap(reduce_kind k, int R, int real_nodes, int exact, size_t nparams, int *out);

/* Collective: a block for n elements of esz bytes (sizeof(pp_real) or 8 for int64) per rank. */
pp_status node_reduce_init(node_reduce *r, pp_comm *c, size_t n, size_t esz);
void node_reduce_free(node_reduce *r);

/* This rank's slot (n elements) and its NODE_SMALL doubles: write them, then call the sum. */
void *node_reduce_slot(const node_reduce *r);
double *node_reduce_small(const node_reduce *r);

/* The global sums: of the slots into *sum (n elements, valid until the next call; every rank of
 * a node reads the same block) and of the small values into small_out[NODE_SMALL]. integer: the
 * elements are int64 (exact mode), else pp_real. A failure is this rank's alone (unagreed). */
pp_status node_reduce_sum(node_reduce *r, int integer, const void **sum, double *small_out);

/* The factors of the gradient through node-shared memory, for small minibatches.
 *
 * ∇Wˡ = (Δˡ)ᵀAˡ⁻¹ summed over the batch is a product of factors with B rows. When B·Σnₗ is
 * small against the P parameters (the main job: 10 × 894 against 79,510), the ranks of a node
 * share one workspace for the whole global batch instead: rank r gathers, forwards and
 * backpropagates its rows into it, and after one node barrier every rank computes the whole
 * ∇W from all rows itself. That repeats the ∇W products on every rank but moves B·Σnₗ values
 * between cores instead of 2P, and needs one barrier and no sum. Two workspaces alternate by
 * step, so a rank may fill the next step's rows while another still reads this step's. Every
 * rank computes the same products on the same rows with the same thread count, so every rank
 * gets the same gradient bits (checked at set-up: the same threads on every rank). */
typedef struct node_factors {
    pp_comm *comm;
    pp_shared *win;
    int lr, lsize;
    int parity;
    pp_workspace ws[2]; /* B rows each, in the shared block */
    double *small;      /* [2][lsize][NODE_SMALL] */
    pp_real *sum;       /* split: the gradient, each rank writing its units' part */
    pp_real *params;    /* the parameters, one copy for the node (node_factors_init) */
    pp_real *state[2];  /* the optimizer's per-parameter state (nstate arrays) */
    int nstate;
} node_factors;

/* Both ways also keep one copy of the parameters and the optimizer state for the node in the
 * block: each rank's optimizer updates part j of every layer's units only (pp_optim_step_part),
 * and a barrier later every rank reads the new weights. The optimizer's pass over P values
 * (20 bytes of traffic each with momentum) is divided instead of repeated on every rank: it was
 * what kept W3 at 2 ranks × 1 thread below 1 rank × 2 threads, whose two threads split it. */

/* split: the same shared rows, but rank j computes ∇W and ∇b only for part j of every layer's
 * units, from all rows, straight into a shared gradient; a second barrier, and every rank reads
 * it whole. The ∇W products are divided, not repeated, and nothing is summed: what moves is the
 * factors and the finished gradient (W3: 2.5 + 11.5 MB per rank against the slots' 34 MB). */

/* Collective over the world (one node only): the block for batches of up to B rows, and with
 * split a shared gradient of P values. */
pp_status node_factors_init(node_factors *f, pp_comm *c, const pp_arch *a, size_t B, int split,
                            int share_params, int nstate);
/* Whether factors and split share the parameters (PARAPROP_SHARED_PARAMS=auto|on|off): auto
 * shares from 1 Mi parameters. Below that each rank's own copy stays in its core's cache, and
 * reading the other ranks' freshly updated parts cost more than halving the optimizer saved
 * (main job 0.76–0.91× of one rank shared, 0.93–0.97× private; W3 2×1 ÷ 1×2 0.97–1.02 shared,
 * 0.88–0.93 private: docs/PERFORMANCE.md). */
pp_status reduce_shared_params(size_t nparams, int *out);
/* After this rank's part of the parameters is updated (or after one rank wrote them all): the
 * barrier after which every rank reads them. */
pp_status node_factors_params_done(node_factors *f);
/* split: the second barrier, after this rank's part of the gradient is in f->sum. */
pp_status node_factors_done(node_factors *f);
void node_factors_free(node_factors *f);
/* This step's shared workspace and this rank's small values (flips the parity). */
pp_workspace *node_factors_next(node_factors *f, double **small);
/* After this rank's rows are in: the barrier, then the small values summed over the node's
 * ranks (in local-rank order) into small_out. A failure is this rank's alone. */
pp_status node_factors_exchange(node_factors *f, double *small_out);

#endif
