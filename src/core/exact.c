/* Exact-mode gradient: fixed sample blocks, fixed-point integer sums (see exact.h). */
#include "paraprop/exact.h"

#include <math.h>
#include <stdint.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "clones.h"
#include "paraprop/optim.h"

pp_status pp_exact_init(pp_exact *ex, const pp_arch *a, int threads)
{
    memset(ex, 0, sizeof *ex);
    if (threads < 1) threads = 1;
    ex->threads = threads;
    ex->nparams = a->nparams;
    ex->nmax = 2 * a->L;
    /* One partial and one accumulator for all threads: each thread owns whole tiles of units
     * (pp_exact_accumulate), so exact mode needs no per-thread copies (W3 at 2 threads: 70 MB
     * less). */
    ex->part = malloc(a->nparams * sizeof *ex->part);
    ex->acc = malloc(a->nparams * sizeof *ex->acc);
    if (!ex->part || !ex->acc) {
        pp_exact_free(ex);
        return pp_error(PP_ERR_NOMEM, "exact mode: cannot allocate %zu partial sums", a->nparams);
    }
    return pp_ok();
}

void pp_exact_free(pp_exact *ex)
{
    if (!ex) return;
    free(ex->part);
    free(ex->acc);
    memset(ex, 0, sizeof *ex);
}

void pp_exact_shard(size_t n, int rank, int nranks, size_t *lo, size_t *hi)
{
    size_t nb = (n + PP_EXACT_BLOCK - 1) / PP_EXACT_BLOCK;
    size_t b0 = nb * (size_t)rank / (size_t)nranks, b1 = nb * (size_t)(rank + 1) / (size_t)nranks;
    *lo = b0 * PP_EXACT_BLOCK < n ? b0 * PP_EXACT_BLOCK : n;
    *hi = b1 * PP_EXACT_BLOCK < n ? b1 * PP_EXACT_BLOCK : n;
}

double pp_exact_forward_backward(pp_exact *ex, const pp_arch *a, const pp_real *params,
                                 const pp_data *x, const uint32_t *ids, size_t m, pp_workspace *ws,
                                 pp_batch_times *times)
{
    const size_t nblk = (m + PP_EXACT_BLOCK - 1) / PP_EXACT_BLOCK;
    const int L = a->L;
    double cost_t[256] = {0};
    double tmax[256][2 * PP_MAX_LAYERS];
    int T = ex->threads < 256 ? ex->threads : 256;
    if ((size_t)T > nblk) T = nblk ? (int)nblk : 1;
    double t_data = 0, t_comp = 0;
#pragma omp parallel num_threads(T) if (T > 1)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        for (int i = 0; i < 2 * L; i++) tmax[t][i] = 0;
        double td = 0, t0 = omp_get_wtime();
        for (size_t blk = nblk * (size_t)t / (size_t)nt; blk < nblk * (size_t)(t + 1) / (size_t)nt;
             blk++) {
            size_t r0 = blk * PP_EXACT_BLOCK,
                   r1 = r0 + PP_EXACT_BLOCK < m ? r0 + PP_EXACT_BLOCK : m;
            double tg = omp_get_wtime();
            pp_data_gather(x, ids, ws, r0, r1);
            td += omp_get_wtime() - tg;
            pp_net_forward(a, params, ws, r0, r1);
            cost_t[t] += pp_net_backward(a, params, ws, r0, r1);
            for (int l = 1; l <= L; l++) {
                double md = pp_absmax(ws->delta[l] + r0 * a->n[l], (r1 - r0) * a->n[l]);
                double ma = pp_absmax(ws->act[l - 1] + r0 * a->n[l - 1], (r1 - r0) * a->n[l - 1]);
                if (!(md <= tmax[t][l - 1])) tmax[t][l - 1] = md;
                if (!(ma <= tmax[t][L + l - 1])) tmax[t][L + l - 1] = ma;
            }
        }
        if (t == 0) {
            t_data = td;
            t_comp = omp_get_wtime() - t0 - td;
        }
    }
    double cost = 0;
    for (int i = 0; i < 2 * L; i++) ex->maxes[i] = 0;
    for (int t = 0; t < T; t++) {
        cost += cost_t[t];
        for (int i = 0; i < 2 * L; i++)
            if (!(tmax[t][i] <= ex->maxes[i])) ex->maxes[i] = tmax[t][i];
    }
    if (times) {
        times->data += t_data;
        times->compute += t_comp;
    }
    return cost;
}

/* Fixed point ↔ double for |v| < 2^51 with the 1.5·2^52 trick: adding it leaves the integer,
 * rounded to nearest even, in the low mantissa bits. Plain integer and float adds, so the
 * compiler vectorises them (SSE2 has no double ↔ int64 conversion), and the same value gives
 * the same integer anywhere, which is all exactness needs. */
#define PP_MAGIC 0x1.8p52
#define PP_MAGIC_BITS 0x4338000000000000LL

static inline int64_t to_fixed(double v)
{
    double t = v + PP_MAGIC;
    int64_t bits;
    memcpy(&bits, &t, sizeof bits);
    return bits - PP_MAGIC_BITS;
}

static inline double from_fixed1(int64_t q)
{
    int64_t bits = q + PP_MAGIC_BITS;
    double t;
    memcpy(&t, &bits, sizeof t);
    return t - PP_MAGIC;
}

/* The shift s with bound · 2^s < 2^50: every block partial and every sum of them stays below
 * 2^51, the range of the conversions above (a float block partial may exceed the exact bound by
 * its rounding; one bit of headroom covers that). */
/* acc += fixed(part · scale), elementwise: vectorised in the AVX-512 clone, same bits */
PP_CLONES static void add_fixed(int64_t *acc, const pp_real *part, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++) acc[i] += to_fixed((double)part[i] * scale);
}

/* A tile of pp_exact_accumulate's sums: about half of a core's L2 on current x86. */
#define EXACT_TILE_BYTES ((size_t)768 << 10)

static int shift_for(double bound)
{
    if (bound == 0) return 0;
    int e;
    frexp(bound, &e); /* bound < 2^e */
    return 50 - e;
}

/* acc · 2^−shift: exact, like ldexp (a library call per element), while 2^−shift is normal. */
PP_CLONES static void from_fixed(const int64_t *acc, size_t n, int shift, pp_real *out)
{
    if (shift > 1000 || shift < -1000) {
        for (size_t i = 0; i < n; i++) out[i] = (pp_real)ldexp((double)acc[i], -shift);
        return;
    }
    const double scale = ldexp(1.0, -shift);
    for (size_t i = 0; i < n; i++) out[i] = (pp_real)(from_fixed1(acc[i]) * scale);
}

pp_status pp_exact_accumulate(pp_exact *ex, const pp_arch *a, const pp_workspace *ws, size_t m,
                              size_t n, pp_real *gsum)
{
    const int L = a->L;
    for (int l = 1; l <= L; l++) {
        double md = ex->maxes[l - 1], ma = ex->maxes[L + l - 1];
        if (!isfinite(md) || !isfinite(ma))
            return pp_error(PP_ERR_DIVERGED,
                            "layer %d: the %s is not finite (exact mode checks every step)", l,
                            !isfinite(md) ? "error δ" : "input activation");
        /* |Σₓ δⱼ aₖ| ≤ n·max|δ|·max|a| and |Σₓ δⱼ| ≤ n·max|δ| */
        double wb = (double)n * md * ma, bb = (double)n * md;
        if (!isfinite(wb))
            return pp_error(PP_ERR_DIVERGED,
                            "layer %d: gradient bound %g·%g·%zu exceeds the range of exact mode", l,
                            md, ma, n);
        ex->wshift[l] = shift_for(wb);
        ex->bshift[l] = shift_for(bb);
    }
    const size_t P = a->nparams, nblk = (m + PP_EXACT_BLOCK - 1) / PP_EXACT_BLOCK;
    /* Every layer's units are cut into tiles whose size depends on the layer alone, never on the
     * threads or ranks, so each (tile, block) product has one shape wherever it is computed and
     * the same bits on any engine that is deterministic for a shape: oneDNN, the CBLAS or
     * paraprop's kernels, the fastest for it (gemm.h). A tile's float partial and int64 sums
     * (12 bytes a weight) fit in EXACT_TILE_BYTES, so over all blocks they stay in cache instead
     * of streaming the whole layer's accumulator through memory once per block (W3: 70 MB).
     * Each thread owns whole tiles; below ~4 MFLOP a second thread costs more than it saves (as
     * in batch.c). */
    const int Ts = (double)m * (double)P >= 7e5 ? ex->threads : 1;
#pragma omp parallel num_threads(Ts) if (Ts > 1)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        for (int l = 1; l <= L; l++) {
            const size_t nin = a->n[l - 1], nu = a->n[l];
            const double ws_ = ldexp(1.0, ex->wshift[l]), bs = ldexp(1.0, ex->bshift[l]);
            /* tiles of 32-63 units (products the large-product engine takes, and enough tiles
             * for the threads to share), fewer units where that would exceed EXACT_TILE_BYTES */
            size_t ntiles = (nu * nin * 12 + EXACT_TILE_BYTES - 1) / EXACT_TILE_BYTES;
            if (ntiles < nu / 32) ntiles = nu / 32; /* ≥ 1 already: nu, nin ≥ 1 */
            for (size_t k = ntiles * (size_t)t / (size_t)nt;
                 k < ntiles * (size_t)(t + 1) / (size_t)nt; k++) {
                const size_t j0 = nu * k / ntiles, j1 = nu * (k + 1) / ntiles;
                const size_t wo = a->w_off[l] + j0 * nin, nw = (j1 - j0) * nin;
                const size_t bo = a->b_off[l] + j0, nb = j1 - j0;
                memset(ex->acc + wo, 0, nw * sizeof *ex->acc);
                memset(ex->acc + bo, 0, nb * sizeof *ex->acc);
                for (size_t blk = 0; blk < nblk; blk++) {
                    size_t r0 = blk * PP_EXACT_BLOCK,
                           r1 = r0 + PP_EXACT_BLOCK < m ? r0 + PP_EXACT_BLOCK : m;
                    pp_net_grad_block(a, ws, l, r0, r1, j0, j1, 0, nin, ex->part);
                    add_fixed(ex->acc + wo, ex->part + wo, nw, ws_);
                    add_fixed(ex->acc + bo, ex->part + bo, nb, bs);
                }
                if (gsum) { /* the tile's sums are final: to floats while they are in cache */
                    from_fixed(ex->acc + wo, nw, ex->wshift[l], gsum + wo);
                    from_fixed(ex->acc + bo, nb, ex->bshift[l], gsum + bo);
                }
            }
        }
    }
    return pp_ok();
}

void pp_exact_finish(const pp_exact *ex, const pp_arch *a, pp_real *gsum)
{
    /* elementwise, in chunks over the threads: the same bits for any split */
    enum { CHUNK = 1 << 16 };
    const int T = a->nparams >= 2 * CHUNK ? ex->threads : 1;
    for (int l = 1; l <= a->L; l++) {
        const size_t wo = a->w_off[l], nw = a->n[l] * a->n[l - 1];
#pragma omp parallel for schedule(static) num_threads(T) if (T > 1)
        for (size_t c = 0; c < nw; c += CHUNK)
            from_fixed(ex->acc + wo + c, nw - c < CHUNK ? nw - c : CHUNK, ex->wshift[l],
                       gsum + wo + c);
        from_fixed(ex->acc + a->b_off[l], a->n[l], ex->bshift[l], gsum + a->b_off[l]);
    }
}
