/* The optimizer step: SGD with L2 weight decay and momentum (shared/MATH.md). */
#ifndef PARAPROP_OPTIM_H
#define PARAPROP_OPTIM_H

#include <stddef.h>

#include "paraprop/net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pp_optim {
    double eta;    /* learning rate η */
    double lambda; /* L2 strength λ */
    double mu;     /* momentum μ (0: plain SGD) */
    size_t ntrain; /* N, the training-set size in λ/N */
} pp_optim;

/* One step from the gradient SUM gsum over n samples (∇C₀ = gsum / n):
 *   μ = 0:  w ← w − (c w + η ∇C₀) with c = ηλ/N,   b ← b − η ∇C₀
 *           (the same as (1 − c) w − η ∇C₀, without rounding 1 − c in float)
 *   μ > 0:  v ← μ v − η (∇C₀ + (λ/N) w), w ← w + v   (biases without the λ term)
 * vel may be NULL when μ = 0. Elementwise, so the result is the same for any thread count. */
void pp_optim_step(const pp_arch *a, const pp_optim *o, pp_real *params, pp_real *vel,
                   const pp_real *gsum, size_t n, int threads);

/* max |v[i]| (NaN if any value is NaN, +Inf if any is infinite and none is NaN). */
double pp_absmax(const pp_real *v, size_t n);

/* 1 if every value is finite (no NaN, no ±Inf). */
int pp_all_finite(const pp_real *v, size_t n);

#ifdef __cplusplus
}
#endif
#endif
