/* `paraprop gradcheck`: central differences on the full cost (with the L2 and L1 terms, and
 * through fixed dropout masks) against BP1–BP4 on random data (shared/MATH.md, "Gradient
 * check"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "paraprop/data.h"
#include "paraprop/rng.h"
#include "paraprop/train.h"

/* Σ |w| over weights only, for the L1 term. */
static double weight_abs_sum(const pp_arch *a, const pp_real *p)
{
    double s = 0;
    for (int l = 1; l <= a->L; l++)
        for (size_t i = a->w_off[l]; i < a->b_off[l]; i++) s += fabs((double)p[i]);
    return s;
}

/* C = (1/m) Σ Cₓ + (λ/2N) Σ w² + (λ₁/N) Σ |w|, with N = m here; the dropout masks (if any) are
 * keyed by (seed, step 0, sample, unit), so every evaluation sees the same ones. */
static double full_cost(const pp_arch *a, const pp_real *p, pp_workspace *ws, size_t m,
                        double lambda, double l1)
{
    pp_net_forward(a, p, ws, 0, m);
    double c = 0;
    const size_t k = a->n[a->L];
    for (size_t i = 0; i < m; i++)
        c += pp_cost_row(a, ws->zout + i * k, ws->act[a->L] + i * k, ws->y + i * k);
    return c / (double)m + lambda / (double)m * pp_net_weight_sqnorm(a, p) +
           (l1 != 0 ? l1 / (double)m * weight_abs_sum(a, p) : 0);
}

pp_status pp_gradcheck(const pp_config *cfg, FILE *out, double *worst)
{
    pp_config c = *cfg;
    PP_TRY(pp_config_check(&c, PP_CMD_GRADCHECK));
    pp_arch a;
    PP_TRY(pp_arch_init(&a, c.L, c.sizes, c.hidden, c.output, c.cost));
    const size_t m = (size_t)c.gc_samples, P = a.nparams, k = a.n[a.L];
    if (P > 2000000)
        return pp_error(PP_ERR_USAGE,
                        "gradcheck: %zu parameters is too many to check one by one "
                        "(use a smaller --layers)",
                        P);
    double h = c.gc_eps > 0 ? c.gc_eps : (PP_DOUBLE ? 1e-6 : 1e-2);
    pp_workspace ws;
    PP_TRY(pp_workspace_init(&ws, &a, m));
    pp_dropout drop;
    memset(&drop, 0, sizeof drop);
    drop.seed = c.seed;
    int dropped = 0;
    for (int l = 1; l < a.L; l++) dropped |= (drop.p[l] = pp_config_dropout(&c, l)) > 0;
    pp_status ds = pp_workspace_dropout(&ws, &a, &drop);
    pp_real *p = malloc(P * sizeof *p), *g = malloc(P * sizeof *g);
    if (ds.code || !p || !g) {
        free(p);
        free(g);
        pp_workspace_free(&ws);
        return ds.code ? ds : pp_error(PP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; dropped && i < m; i++) ws.ids[i] = (uint32_t)i;
    pp_net_init_params(&a, c.init, c.seed, p);
    for (size_t i = 0; i < m * a.n[0]; i++)
        ws.act[0][i] = (pp_real)pp_rng_uniform(c.seed, PP_RNG_DATA, 0, i);
    for (size_t i = 0; i < m; i++) {
        size_t label = (size_t)(pp_rng_u64(c.seed, PP_RNG_DATA, 1, i) % k);
        for (size_t j = 0; j < k; j++) {
            double u = pp_rng_uniform(c.seed, PP_RNG_DATA, 2, i * k + j);
            /* softmax/log-likelihood wants one-hot; elementwise costs get targets in (0,1) */
            ws.y[i * k + j] = (pp_real)(c.cost == PP_COST_LOG_LIKELIHOOD ? (j == label) : u);
        }
    }
    pp_net_grad_sum(&a, p, &ws, m, g);
    /* analytic ∇C = (1/m) Σ ∇Cₓ + (λ/N) w + (λ₁/N) sign(w) */
    for (int l = 1; l <= a.L; l++) {
        for (size_t i = a.w_off[l]; i < a.b_off[l]; i++) {
            const double sg = (p[i] > 0) - (p[i] < 0);
            g[i] = (pp_real)((double)g[i] / (double)m + c.l2 / (double)m * (double)p[i] +
                             c.l1 / (double)m * sg);
        }
        for (size_t i = a.b_off[l]; i < a.b_off[l] + a.n[l]; i++)
            g[i] = (pp_real)((double)g[i] / (double)m);
    }
    *worst = 0;
    if (out) {
        fprintf(out, "gradcheck: %zu samples, h = %g, %s precision, L2 λ = %g, L1 λ₁ = %g", m, h,
                PP_DOUBLE ? "double" : "single", c.l2, c.l1);
        if (dropped) fprintf(out, ", dropout %s (fixed masks)", c.dropout);
        fputc('\n', out);
    }
    size_t kinks = 0;
    for (int l = 1; l <= a.L; l++) {
        /* ‖a − n‖ / (‖a‖ + ‖n‖) over the layer: robust where single entries are ~0 */
        double dd = 0, na = 0, nn = 0;
        for (size_t i = a.w_off[l]; i < a.b_off[l] + a.n[l]; i++) {
            pp_real save = p[i];
            /* |w| has its kink at 0: a difference across it measures no derivative at all */
            if (c.l1 != 0 && i < a.b_off[l] && fabs((double)save) <= h) {
                kinks++;
                continue;
            }
            p[i] = (pp_real)((double)save + h);
            double cp = full_cost(&a, p, &ws, m, c.l2, c.l1);
            p[i] = (pp_real)((double)save - h);
            double cm = full_cost(&a, p, &ws, m, c.l2, c.l1);
            p[i] = save;
            double num = (cp - cm) / (2 * h), an = (double)g[i];
            dd += (num - an) * (num - an);
            na += an * an;
            nn += num * num;
        }
        double lw = na + nn > 0 ? sqrt(dd) / (sqrt(na) + sqrt(nn)) : 0;
        if (out) fprintf(out, "layer %d: relative error %.3e\n", l, lw);
        if (lw > *worst) *worst = lw;
    }
    if (out && kinks)
        fprintf(out,
                "skipped %zu weight(s) within h of L1's kink at 0 (not differentiable there)\n",
                kinks);
    if (out) fprintf(out, "worst: %.3e\n", *worst);
    free(p);
    free(g);
    pp_workspace_free(&ws);
    return pp_ok();
}
