/* `paraprop gradcheck`: central differences on the full cost (with the L2 term) against BP1–BP4
 * on random data (shared/MATH.md, "Gradient check"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "paraprop/data.h"
#include "paraprop/rng.h"
#include "paraprop/train.h"

/* C = (1/m) Σ Cₓ + (λ/2N) Σ w², with N = m here. */
static double full_cost(const pp_arch *a, const pp_real *p, pp_workspace *ws, size_t m,
                        double lambda)
{
    pp_net_forward(a, p, ws, 0, m);
    double c = 0;
    const size_t k = a->n[a->L];
    for (size_t i = 0; i < m; i++)
        c += pp_cost_row(a, ws->zout + i * k, ws->act[a->L] + i * k, ws->y + i * k);
    return c / (double)m + lambda / (double)m * pp_net_weight_sqnorm(a, p);
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
    pp_real *p = malloc(P * sizeof *p), *g = malloc(P * sizeof *g);
    if (!p || !g) {
        free(p);
        free(g);
        pp_workspace_free(&ws);
        return pp_error(PP_ERR_NOMEM, "out of memory");
    }
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
    /* analytic ∇C = (1/m) Σ ∇Cₓ + (λ/N) w */
    for (int l = 1; l <= a.L; l++) {
        for (size_t i = a.w_off[l]; i < a.b_off[l]; i++)
            g[i] = (pp_real)((double)g[i] / (double)m + c.l2 / (double)m * (double)p[i]);
        for (size_t i = a.b_off[l]; i < a.b_off[l] + a.n[l]; i++)
            g[i] = (pp_real)((double)g[i] / (double)m);
    }
    *worst = 0;
    if (out)
        fprintf(out, "gradcheck: %zu samples, h = %g, %s precision, L2 λ = %g\n", m, h,
                PP_DOUBLE ? "double" : "single", c.l2);
    for (int l = 1; l <= a.L; l++) {
        /* ‖a − n‖ / (‖a‖ + ‖n‖) over the layer: robust where single entries are ~0 */
        double dd = 0, na = 0, nn = 0;
        for (size_t i = a.w_off[l]; i < a.b_off[l] + a.n[l]; i++) {
            pp_real save = p[i];
            p[i] = (pp_real)((double)save + h);
            double cp = full_cost(&a, p, &ws, m, c.l2);
            p[i] = (pp_real)((double)save - h);
            double cm = full_cost(&a, p, &ws, m, c.l2);
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
    if (out) fprintf(out, "worst: %.3e\n", *worst);
    free(p);
    free(g);
    pp_workspace_free(&ws);
    return pp_ok();
}
