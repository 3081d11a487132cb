/* SGD, L2 and momentum over the flat parameter buffer. */
#include "paraprop/optim.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "clones.h"

PP_CLONES static void step_range(pp_real *p, pp_real *v, const pp_real *g, size_t len,
                                 pp_real nsamp, pp_real eta, pp_real decay, pp_real l2, pp_real mu,
                                 int weights)
{
    if (!v) {
        /* w − (c w + η g/n), c = ηλ/N on its own: folding it into a factor (1 − c) would round
         * c to the float spacing near 1 (6e-8): 0.14 % off for the main job (c = 8.3e-6), and
         * exactly 1, no decay at all, for c below ~3e-8 */
        if (weights)
            for (size_t i = 0; i < len; i++) p[i] = p[i] - (decay * p[i] + eta * (g[i] / nsamp));
        else
            for (size_t i = 0; i < len; i++) p[i] = p[i] - eta * (g[i] / nsamp);
    } else {
        if (weights)
            for (size_t i = 0; i < len; i++) {
                v[i] = mu * v[i] - eta * (g[i] / nsamp + l2 * p[i]);
                p[i] = p[i] + v[i];
            }
        else
            for (size_t i = 0; i < len; i++) {
                v[i] = mu * v[i] - eta * (g[i] / nsamp);
                p[i] = p[i] + v[i];
            }
    }
}

void pp_optim_step(const pp_arch *a, const pp_optim *o, pp_real *params, pp_real *vel,
                   const pp_real *gsum, size_t n, int threads)
{
    /* divide by n (one rounding) rather than multiply by 1/n (two) */
    const pp_real nn = (pp_real)n;
    const double l2 = o->ntrain ? o->lambda / (double)o->ntrain : 0.0;
    const pp_real eta = (pp_real)o->eta, decay = (pp_real)(o->eta * l2); /* c = ηλ/N */
    const pp_real l2r = (pp_real)l2, mu = (pp_real)o->mu;
    pp_real *v = o->mu != 0 ? vel : NULL;
    int parallel = threads > 1 && a->nparams >= 65536;
    for (int l = 1; l <= a->L; l++) {
        size_t woff = a->w_off[l], nw = a->n[l] * a->n[l - 1];
        size_t boff = a->b_off[l], nb = a->n[l];
        /* chunks of one layer's weights over threads; elementwise, so any split is exact */
#pragma omp parallel for schedule(static) num_threads(threads) if (parallel)
        for (size_t c = 0; c < nw; c += 4096) {
            size_t len = nw - c < 4096 ? nw - c : 4096;
            step_range(params + woff + c, v ? v + woff + c : NULL, gsum + woff + c, len, nn, eta,
                       decay, l2r, mu, 1);
        }
        step_range(params + boff, v ? v + boff : NULL, gsum + boff, nb, nn, eta, decay, l2r, mu, 0);
    }
}

/* max |v[i]| through the bits: with the sign cleared, IEEE values order like unsigned integers
 * (finite < Inf < NaN), so an integer max vectorises, equals the float max exactly, and lets a
 * NaN win so that it is reported, not hidden. */
PP_CLONES double pp_absmax(const pp_real *v, size_t n)
{
#if PP_DOUBLE
    typedef uint64_t bits_t;
    const bits_t magnitude = 0x7fffffffffffffffull;
#else
    typedef uint32_t bits_t;
    const bits_t magnitude = 0x7fffffffu;
#endif
    bits_t m = 0;
    for (size_t i = 0; i < n; i++) {
        bits_t b;
        memcpy(&b, &v[i], sizeof b);
        b &= magnitude;
        m = b > m ? b : m;
    }
    pp_real r;
    memcpy(&r, &m, sizeof r);
    return (double)r;
}

int pp_all_finite(const pp_real *v, size_t n)
{
    return isfinite(pp_absmax(v, n));
}
