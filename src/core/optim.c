/* SGD, momentum, Nesterov, Adam and AdamW with L2 and L1, over the flat parameter buffer. */
#include "paraprop/optim.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clones.h"

#if PP_DOUBLE
#define SQRT sqrt
#else
#define SQRT sqrtf
#endif

/* The step's constants, rounded to pp_real once. */
typedef struct coef {
    pp_real nsamp, eta, decay, l2, l1, mu;
    pp_real b1, nb1, b2, nb2, bc1, bc2, eps; /* β₁, 1 − β₁, β₂, 1 − β₂, 1 − β₁ᵗ, 1 − β₂ᵗ, ε */
    int adamw;
} coef;

static inline pp_real sgn(pp_real x)
{
    return (pp_real)((x > 0) - (x < 0));
}

/* sgd with L1 == 0 keeps the exact expressions it had before L1 existed, so runs without L1
 * keep their bits */
PP_CLONES static void sgd_range(pp_real *p, pp_real *v, const pp_real *g, size_t len, const coef *k,
                                int weights)
{
    const pp_real nsamp = k->nsamp, eta = k->eta, decay = k->decay, l2 = k->l2, mu = k->mu;
    const pp_real l1 = weights ? k->l1 : 0;
    if (!v) {
        /* w − (c w + η g/n), c = ηλ/N on its own: folding it into a factor (1 − c) would round
         * c to the float spacing near 1 (6e-8): 0.14 % off for the main job (c = 8.3e-6), and
         * exactly 1, no decay at all, for c below ~3e-8 */
        if (weights && l1 != 0)
            for (size_t i = 0; i < len; i++)
                p[i] = p[i] - (decay * p[i] + eta * (g[i] / nsamp + l1 * sgn(p[i])));
        else if (weights)
            for (size_t i = 0; i < len; i++) p[i] = p[i] - (decay * p[i] + eta * (g[i] / nsamp));
        else
            for (size_t i = 0; i < len; i++) p[i] = p[i] - eta * (g[i] / nsamp);
    } else {
        if (weights && l1 != 0)
            for (size_t i = 0; i < len; i++) {
                v[i] = mu * v[i] - eta * (g[i] / nsamp + (l2 * p[i] + l1 * sgn(p[i])));
                p[i] = p[i] + v[i];
            }
        else if (weights)
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

/* v ← μv − η g', w ← w + μv − η g' (the new v): Sutskever's Nesterov momentum written with the
 * gradient at the current weights (Bengio et al. 2013), so no look-ahead pass is needed */
PP_CLONES static void nesterov_range(pp_real *p, pp_real *v, const pp_real *g, size_t len,
                                     const coef *k, int weights)
{
    const pp_real nsamp = k->nsamp, eta = k->eta, mu = k->mu;
    const pp_real l2 = weights ? k->l2 : 0, l1 = weights ? k->l1 : 0;
    for (size_t i = 0; i < len; i++) {
        const pp_real step = eta * (g[i] / nsamp + (l2 * p[i] + l1 * sgn(p[i])));
        v[i] = mu * v[i] - step;
        p[i] = p[i] + (mu * v[i] - step);
    }
}

PP_CLONES static void adam_range(pp_real *p, pp_real *m, pp_real *v, const pp_real *g, size_t len,
                                 const coef *k, int weights)
{
    const pp_real nsamp = k->nsamp, eta = k->eta, b1 = k->b1, nb1 = k->nb1, b2 = k->b2,
                  nb2 = k->nb2, bc1 = k->bc1, bc2 = k->bc2, eps = k->eps;
    /* Adam couples L2 into the gradient; AdamW decays the weights beside the adaptive step */
    const pp_real l2 = weights && !k->adamw ? k->l2 : 0, l1 = weights ? k->l1 : 0;
    const pp_real decay = weights && k->adamw ? k->decay : 0;
    for (size_t i = 0; i < len; i++) {
        const pp_real gi = g[i] / nsamp + (l2 * p[i] + l1 * sgn(p[i]));
        m[i] = b1 * m[i] + nb1 * gi;
        v[i] = b2 * v[i] + nb2 * (gi * gi);
        const pp_real upd = eta * ((m[i] / bc1) / (SQRT(v[i] / bc2) + eps));
        p[i] = p[i] - (decay * p[i] + upd);
    }
}

/* One layer's weights or biases [off, off + len) */
static void step_range(const pp_optim *o, const coef *k, pp_real *params, pp_optim_state *s,
                       const pp_real *gsum, size_t off, size_t len, int weights)
{
    switch (o->kind) {
    case PP_OPT_SGD:
        sgd_range(params + off, s && s->vel && o->mu != 0 ? s->vel + off : NULL, gsum + off, len, k,
                  weights);
        break;
    case PP_OPT_NESTEROV:
        nesterov_range(params + off, s->vel + off, gsum + off, len, k, weights);
        break;
    case PP_OPT_ADAM:
    case PP_OPT_ADAMW:
        adam_range(params + off, s->m + off, s->v + off, gsum + off, len, k, weights);
        break;
    }
}

void pp_optim_step(const pp_arch *a, const pp_optim *o, pp_real *params, pp_optim_state *s,
                   const pp_real *gsum, size_t n, int threads)
{
    pp_optim_step_part(a, o, params, s, gsum, n, threads, 0, 1);
}

void pp_optim_step_part(const pp_arch *a, const pp_optim *o, pp_real *params, pp_optim_state *s,
                        const pp_real *gsum, size_t n, int threads, int part, int parts)
{
    if (parts < 1) parts = 1;
    coef k;
    memset(&k, 0, sizeof k);
    /* divide by n (one rounding) rather than multiply by 1/n (two) */
    k.nsamp = o->nscale > 0 && o->nscale != 1 ? (pp_real)((double)n * o->nscale) : (pp_real)n;
    const double l2 = o->ntrain ? o->lambda / (double)o->ntrain : 0.0;
    k.eta = (pp_real)o->eta;
    k.decay = (pp_real)(o->eta * l2); /* c = ηλ/N */
    k.l2 = (pp_real)l2;
    k.l1 = (pp_real)(o->ntrain ? o->l1 / (double)o->ntrain : 0.0);
    k.mu = (pp_real)o->mu;
    const int64_t t = (s ? s->t : 0) + 1;
    if (o->kind == PP_OPT_ADAM || o->kind == PP_OPT_ADAMW) {
        k.b1 = (pp_real)o->beta1;
        k.nb1 = (pp_real)(1 - o->beta1);
        k.b2 = (pp_real)o->beta2;
        k.nb2 = (pp_real)(1 - o->beta2);
        /* in double: β₂ᵗ for β₂ = 0.999 would lose digits in float powers */
        k.bc1 = (pp_real)(1 - pow(o->beta1, (double)t));
        k.bc2 = (pp_real)(1 - pow(o->beta2, (double)t));
        k.eps = (pp_real)o->eps;
        k.adamw = o->kind == PP_OPT_ADAMW;
    }
    int parallel = threads > 1 && a->nparams / (size_t)parts >= 65536;
    for (int l = 1; l <= a->L; l++) {
        /* part `part` of the layer's units: their rows of Wˡ (consecutive) and entries of bˡ */
        const size_t u0 = a->n[l] * (size_t)part / (size_t)parts,
                     u1 = a->n[l] * (size_t)(part + 1) / (size_t)parts;
        size_t woff = a->w_off[l] + u0 * a->n[l - 1], nw = (u1 - u0) * a->n[l - 1];
        size_t boff = a->b_off[l] + u0, nb = u1 - u0;
        /* chunks of one layer's weights over threads; elementwise, so any split is exact */
#pragma omp parallel for schedule(static) num_threads(threads) if (parallel)
        for (size_t c = 0; c < nw; c += 4096) {
            size_t len = nw - c < 4096 ? nw - c : 4096;
            step_range(o, &k, params, s, gsum, woff + c, len, 1);
        }
        step_range(o, &k, params, s, gsum, boff, nb, 0);
    }
    if (s) s->t = t;
}

static const char *const opt_names[] = {"sgd", "nesterov", "adam", "adamw"};

const char *pp_optimizer_name(pp_optimizer k)
{
    return (unsigned)k < 4 ? opt_names[k] : "?";
}

int pp_optimizer_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, opt_names[i]) == 0) return i;
    return -1;
}

pp_status pp_optim_state_init(pp_optim_state *s, const pp_optim *o, size_t nparams)
{
    memset(s, 0, sizeof *s);
    const size_t P = nparams ? nparams : 1;
    int ok = 1;
    if ((o->kind == PP_OPT_SGD && o->mu != 0) || o->kind == PP_OPT_NESTEROV) {
        s->vel = calloc(P, sizeof *s->vel);
        ok = s->vel != NULL;
    }
    if (o->kind == PP_OPT_ADAM || o->kind == PP_OPT_ADAMW) {
        s->m = calloc(P, sizeof *s->m);
        s->v = calloc(P, sizeof *s->v);
        ok = s->m && s->v;
    }
    if (!ok) {
        pp_optim_state_free(s);
        return pp_error(PP_ERR_NOMEM, "cannot allocate the %s state of %zu parameters",
                        pp_optimizer_name(o->kind), nparams);
    }
    return pp_ok();
}

void pp_optim_state_free(pp_optim_state *s)
{
    if (!s) return;
    free(s->vel);
    free(s->m);
    free(s->v);
    memset(s, 0, sizeof *s);
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

double pp_optim_clip(pp_optim *o, const pp_real *gsum, size_t nparams, size_t n, int threads)
{
    o->nscale = 1;
    if (!(o->clip > 0) || n == 0) return 0;
    enum { BLK = 4096 };
    const size_t nb = (nparams + BLK - 1) / BLK;
    double part[1024], total = 0;
    /* blocks of BLK, their sums in order: the same bits for any thread count */
    for (size_t b0 = 0; b0 < nb; b0 += 1024) {
        const size_t b1 = nb - b0 < 1024 ? nb : b0 + 1024;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && nparams >= 65536)
        for (size_t b = b0; b < b1; b++) {
            const size_t lo = b * BLK, hi = lo + BLK < nparams ? lo + BLK : nparams;
            double s = 0;
            for (size_t i = lo; i < hi; i++) s += (double)gsum[i] * (double)gsum[i];
            part[b - b0] = s;
        }
        for (size_t b = b0; b < b1; b++) total += part[b - b0];
    }
    const double norm = sqrt(total) / (double)n;
    if (norm > o->clip) o->nscale = norm / o->clip;
    return norm;
}
