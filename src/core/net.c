/* The MLP: parameter layout, initialisation, forward pass, BP1–BP4 over blocks of rows. */
#include "paraprop/net.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "activation.h"
#include "gemm.h"
#include "net_internal.h"
#include "linalg.h"
#include "paraprop/rng.h"

pp_status pp_arch_init(pp_arch *a, int L, const size_t *sizes, pp_activation hidden,
                       pp_activation output, pp_cost cost)
{
    memset(a, 0, sizeof *a);
    if (L < 1 || L > PP_MAX_LAYERS)
        return pp_error(PP_ERR_USAGE, "--layers needs 2 to %d sizes (input … output), got %d",
                        PP_MAX_LAYERS + 1, L + 1);
    if (hidden == PP_ACT_SOFTMAX)
        return pp_error(PP_ERR_USAGE, "softmax is an output activation only; hidden layers take "
                                      "sigmoid, tanh, relu or identity");
    char msg[PP_STATUS_MSG_MAX];
    if (!pp_arch_pair_ok(output, cost, msg, sizeof msg)) return pp_error(PP_ERR_USAGE, "%s", msg);
    if (output == PP_ACT_SOFTMAX && sizes[L] < 2)
        return pp_error(PP_ERR_USAGE, "a softmax output needs at least 2 neurons, got %zu",
                        sizes[L]);
    a->L = L;
    a->hidden = hidden;
    a->output = output;
    a->cost = cost;
    size_t off = 0;
    for (int l = 0; l <= L; l++) {
        /* the matrix kernels take sizes and leading dimensions as int */
        if (sizes[l] == 0 || sizes[l] > (size_t)INT_MAX)
            return pp_error(PP_ERR_USAGE,
                            "layer %d has %zu neurons; each layer needs 1 to %d (INT_MAX)", l,
                            sizes[l], INT_MAX);
        a->n[l] = sizes[l];
    }
    for (int l = 1; l <= L; l++) {
        size_t w = a->n[l] * a->n[l - 1]; /* both < 2^31: no overflow in 64 bits */
        if (off > SIZE_MAX / 2 - w - a->n[l])
            return pp_error(PP_ERR_USAGE, "the network has too many parameters");
        a->w_off[l] = off;
        off += w;
        a->b_off[l] = off;
        off += a->n[l];
    }
    a->nparams = off;
    return pp_ok();
}

void pp_net_init_params(const pp_arch *a, pp_init kind, uint64_t seed, pp_real *params)
{
    /* Keyed by the flat parameter index: any rank computes the same values. */
    for (int l = 1; l <= a->L; l++) {
        const double nin = (double)a->n[l - 1];
        double wscale = kind == PP_INIT_NORMALIZED ? 1.0 / sqrt(nin)
                        : kind == PP_INIT_HE       ? sqrt(2.0 / nin)
                                                   : 1.0;
        size_t nw = a->n[l] * a->n[l - 1];
        for (size_t i = 0; i < nw; i++) {
            size_t idx = a->w_off[l] + i;
            params[idx] = (pp_real)(wscale * pp_rng_normal(seed, PP_RNG_INIT, 0, idx));
        }
        for (size_t j = 0; j < a->n[l]; j++) {
            size_t idx = a->b_off[l] + j;
            params[idx] =
                kind == PP_INIT_HE ? 0 : (pp_real)pp_rng_normal(seed, PP_RNG_INIT, 0, idx);
        }
    }
}

void pp_workspace_free(pp_workspace *ws)
{
    if (!ws) return;
    for (int l = 0; l <= PP_MAX_LAYERS; l++) {
        free(ws->act[l]);
        free(ws->delta[l]);
        free(ws->dmul[l]);
    }
    free(ws->zout);
    free(ws->y);
    free(ws->ids);
    memset(ws, 0, sizeof *ws);
}

static pp_real *alloc_real(size_t rows, size_t cols)
{
    size_t n = rows * cols;
    if (n == 0) n = 1;
    /* 64-byte alignment keeps rows friendly to AVX-512 loads */
    size_t bytes = (n * sizeof(pp_real) + 63) / 64 * 64;
    return aligned_alloc(64, bytes);
}

pp_status pp_workspace_init(pp_workspace *ws, const pp_arch *a, size_t rows)
{
    /* every compute path starts with a workspace: the place to keep BLAS single-threaded */
    pp_linalg_single_thread();
    memset(ws, 0, sizeof *ws);
    ws->rows = rows;
    int ok = 1;
    for (int l = 0; l <= a->L; l++) {
        ws->act[l] = alloc_real(rows, a->n[l]);
        ok = ok && ws->act[l];
        if (l >= 1) {
            ws->delta[l] = alloc_real(rows, a->n[l]);
            ok = ok && ws->delta[l];
        }
    }
    ws->zout = alloc_real(rows, a->n[a->L]);
    ws->y = alloc_real(rows, a->n[a->L]);
    if (!ok || !ws->zout || !ws->y) {
        pp_workspace_free(ws);
        return pp_error(PP_ERR_NOMEM, "cannot allocate the workspace for %zu samples", rows);
    }
    return pp_ok();
}

static size_t placed_bytes(size_t rows, size_t cols)
{
    size_t n = rows * cols;
    if (n == 0) n = 1;
    return (n * sizeof(pp_real) + 63) / 64 * 64;
}

size_t pp_workspace_bytes(const pp_arch *a, size_t rows)
{
    size_t b = 0;
    for (int l = 0; l <= a->L; l++) b += placed_bytes(rows, a->n[l]) * (l >= 1 ? 2 : 1);
    return b + 2 * placed_bytes(rows, a->n[a->L]);
}

void pp_workspace_place(pp_workspace *ws, const pp_arch *a, size_t rows, void *mem)
{
    pp_linalg_single_thread();
    memset(ws, 0, sizeof *ws);
    ws->rows = rows;
    char *p = mem;
    for (int l = 0; l <= a->L; l++) {
        ws->act[l] = (pp_real *)(void *)p;
        p += placed_bytes(rows, a->n[l]);
        if (l >= 1) {
            ws->delta[l] = (pp_real *)(void *)p;
            p += placed_bytes(rows, a->n[l]);
        }
    }
    ws->zout = (pp_real *)(void *)p;
    p += placed_bytes(rows, a->n[a->L]);
    ws->y = (pp_real *)(void *)p;
}

pp_status pp_workspace_dropout(pp_workspace *ws, const pp_arch *a, const pp_dropout *d)
{
    int any = 0;
    for (int l = 1; l < a->L; l++) any = any || d->p[l] > 0;
    if (!any) return pp_ok();
    int ok = (ws->ids = malloc((ws->rows ? ws->rows : 1) * sizeof *ws->ids)) != NULL;
    for (int l = 1; l < a->L && ok; l++)
        if (d->p[l] > 0) ok = (ws->dmul[l] = alloc_real(ws->rows, a->n[l])) != NULL;
    if (!ok)
        return pp_error(PP_ERR_NOMEM, "cannot allocate the dropout masks of %zu samples", ws->rows);
    ws->drop = d;
    return pp_ok();
}

void pp_workspace_dropout_free(pp_workspace *ws)
{
    for (int l = 0; l <= PP_MAX_LAYERS; l++) {
        free(ws->dmul[l]);
        ws->dmul[l] = NULL;
    }
    free(ws->ids);
    ws->ids = NULL;
    ws->drop = NULL;
}

/* Row i of hidden layer l, h = σ(Zˡ) in place: h ← h ⊙ f and dm ← σ'(h) ⊙ f with
 * f = mask / (1 − p), so BP2 needs one product and σ' still sees the undropped activation. */
static void dropout_row(const pp_arch *a, const pp_dropout *d, int l, uint32_t sample, pp_real *h,
                        pp_real *dm)
{
    const size_t n = a->n[l];
    const double p = d->p[l];
    /* keep when the 32 bits are ≥ ⌊p·2^32⌋: p < 1, so the threshold fits */
    const uint32_t thr = (uint32_t)(p * 4294967296.0);
    const pp_real scale = (pp_real)(1.0 / (1.0 - p));
    for (size_t j = 0; j < n; j++) dm[j] = 1;
    pp_act_mul_deriv(a->hidden, h, dm, n);
    for (size_t g = 0; g * 4 < n; g++) {
        uint32_t bits[4];
        pp_rng_dropout4(d->seed, d->step, sample, l, (uint32_t)g, bits);
        for (size_t u = 0; u < 4 && g * 4 + u < n; u++) {
            const pp_real f = bits[u] >= thr ? scale : 0;
            h[g * 4 + u] *= f;
            dm[g * 4 + u] *= f;
        }
    }
}

static int forward(const pp_arch *a, const pp_real *params, pp_workspace *ws, size_t r0, size_t r1,
                   int rows, const pp_net_plans *pl, const pp_net_plan_buf *buf)
{
    const int m = (int)(r1 - r0);
    int bad = 0;
    if (m <= 0) return 0;
    for (int l = 1; l <= a->L; l++) {
        const size_t nin = a->n[l - 1], nout = a->n[l];
        const pp_real *ain = ws->act[l - 1] + r0 * nin;               /* (m, nin) */
        pp_real *z = (l == a->L ? ws->zout : ws->act[l]) + r0 * nout; /* (m, nout) */
        const pp_real *w = params + a->w_off[l];                      /* (nout, nin) */
        const pp_real *b = params + a->b_off[l];                      /* (nout) */
        /* Zˡ = Aˡ⁻¹ (Wˡ)ᵀ + 1 bᵀ */
        if (rows)
            pp_mm_nt_rows(m, (int)nout, (int)nin, ain, (int)nin, w, (int)nin, z, (int)nout);
        else if (pl && pl->fwd[l] && (size_t)m == pl->rows) {
            bad |= pp_mm_plan_pack(pl->fwd[l], ain, buf->abuf, buf->scratch);
            bad |= pp_mm_plan_run(pl->fwd[l], w, buf->abuf, buf->zt, buf->scratch);
            pp_transpose(buf->zt, nout, (size_t)m, z); /* Zᵀ → Z */
        } else
            pp_mm_nt(m, (int)nout, (int)nin, ain, (int)nin, w, (int)nin, z, (int)nout);
        pp_activation act = l == a->L ? a->output : a->hidden;
        pp_real *out = ws->act[l] + r0 * nout;
        for (int i = 0; i < m; i++) {
            pp_real *zr = z + (size_t)i * nout;
            for (size_t j = 0; j < nout; j++) zr[j] += b[j];
            if (l == a->L) memcpy(out + (size_t)i * nout, zr, nout * sizeof *zr);
            pp_act_apply(act, out + (size_t)i * nout, nout);
            if (l < a->L && ws->drop && ws->drop->p[l] > 0)
                dropout_row(a, ws->drop, l, ws->ids[r0 + (size_t)i], out + (size_t)i * nout,
                            ws->dmul[l] + (r0 + (size_t)i) * nout);
        }
    }
    return bad;
}

void pp_net_forward(const pp_arch *a, const pp_real *params, pp_workspace *ws, size_t r0, size_t r1)
{
    forward(a, params, ws, r0, r1, 0, NULL, NULL);
}

void pp_net_forward_planned(const pp_arch *a, const pp_real *params, pp_workspace *ws, size_t r0,
                            size_t r1, const pp_net_plans *pl, const pp_net_plan_buf *buf, int *bad)
{
    *bad |= forward(a, params, ws, r0, r1, 0, pl, buf);
}

void pp_net_forward_rows(const pp_arch *a, const pp_real *params, pp_workspace *ws, size_t r0,
                         size_t r1)
{
    forward(a, params, ws, r0, r1, 1, NULL, NULL);
}

const char *pp_net_rows_engine(void)
{
    return pp_mm_rows_engine();
}

/* log(1 + e^x) without overflow */
static double softplus(double x)
{
    return (x > 0 ? x : 0) + log1p(exp(-fabs(x)));
}

double pp_cost_row(const pp_arch *a, const pp_real *z, const pp_real *act, const pp_real *y)
{
    const size_t n = a->n[a->L];
    double c = 0;
    switch (a->cost) {
    case PP_COST_QUADRATIC:
        for (size_t j = 0; j < n; j++) {
            double d = (double)act[j] - (double)y[j];
            c += 0.5 * d * d;
        }
        break;
    case PP_COST_CROSS_ENTROPY:
        /* −[y ln σ(z) + (1−y) ln(1−σ(z))] = y·softplus(−z) + (1−y)·softplus(z)
         *                                  = softplus(z) − y·z   (softplus(−z) = softplus(z) − z):
         * one log1p and one exp per output instead of two each (the cost is only reported) */
        for (size_t j = 0; j < n; j++) c += softplus((double)z[j]) - (double)y[j] * (double)z[j];
        break;
    case PP_COST_LOG_LIKELIHOOD: {
        /* −Σ yⱼ ln aⱼ with ln aⱼ = zⱼ − logsumexp(z) */
        double mx = z[0];
        for (size_t j = 1; j < n; j++) mx = z[j] > mx ? z[j] : mx;
        double s = 0;
        for (size_t j = 0; j < n; j++) s += exp((double)z[j] - mx);
        double lse = mx + log(s);
        for (size_t j = 0; j < n; j++)
            if (y[j] != 0) c += (double)y[j] * (lse - (double)z[j]);
        break;
    }
    }
    return c;
}

/* BP1 for one row: δᴸ from a, y (shared/MATH.md table). */
static void output_delta_row(const pp_arch *a, const pp_real *act, const pp_real *y, pp_real *d)
{
    const size_t n = a->n[a->L];
    for (size_t j = 0; j < n; j++) d[j] = act[j] - y[j];
    if (a->cost != PP_COST_QUADRATIC) return; /* cross-entropy·sigmoid, log-likelihood·softmax */
    if (a->output == PP_ACT_SOFTMAX) {
        /* δ = a ⊙ (g − ⟨a, g⟩), g = ∇ₐC = a − y */
        pp_real dot = 0;
        for (size_t j = 0; j < n; j++) dot += act[j] * d[j];
        for (size_t j = 0; j < n; j++) d[j] = act[j] * (d[j] - dot);
    } else {
        pp_act_mul_deriv(a->output, act, d, n);
    }
}

double pp_net_backward_output(const pp_arch *a, pp_workspace *ws, size_t r0, size_t r1)
{
    const size_t nL = a->n[a->L];
    double cost = 0;
    for (size_t i = r0; i < r1; i++) {
        const pp_real *act = ws->act[a->L] + i * nL, *y = ws->y + i * nL;
        cost += pp_cost_row(a, ws->zout + i * nL, act, y);
        output_delta_row(a, act, y, ws->delta[a->L] + i * nL);
    }
    return cost;
}

/* pp_net_backward_cols, the product on plan (over packed, whole columns) when set */
static int backward_cols(const pp_arch *a, const pp_real *params, pp_workspace *ws, int l,
                         size_t r0, size_t r1, size_t c0, size_t c1, const pp_mm_plan *plan,
                         const void *packed, void *scratch)
{
    const int m = (int)(r1 - r0), nc = (int)(c1 - c0);
    if (m <= 0 || nc <= 0 || l < 2) return 0;
    const size_t nout = a->n[l], nin = a->n[l - 1];
    const pp_real *w = params + a->w_off[l] + c0;   /* (nout, nc) of (nout, nin) */
    const pp_real *d = ws->delta[l] + r0 * nout;    /* (m, nout) */
    pp_real *dp = ws->delta[l - 1] + r0 * nin + c0; /* (m, nc) of (m, nin) */
    int bad = 0;
    /* BP2: Δˡ⁻¹ = (Δˡ Wˡ) ⊙ σ'(Aˡ⁻¹) */
    if (plan)
        bad = pp_mm_plan_run(plan, d, packed, dp, scratch);
    else
        pp_mm_nn(m, nc, (int)nout, d, (int)nout, 1, w, (int)nin, dp, (int)nin);
    if (ws->drop && ws->drop->p[l - 1] > 0) {
        /* σ'(Zˡ⁻¹) ⊙ mask / (1 − p), kept by the forward pass */
        const pp_real *dm = ws->dmul[l - 1] + r0 * nin + c0;
        for (size_t i = 0; i < (size_t)m; i++)
            for (size_t j = 0; j < (size_t)nc; j++) dp[i * nin + j] *= dm[i * nin + j];
    } else if (c0 == 0 && c1 == nin) {
        pp_act_mul_deriv(a->hidden, ws->act[l - 1] + r0 * nin, dp, (size_t)m * nin);
    } else {
        for (size_t i = 0; i < (size_t)m; i++)
            pp_act_mul_deriv(a->hidden, ws->act[l - 1] + (r0 + i) * nin + c0, dp + i * nin,
                             (size_t)nc);
    }
    return bad;
}

void pp_net_backward_cols(const pp_arch *a, const pp_real *params, pp_workspace *ws, int l,
                          size_t r0, size_t r1, size_t c0, size_t c1)
{
    (void)backward_cols(a, params, ws, l, r0, r1, c0, c1, NULL, NULL, NULL);
}

void pp_net_backward_layer(const pp_arch *a, const pp_real *params, pp_workspace *ws, int l,
                           size_t r0, size_t r1)
{
    pp_net_backward_cols(a, params, ws, l, r0, r1, 0, a->n[l - 1]);
}

/* BP1 then BP2 down to layer 2, the products on pl's plans where set and the block has
 * pl->rows rows (pl NULL: none) */
static double backward(const pp_arch *a, const pp_real *params, pp_workspace *ws, size_t r0,
                       size_t r1, const pp_net_plans *pl, const pp_net_plan_buf *buf, int *bad)
{
    if (r1 <= r0) return 0;
    const double cost = pp_net_backward_output(a, ws, r0, r1);
    const int planned = pl && r1 - r0 == pl->rows;
    for (int l = a->L; l >= 2; l--)
        *bad |= backward_cols(a, params, ws, l, r0, r1, 0, a->n[l - 1], planned ? pl->bwd[l] : NULL,
                              planned ? pl->bwd_packed[l] : NULL, buf ? buf->scratch : NULL);
    return cost;
}

double pp_net_backward(const pp_arch *a, const pp_real *params, pp_workspace *ws, size_t r0,
                       size_t r1)
{
    int bad = 0; /* no plans: nothing can fail */
    return backward(a, params, ws, r0, r1, NULL, NULL, &bad);
}

double pp_net_backward_planned(const pp_arch *a, const pp_real *params, pp_workspace *ws, size_t r0,
                               size_t r1, const pp_net_plans *pl, const pp_net_plan_buf *buf,
                               int *bad)
{
    return backward(a, params, ws, r0, r1, pl, buf, bad);
}

void pp_net_grad_block(const pp_arch *a, const pp_workspace *ws, int l, size_t r0, size_t r1,
                       size_t j0, size_t j1, size_t k0, size_t k1, pp_real *grad)
{
    const size_t nout = a->n[l], nin = a->n[l - 1];
    const int m = (int)(r1 - r0), mj = (int)(j1 - j0), nk = (int)(k1 - k0);
    pp_real *gw = grad + a->w_off[l] + j0 * nin + k0; /* (mj, nk) of (nout, nin) */
    pp_real *gb = grad + a->b_off[l];
    if (mj <= 0 || nk <= 0) return;
    if (m <= 0) {
        for (int j = 0; j < mj; j++) memset(gw + (size_t)j * nin, 0, (size_t)nk * sizeof *gw);
        if (k0 == 0) memset(gb + j0, 0, (size_t)mj * sizeof *gb);
        return;
    }
    const pp_real *d = ws->delta[l] + r0 * nout + j0;    /* (m, mj) of (·, nout) */
    const pp_real *ain = ws->act[l - 1] + r0 * nin + k0; /* (m, nk) of (·, nin) */
    /* BP4: ∇Wˡ = (Δˡ)ᵀ Aˡ⁻¹ summed over the rows */
    pp_mm_nn(mj, nk, m, d, 1, (int)nout, ain, (int)nin, gw, (int)nin);
    if (k0 == 0) {
        /* BP3: ∇bˡ = column sums of Δˡ, rows in order */
        for (size_t j = j0; j < j1; j++) gb[j] = 0;
        for (size_t i = r0; i < r1; i++) {
            const pp_real *dr = ws->delta[l] + i * nout;
            for (size_t j = j0; j < j1; j++) gb[j] += dr[j];
        }
    }
}

double pp_net_grad_sum(const pp_arch *a, const pp_real *params, pp_workspace *ws, size_t m,
                       pp_real *grad)
{
    pp_net_forward(a, params, ws, 0, m);
    double c = pp_net_backward(a, params, ws, 0, m);
    for (int l = 1; l <= a->L; l++)
        pp_net_grad_block(a, ws, l, 0, m, 0, a->n[l], 0, a->n[l - 1], grad);
    return c;
}

double pp_net_weight_sqnorm(const pp_arch *a, const pp_real *params)
{
    double s = 0;
    for (int l = 1; l <= a->L; l++) {
        const pp_real *w = params + a->w_off[l];
        size_t nw = a->n[l] * a->n[l - 1];
        for (size_t i = 0; i < nw; i++) s += (double)w[i] * w[i];
    }
    return 0.5 * s;
}
