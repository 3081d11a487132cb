/* Private: activation kernels applied row by row. */
#ifndef PARAPROP_ACTIVATION_H
#define PARAPROP_ACTIVATION_H

#include <math.h>
#include <stddef.h>

#include "paraprop/net.h"

#if PP_DOUBLE
#define PP_EXP exp
#define PP_TANH tanh
#else
#define PP_EXP expf
#define PP_TANH tanhf
#endif

/* z ← σ(z) in place over one row of n values (softmax normalises the row). */
void pp_act_apply(pp_activation act, pp_real *z, size_t n);

/* d ← d ⊙ σ'(z), with σ' computed from a = σ(z) (elementwise activations only). */
void pp_act_mul_deriv(pp_activation act, const pp_real *a, pp_real *d, size_t n);

#endif
