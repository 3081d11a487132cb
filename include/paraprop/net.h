/* The multilayer perceptron: architecture, flat parameters, forward and backward (BP1–BP4 in
 * matrix form, shared/MATH.md). Shape legend: m = samples in a block, n[l] = neurons of layer l.
 * Matrices are row-major; a minibatch stores one sample per row. */
#ifndef PARAPROP_NET_H
#define PARAPROP_NET_H

#include <stddef.h>
#include <stdint.h>

#include "paraprop/precision.h"
#include "paraprop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PP_MAX_LAYERS 32 /* weight layers */

typedef enum pp_activation {
    PP_ACT_SIGMOID,
    PP_ACT_TANH,
    PP_ACT_RELU,
    PP_ACT_IDENTITY,
    PP_ACT_SOFTMAX /* output only */
} pp_activation;

typedef enum pp_cost { PP_COST_QUADRATIC, PP_COST_CROSS_ENTROPY, PP_COST_LOG_LIKELIHOOD } pp_cost;

/* normalized: N(0, 1/n_in) weights, N(0, 1) biases (Nielsen ch. 3); large: N(0, 1) both;
 * he: N(0, 2/n_in) weights and zero biases (He et al. 2015, for ReLU layers). */
typedef enum pp_init { PP_INIT_NORMALIZED, PP_INIT_LARGE, PP_INIT_HE } pp_init;

/* Architecture and the layout of the flat parameter buffer: W¹, b¹, W², b², … */
typedef struct pp_arch {
    int L;                        /* number of weight layers */
    size_t n[PP_MAX_LAYERS + 1];  /* n[0] inputs … n[L] outputs */
    pp_activation hidden, output; /* activation of layers 1…L−1 and of layer L */
    pp_cost cost;
    size_t w_off[PP_MAX_LAYERS + 1]; /* offset of Wˡ (nₗ × nₗ₋₁) in the flat buffer, l = 1…L */
    size_t b_off[PP_MAX_LAYERS + 1]; /* offset of bˡ (nₗ) */
    size_t nparams;
} pp_arch;

/* Fills the layout; checks sizes, the activation × cost pair, and overflow. */
pp_status pp_arch_init(pp_arch *a, int L, const size_t *sizes, pp_activation hidden,
                       pp_activation output, pp_cost cost);

/* Whether (output, cost) has a closed-form δᴸ that paraprop trains; on refusal writes a message
 * listing the accepted pairs into msg. */
int pp_arch_pair_ok(pp_activation output, pp_cost cost, char *msg, size_t msgsz);

const char *pp_activation_name(pp_activation a);
const char *pp_cost_name(pp_cost c);
const char *pp_init_name(pp_init i);
/* Parse names; return -1 when unknown. */
int pp_activation_parse(const char *s);
int pp_cost_parse(const char *s);
int pp_init_parse(const char *s);

/* Weight initialisation from the counter-based RNG keyed by the seed and the parameter index. */
void pp_net_init_params(const pp_arch *a, pp_init kind, uint64_t seed, pp_real *params);

/* Inverted dropout of hidden units during training: unit j of hidden layer l is kept with
 * probability 1 − p[l] and then scaled by 1/(1 − p[l]), so evaluation, which drops nothing, needs
 * no rescaling. The mask depends only on (seed, step, sample index, layer, unit)
 * (pp_rng_dropout4), never on ranks, threads or blocks. */
typedef struct pp_dropout {
    double p[PP_MAX_LAYERS + 1]; /* drop probability of layer l's units, l = 1…L−1 (0: none) */
    uint64_t seed;
    uint64_t step; /* the global step whose masks are drawn */
} pp_dropout;

/* Scratch for up to `rows` samples, shared by a rank's threads (each works on its own rows). */
typedef struct pp_workspace {
    size_t rows;
    pp_real *act[PP_MAX_LAYERS + 1];   /* Aˡ (rows × nₗ); act[0] is the input block; with
                                          dropout, hidden Aˡ holds σ(Zˡ) ⊙ mask / (1 − p) */
    pp_real *delta[PP_MAX_LAYERS + 1]; /* Δˡ (rows × nₗ), l = 1…L */
    pp_real *zout;                     /* Zᴸ (rows × n_L), for the stable cost forms */
    pp_real *y;                        /* targets (rows × n_L) */
    const pp_dropout *drop;            /* NULL: no dropout (evaluation, prediction) */
    uint32_t *ids;                     /* (rows) training-set index of each row, with drop */
    const uint32_t *keys; /* NULL: the gathered ids are training-set indices; else row r's is
                             keys[r] (stream mode gathers from a buffer of its own rows) */
    pp_real *dmul[PP_MAX_LAYERS + 1]; /* (rows × nₗ) mask / (1 − p) ⊙ σ'(Zˡ), dropped layers */
} pp_workspace;

pp_status pp_workspace_init(pp_workspace *ws, const pp_arch *a, size_t rows);
void pp_workspace_free(pp_workspace *ws);
/* A workspace laid out in caller memory (64-byte aligned, pp_workspace_bytes long), e.g. a
 * node-shared block whose rows several ranks fill; never passed to pp_workspace_free. */
size_t pp_workspace_bytes(const pp_arch *a, size_t rows);
void pp_workspace_place(pp_workspace *ws, const pp_arch *a, size_t rows, void *mem);

/* Makes ws drop units as d says (d must outlive ws; nothing happens when every p is 0):
 * allocates ids and the dmul of the dropped layers. pp_data_gather fills ids; a caller that
 * fills act[0] itself fills ids too. PP_ERR_NOMEM. */
pp_status pp_workspace_dropout(pp_workspace *ws, const pp_arch *a, const pp_dropout *d);
/* Frees what pp_workspace_dropout allocated (pp_workspace_free does it too); for a placed
 * workspace, whose other buffers the caller owns. */
void pp_workspace_dropout_free(pp_workspace *ws);

/* The engines that run the matrix products now, e.g. "auto: oneDNN 2.6.3 avx512_core for
 * M,N,K >= 32 or MNK >= 2^22, own AVX-512 below (BLAS OpenBLAS 0.3.21 SKYLAKEX)", "exact: own
 * AVX-512" while an exact-mode context lives, "forced: OpenBLAS 0.3.21 SKYLAKEX" with
 * PARAPROP_KERNELS=blas. The first word is auto, exact or forced. */
const char *pp_net_kernels(void);

/* The OPENBLAS_CORETYPE a program should run with, when the loaded OpenBLAS picked slower
 * kernels than the CPU's features allow (OpenBLAS 0.3.21 chooses by CPU model and falls back
 * to SSE3 kernels on models it does not know), else NULL. NULL as well when the BLAS is not
 * OpenBLAS, when OPENBLAS_CORETYPE is set (the user's choice) or PARAPROP_BLAS_CORE=asis;
 * PARAPROP_BLAS_CORE=NAME asks for core NAME instead of the one the features call for.
 * *detected (may be NULL) gets the core OpenBLAS runs. OpenBLAS reads OPENBLAS_CORETYPE only
 * when it is loaded, so a program must restart itself with it (src/app/main.c does). */
const char *pp_net_blas_core_wanted(const char **detected);

/* Forward pass of rows [r0, r1) of act[0]: fills act[1…L] and zout (and, with ws->drop,
 * applies the masks of ws->drop->step to the hidden layers and fills dmul). */
void pp_net_forward(const pp_arch *a, const pp_real *params, pp_workspace *ws, size_t r0,
                    size_t r1);

/* pp_net_forward with each row's outputs a function of that row alone (gemm.h's
 * pp_mm_nt_rows): the inference API's forward pass. pp_net_rows_engine names its engine,
 * "own AVX-512" or "portable". */
void pp_net_forward_rows(const pp_arch *a, const pp_real *params, pp_workspace *ws, size_t r0,
                         size_t r1);
const char *pp_net_rows_engine(void);

/* BP1 and BP2 for rows [r0, r1): fills delta[L…1] from act, zout and y (dropped layers:
 * Δˡ = (Δˡ⁺¹ Wˡ⁺¹) ⊙ σ'(Zˡ) ⊙ mask / (1 − p), from dmul). Returns the sum of the
 * rows' costs Cₓ (without the L2 term), in double. */
double pp_net_backward(const pp_arch *a, const pp_real *params, pp_workspace *ws, size_t r0,
                       size_t r1);

/* pp_net_backward in its steps, for a caller that interleaves them with ∇W (batch.c's
 * overlapped step): BP1 for rows [r0, r1) (their cost sum returned), then BP2 from layer l's
 * Δˡ to Δˡ⁻¹ (l ≥ 2), for l = L…2 in turn. */
double pp_net_backward_output(const pp_arch *a, pp_workspace *ws, size_t r0, size_t r1);
void pp_net_backward_layer(const pp_arch *a, const pp_real *params, pp_workspace *ws, int l,
                           size_t r0, size_t r1);
/* pp_net_backward_layer for columns [c0, c1) of Δˡ⁻¹ only. */
void pp_net_backward_cols(const pp_arch *a, const pp_real *params, pp_workspace *ws, int l,
                          size_t r0, size_t r1, size_t c0, size_t c1);

/* BP3–BP4: the gradient SUM over rows [r0, r1) for the block [j0, j1) × [k0, k1) of Wˡ
 * (and bˡ[j0, j1) when k0 == 0). Overwrites that part of grad (flat layout). */
void pp_net_grad_block(const pp_arch *a, const pp_workspace *ws, int l, size_t r0, size_t r1,
                       size_t j0, size_t j1, size_t k0, size_t k1, pp_real *grad);

/* Cost Cₓ of one row from output z and activation a, target y (double). */
double pp_cost_row(const pp_arch *a, const pp_real *z, const pp_real *act, const pp_real *y);

/* Single-threaded convenience: the gradient SUM and the cost sum of the first m rows of act[0]
 * with targets y. */
double pp_net_grad_sum(const pp_arch *a, const pp_real *params, pp_workspace *ws, size_t m,
                       pp_real *grad);

/* ½‖w‖² over weights only (not biases), for the L2 term. */
double pp_net_weight_sqnorm(const pp_arch *a, const pp_real *params);

#ifdef __cplusplus
}
#endif
#endif
