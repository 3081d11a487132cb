/* The optimizer step over the flat parameter buffer: SGD (with momentum), Nesterov, Adam and
 * AdamW, with L2 and L1 on the weights (shared/MATH.md; the formulas below are the contract that
 * tools/reference_sgd.py replays). */
#ifndef PARAPROP_OPTIM_H
#define PARAPROP_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "paraprop/net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pp_optimizer {
    PP_OPT_SGD,      /* plain, or with momentum when μ > 0 */
    PP_OPT_NESTEROV, /* Nesterov momentum, μ > 0 */
    PP_OPT_ADAM,     /* Adam with bias correction, L2 in the gradient */
    PP_OPT_ADAMW     /* Adam with decoupled weight decay */
} pp_optimizer;

/* Field order kept from the SGD-only struct, so positional initialisers {η, λ, μ, N} still
 * mean plain SGD or momentum. */
typedef struct pp_optim {
    double eta;    /* learning rate η: read at every step, so a schedule may change it between */
    double lambda; /* L2 strength λ */
    double mu;     /* momentum μ (sgd: 0 is plain SGD; nesterov: > 0) */
    size_t ntrain; /* N, the training-set size in λ/N and λ₁/N */
    pp_optimizer kind;
    double l1;           /* L1 strength λ₁ */
    double beta1, beta2; /* Adam's moment decays, in [0, 1) */
    double eps;          /* Adam's ε, > 0 */
    double clip;         /* --clip-norm: the largest 2-norm of ∇C₀ a step applies (0: none) */
    double nscale;       /* the step divides the gradient sum by n · nscale (0 reads as 1):
                            pp_optim_clip sets it, so clipping costs no pass of its own */
} pp_optim;

/* What the optimizer carries from step to step (all zero at the start of a run). */
typedef struct pp_optim_state {
    pp_real *vel; /* (nparams) velocity: sgd with μ > 0 and nesterov, else NULL */
    pp_real *m;   /* (nparams) Adam's first moment, else NULL */
    pp_real *v;   /* (nparams) Adam's second moment, else NULL */
    int64_t t;    /* Adam steps taken (bias correction); counts every step for any optimizer */
} pp_optim_state;

/* Allocates (zeroed) the buffers optimizer o needs for nparams parameters; PP_ERR_NOMEM. */
pp_status pp_optim_state_init(pp_optim_state *s, const pp_optim *o, size_t nparams);
void pp_optim_state_free(pp_optim_state *s);

/* Name of an optimizer ("sgd", "nesterov", "adam", "adamw"); parse returns -1 when unknown. */
const char *pp_optimizer_name(pp_optimizer k);
int pp_optimizer_parse(const char *s);

/* One step from the gradient SUM gsum over n samples, g = gsum / n (∇C₀), then s->t += 1.
 * Weights get r = (λ/N) w + (λ₁/N) sign(w) (sign(0) = 0); biases get neither term:
 *   sgd, μ = 0:  w ← w − (c w + η (g + (λ₁/N) sign w)) with c = ηλ/N   (b ← b − η g)
 *                (the same as (1 − c) w − …, without rounding 1 − c in float)
 *   sgd, μ > 0:  v ← μ v − η (g + r),  w ← w + v
 *   nesterov:    v ← μ v − η (g + r),  w ← w + μ v − η (g + r)   (with the new v)
 *   adam:        g' = g + r;  m ← β₁ m + (1 − β₁) g';  v ← β₂ v + (1 − β₂) g'²;
 *                w ← w − η (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)   with t = s->t + 1
 *   adamw:       as adam with g' = g + (λ₁/N) sign w, and the decay decoupled:
 *                w ← w − (c w + η (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)),  c = ηλ/N
 * Elementwise, so the result is the same for any thread count and any rank. */
void pp_optim_step(const pp_arch *a, const pp_optim *o, pp_real *params, pp_optim_state *s,
                   const pp_real *gsum, size_t n, int threads);
/* pp_optim_step on part `part` of `parts` of every layer's units only (their rows of Wˡ and
 * entries of bˡ): elementwise, so the parts of any split together give pp_optim_step's bits.
 * For ranks that share one copy of the parameters, each updating its part. */
void pp_optim_step_part(const pp_arch *a, const pp_optim *o, pp_real *params, pp_optim_state *s,
                        const pp_real *gsum, size_t n, int threads, int part, int parts);

/* --clip-norm: sets o->nscale for the gradient sum gsum over n samples, so that the step
 * applies ∇C₀ · min(1, clip / ‖∇C₀‖₂), ∇C₀ = gsum / n over every weight and bias (1 without
 * clipping, or when the norm is within the bound). The norm is summed in double over fixed blocks
 * in order, so its bits do not depend on the thread count. Returns ‖∇C₀‖₂ (0 without clip). */
double pp_optim_clip(pp_optim *o, const pp_real *gsum, size_t nparams, size_t n, int threads);

/* max |v[i]| (NaN if any value is NaN, +Inf if any is infinite and none is NaN). */
double pp_absmax(const pp_real *v, size_t n);

/* 1 if every value is finite (no NaN, no ±Inf). */
int pp_all_finite(const pp_real *v, size_t n);

#ifdef __cplusplus
}
#endif
#endif
