/* Exact-mode gradient: fixed sample blocks, fixed-point integer sums (see exact.h). */
#include "paraprop/exact.h"

#include <math.h>
#include <stdint.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "clones.h"
#include "gemm.h"
#include "net_internal.h"
#include "paraprop/optim.h"

/* A tile of pp_exact_accumulate's sums: about half of a core's L2 on current x86. */
#define EXACT_TILE_BYTES ((size_t)768 << 10)

/* Layer units are cut into this many tiles: 32-63 units (products the large-product engine
 * takes, and enough tiles for the threads to share), fewer units where that would exceed
 * EXACT_TILE_BYTES. A function of the layer alone, never of the threads or ranks. */
static size_t layer_tiles(size_t nu, size_t nin)
{
    size_t ntiles = (nu * nin * 12 + EXACT_TILE_BYTES - 1) / EXACT_TILE_BYTES;
    if (ntiles < nu / 32) ntiles = nu / 32;
    return ntiles ? ntiles : 1;
}

/* Exact mode's products with one operand packed once and used many times (gemm.h's pp_mm_plan),
 * where oneDNN runs them, on layers of at least EXACT_PLAN_WEIGHTS weights: the forward pass as
 * Zᵀ = W·Aᵀ (each block's A packed), the backward pass over W packed once per step, and each
 * full block's Aˡ⁻¹ packed once for the ∇W of every tile of units. Which products have plans
 * depends on the layer and the CPU alone, so a product's shape and engine, and its bits, are
 * the same for every ranks × threads split. */
struct pp_exact_work {
    pp_net_plans net;                     /* forward and backward, rows = PP_EXACT_BLOCK */
    pp_mm_plan *gw[PP_MAX_LAYERS + 1][2]; /* ∇W tiles of mj[l][0] and mj[l][1] units */
    size_t mj[PP_MAX_LAYERS + 1][2];
    size_t act_bytes[PP_MAX_LAYERS + 1]; /* one block's packed Aˡ⁻¹ (0: no plans) */
    unsigned char *act;                  /* the blocks' packed Aˡ⁻¹, layer by layer */
    size_t act_off[PP_MAX_LAYERS + 1];   /* layer l's first block in act, per block count */
    pp_real *dt;                      /* the blocks' (Δˡ)ᵀ (nₗ × B each), layer by layer */
    size_t dt_off[PP_MAX_LAYERS + 1]; /* layer l's first block in dt */
    size_t act_blocks;                /* blocks act has room for */
    unsigned char *abuf;              /* per thread: a block's packed (Aˡ⁻¹)ᵀ */
    size_t abuf_len;                  /* bytes per thread, a multiple of 64 */
    pp_real *zt;                      /* per thread: a block's (Zˡ)ᵀ */
    size_t zt_len;                    /* floats per thread, a multiple of 16 */
    pp_real *tile;                    /* per thread: one tile's ∇W and ∇b partial */
    size_t tile_len;                  /* floats per thread, a multiple of 16 */
    int64_t *tacc;                    /* per thread: one tile's sums, when one rank needs no
                                         whole-size sums (tile_len each) */
    unsigned char *scratch;           /* per thread: the plans' scratchpad */
    size_t scratch_len;               /* bytes per thread, a multiple of 64 */
    int failed;                       /* a planned product failed this step */
};

static size_t up64(size_t b)
{
    return (b + 63) / 64 * 64;
}

static void work_free(struct pp_exact_work *w, int L)
{
    if (!w) return;
    for (int l = 1; l <= L; l++) {
        pp_mm_plan_free(w->net.fwd[l]);
        pp_mm_plan_free(w->net.bwd[l]);
        free(w->net.bwd_packed[l]);
        pp_mm_plan_free(w->gw[l][0]);
        pp_mm_plan_free(w->gw[l][1]);
    }
    free(w->act);
    free(w->dt);
    free(w->abuf);
    free(w->zt);
    free(w->tile);
    free(w->tacc);
    free(w->scratch);
    free(w);
}

static int same_layout(const pp_mm_plan *x, const pp_mm_plan *y)
{
    return pp_mm_plan_packed_bytes(x) == pp_mm_plan_packed_bytes(y) && pp_mm_plan_same_b(x, y);
}

/* Layers with at least this many weights get plans. Below it, oneDNN's sgemm packs the
 * operands of a 64-row product about as fast as a plan's per-call set-up and the per-block
 * packing and transposes cost (W2, 784-256-256-10: no faster with plans at one thread, 7-14 %
 * slower at two); above it, the per-call repacking of a 4 MB W or of a block's activations for
 * every tile dominates (W3: 10-30 % faster with plans). */
#define EXACT_PLAN_WEIGHTS ((size_t)1 << 20)

static struct pp_exact_work *work_new(const pp_arch *a, int threads)
{
    struct pp_exact_work *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    const int B = PP_EXACT_BLOCK;
    size_t scratch = 0, tile = 0, abuf = 0, zt = 0;
    int ok = 1;
    w->net.rows = (size_t)B;
    for (int l = 1; l <= a->L && ok; l++) {
        const int nin = (int)a->n[l - 1], nu = (int)a->n[l];
        const int big = a->n[l - 1] * a->n[l] >= EXACT_PLAN_WEIGHTS;
        /* forward: Zᵀ (nu×B) = W (nu×nin, row-major) · Aᵀ (A: B×nin, row-major) */
        pp_mm_plan *f = big ? pp_mm_plan_create(nu, B, nin, nin, 1, 1, nin, B) : NULL;
        if (f) {
            w->net.fwd[l] = f;
            if (pp_mm_plan_packed_bytes(f) > abuf) abuf = pp_mm_plan_packed_bytes(f);
            if ((size_t)nu * B > zt) zt = (size_t)nu * B;
            if (pp_mm_plan_scratch_bytes(f) > scratch) scratch = pp_mm_plan_scratch_bytes(f);
        }
        /* backward: Δˡ⁻¹ (B×nin) = Δˡ (B×nu) · W (nu×nin), W packed once per step */
        pp_mm_plan *b = big && l >= 2 ? pp_mm_plan_create(B, nin, nu, nu, 1, nin, 1, nin) : NULL;
        if (b) {
            w->net.bwd[l] = b;
            w->net.bwd_packed[l] = aligned_alloc(64, up64(pp_mm_plan_packed_bytes(b)));
            ok = w->net.bwd_packed[l] != NULL;
            if (pp_mm_plan_scratch_bytes(b) > scratch) scratch = pp_mm_plan_scratch_bytes(b);
        }
        /* ∇W tile: (mj×nin) = Δᵀ (mj×B, rows of the block's transposed Δ) · A (B×nin); both
         * tile sizes must take one packed layout of A, else the layer keeps the unpacked
         * products. (Δᵀ is transposed once per block: oneDNN's fast matmul wants a row-major
         * left operand.) */
        const size_t nt = layer_tiles((size_t)nu, (size_t)nin);
        const size_t lo = (size_t)nu / nt, hi = ((size_t)nu + nt - 1) / nt;
        w->mj[l][0] = lo;
        w->mj[l][1] = hi;
        if (tile < hi * (size_t)nin + hi) tile = hi * (size_t)nin + hi;
        pp_mm_plan *g0 = big ? pp_mm_plan_create((int)lo, nin, B, B, 1, nin, 1, nin) : NULL;
        pp_mm_plan *g1 =
            !big || hi == lo ? NULL : pp_mm_plan_create((int)hi, nin, B, B, 1, nin, 1, nin);
        if (g0 && (hi == lo || (g1 && same_layout(g0, g1)))) {
            w->gw[l][0] = g0;
            w->gw[l][1] = g1;
            w->act_bytes[l] = up64(pp_mm_plan_packed_bytes(g0));
            for (int i = 0; i < 2; i++)
                if (w->gw[l][i] && pp_mm_plan_scratch_bytes(w->gw[l][i]) > scratch)
                    scratch = pp_mm_plan_scratch_bytes(w->gw[l][i]);
        } else {
            pp_mm_plan_free(g0);
            pp_mm_plan_free(g1);
        }
    }
    w->tile_len = (tile + 15) / 16 * 16;
    w->scratch_len = up64(scratch);
    w->tile = ok ? aligned_alloc(64, (size_t)threads * w->tile_len * sizeof *w->tile) : NULL;
    w->tacc = ok ? aligned_alloc(64, (size_t)threads * w->tile_len * sizeof *w->tacc) : NULL;
    w->scratch = ok && w->scratch_len ? aligned_alloc(64, (size_t)threads * w->scratch_len) : NULL;
    w->abuf_len = up64(abuf);
    w->zt_len = (zt + 15) / 16 * 16;
    w->abuf = ok && abuf ? aligned_alloc(64, (size_t)threads * w->abuf_len) : NULL;
    w->zt = ok && zt ? aligned_alloc(64, (size_t)threads * w->zt_len * sizeof *w->zt) : NULL;
    if (!ok || !w->tile || !w->tacc || (w->scratch_len && !w->scratch) || (abuf && !w->abuf) ||
        (zt && !w->zt)) {
        work_free(w, a->L);
        return NULL;
    }
    return w;
}

/* room for the packed Aˡ⁻¹ of nblk full blocks (grown once, on the first larger step) */
static int work_act_room(struct pp_exact_work *w, const pp_arch *a, size_t nblk)
{
    if (nblk <= w->act_blocks) return 1;
    size_t total = 0, dtotal = 0;
    for (int l = 1; l <= a->L; l++) {
        w->act_off[l] = total;
        w->dt_off[l] = dtotal;
        total += nblk * w->act_bytes[l];
        if (w->act_bytes[l]) dtotal += nblk * a->n[l] * PP_EXACT_BLOCK;
    }
    if (total == 0) {
        w->act_blocks = nblk;
        return 1;
    }
    unsigned char *p = aligned_alloc(64, total);
    pp_real *d = aligned_alloc(64, up64(dtotal * sizeof *d));
    if (!p || !d) {
        free(p);
        free(d);
        return 0;
    }
    free(w->act);
    free(w->dt);
    w->act = p;
    w->dt = d;
    w->act_blocks = nblk;
    return 1;
}

pp_status pp_exact_init(pp_exact *ex, const pp_arch *a, int threads)
{
    memset(ex, 0, sizeof *ex);
    if (threads < 1) threads = 1;
    ex->threads = threads;
    ex->nparams = a->nparams;
    ex->nmax = 2 * a->L;
    ex->L = a->L;
    /* One accumulator for all threads: each thread owns whole tiles of units
     * (pp_exact_accumulate), and its block partials live in a tile-sized buffer of its own (W3
     * at 2 threads: 70 MB less than per-thread copies, 23 MB less than one whole partial). */
    ex->work = work_new(a, threads);
    ex->acc = malloc(a->nparams * sizeof *ex->acc);
    if (!ex->work || !ex->acc) {
        pp_exact_free(ex);
        return pp_error(PP_ERR_NOMEM, "exact mode: cannot allocate %zu partial sums", a->nparams);
    }
    return pp_ok();
}

int pp_exact_planned(const pp_exact *ex)
{
    const struct pp_exact_work *w = ex->work;
    int n = 0;
    for (int l = 1; w && l <= ex->L; l++)
        n += (w->net.fwd[l] != NULL) + (w->net.bwd[l] != NULL) + (w->act_bytes[l] != 0);
    return n;
}

void pp_exact_free(pp_exact *ex)
{
    if (!ex) return;
    work_free(ex->work, ex->L);
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
    return pp_exact_forward_backward_rows(ex, a, params, x, ids, 0, m, ws, times);
}

double pp_exact_forward_backward_rows(pp_exact *ex, const pp_arch *a, const pp_real *params,
                                      const pp_data *x, const uint32_t *ids, size_t row0,
                                      size_t row1, pp_workspace *ws, pp_batch_times *times)
{
    const size_t m = row1 > row0 ? row1 - row0 : 0;
    const size_t nblk = (m + PP_EXACT_BLOCK - 1) / PP_EXACT_BLOCK;
    const int L = a->L;
    double cost_t[256] = {0};
    double tmax[256][2 * PP_MAX_LAYERS];
    int T = ex->threads < 256 ? ex->threads : 256;
    if ((size_t)T > nblk) T = nblk ? (int)nblk : 1;
    double t_data = 0, t_comp = 0;
    struct pp_exact_work *w = ex->work;
    w->failed = 0;
#pragma omp parallel num_threads(T) if (T > 1)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        for (int i = 0; i < 2 * L; i++) tmax[t][i] = 0;
        double td = 0, t0 = omp_get_wtime();
        const pp_net_plan_buf buf = {w->scratch ? w->scratch + (size_t)t * w->scratch_len : NULL,
                                     w->abuf ? w->abuf + (size_t)t * w->abuf_len : NULL,
                                     w->zt ? w->zt + (size_t)t * w->zt_len : NULL};
        int bad = 0;
        /* this step's Wˡ for the backward pass, packed once for all full blocks */
#pragma omp for schedule(dynamic)
        for (int l = 2; l <= L; l++)
            if (w->net.bwd[l])
                bad |= pp_mm_plan_pack(w->net.bwd[l], params + a->w_off[l], w->net.bwd_packed[l],
                                       buf.scratch);
        for (size_t blk = nblk * (size_t)t / (size_t)nt; blk < nblk * (size_t)(t + 1) / (size_t)nt;
             blk++) {
            size_t r0 = row0 + blk * PP_EXACT_BLOCK,
                   r1 = r0 + PP_EXACT_BLOCK < row1 ? r0 + PP_EXACT_BLOCK : row1;
            double tg = omp_get_wtime();
            pp_data_gather(x, ids, ws, r0, r1);
            td += omp_get_wtime() - tg;
            pp_net_forward_planned(a, params, ws, r0, r1, &w->net, &buf, &bad);
            cost_t[t] += pp_net_backward_planned(a, params, ws, r0, r1, &w->net, &buf, &bad);
            for (int l = 1; l <= L; l++) {
                double md = pp_absmax(ws->delta[l] + r0 * a->n[l], (r1 - r0) * a->n[l]);
                double ma = pp_absmax(ws->act[l - 1] + r0 * a->n[l - 1], (r1 - r0) * a->n[l - 1]);
                if (!(md <= tmax[t][l - 1])) tmax[t][l - 1] = md;
                if (!(ma <= tmax[t][L + l - 1])) tmax[t][L + l - 1] = ma;
            }
        }
        if (bad) {
#pragma omp atomic write
            w->failed = 1;
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
/* acc += fixed(part · scale), elementwise (acc = … for the first block: 0 + x is x in
 * integers, and no pass to clear acc): vectorised in the AVX-512 clone, same bits */
PP_CLONES static void add_fixed(int64_t *acc, const pp_real *part, size_t n, double scale,
                                int first)
{
    if (first)
        for (size_t i = 0; i < n; i++) acc[i] = to_fixed((double)part[i] * scale);
    else
        for (size_t i = 0; i < n; i++) acc[i] += to_fixed((double)part[i] * scale);
}

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
    return pp_exact_accumulate_part(ex, a, ws, m, n, gsum, 0, 1);
}

pp_status pp_exact_accumulate_part(pp_exact *ex, const pp_arch *a, const pp_workspace *ws, size_t m,
                                   size_t n, pp_real *gsum, int part, int parts)
{
    if (parts < 1 || part < 0 || part >= parts || (parts > 1 && !gsum))
        return pp_error(PP_ERR_RUNTIME, "exact mode: part %d of %d (with%s a gradient)", part,
                        parts, gsum ? "" : "out");
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
    struct pp_exact_work *w = ex->work;
    if (w->failed)
        return pp_error(PP_ERR_RUNTIME, "exact mode: a oneDNN product of the forward pass failed");
    const size_t P = a->nparams, nblk = (m + PP_EXACT_BLOCK - 1) / PP_EXACT_BLOCK,
                 nfull = m / PP_EXACT_BLOCK;
    if (!work_act_room(w, a, nfull))
        return pp_error(PP_ERR_NOMEM, "exact mode: no memory to pack %zu blocks of activations",
                        nfull);
    /* Every layer's units are cut into tiles whose size depends on the layer alone, never on the
     * threads or ranks, so each (tile, block) product has one shape wherever it is computed and
     * the same bits on any engine that is deterministic for a shape: oneDNN, the CBLAS or
     * paraprop's kernels, the fastest for it (gemm.h). A tile's float partial and int64 sums
     * (12 bytes a weight) fit in EXACT_TILE_BYTES, so over all blocks they stay in cache instead
     * of streaming the whole layer's accumulator through memory once per block (W3: 70 MB).
     * Each thread owns whole tiles; below ~4 MFLOP a second thread costs more than it saves (as
     * in batch.c). */
    const int Ts = (double)m * (double)P >= 7e5 ? ex->threads : 1;
    int failed = 0;
#pragma omp parallel num_threads(Ts) if (Ts > 1) reduction(| : failed)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        void *scratch = w->scratch ? w->scratch + (size_t)t * w->scratch_len : NULL;
        pp_real *tpart = w->tile + (size_t)t * w->tile_len;
        /* with gsum, a tile's sums are needed only until they are floats: a tile-sized
         * accumulator that stays in cache, not the whole-size one in memory (W3: 46 MB written
         * and read back every step) */
        int64_t *tacc = w->tacc + (size_t)t * w->tile_len;
        /* each full block's Aˡ⁻¹ packed, and its Δˡ transposed, once for all the layer's
         * tiles */
#pragma omp for schedule(dynamic) collapse(2)
        for (int l = 1; l <= L; l++)
            for (size_t blk = 0; blk < nfull; blk++)
                if (w->act_bytes[l]) {
                    failed |= pp_mm_plan_pack(
                        w->gw[l][0], ws->act[l - 1] + blk * PP_EXACT_BLOCK * a->n[l - 1],
                        w->act + w->act_off[l] + blk * w->act_bytes[l], scratch);
                    pp_transpose(ws->delta[l] + blk * PP_EXACT_BLOCK * a->n[l], PP_EXACT_BLOCK,
                                 a->n[l], w->dt + w->dt_off[l] + blk * PP_EXACT_BLOCK * a->n[l]);
                }
        for (int l = 1; l <= L; l++) {
            const size_t nin = a->n[l - 1], nu = a->n[l];
            const double ws_ = ldexp(1.0, ex->wshift[l]), bs = ldexp(1.0, ex->bshift[l]);
            const size_t ntiles = layer_tiles(nu, nin);
            /* this part's tiles of the layer, and this thread's share of them */
            const size_t k0 = ntiles * (size_t)part / (size_t)parts,
                         k1 = ntiles * (size_t)(part + 1) / (size_t)parts;
            for (size_t k = k0 + (k1 - k0) * (size_t)t / (size_t)nt;
                 k < k0 + (k1 - k0) * (size_t)(t + 1) / (size_t)nt; k++) {
                const size_t j0 = nu * k / ntiles, j1 = nu * (k + 1) / ntiles, mj = j1 - j0;
                const size_t wo = a->w_off[l] + j0 * nin, nw = mj * nin;
                const size_t bo = a->b_off[l] + j0;
                int64_t *aw = gsum ? tacc : ex->acc + wo, *ab = gsum ? tacc + nw : ex->acc + bo;
                const pp_mm_plan *plan = !w->act_bytes[l]    ? NULL
                                         : mj == w->mj[l][0] ? w->gw[l][0]
                                                             : w->gw[l][1];
                if (nblk == 0) { /* no rows here: zero sums */
                    memset(aw, 0, nw * sizeof *aw);
                    memset(ab, 0, mj * sizeof *ab);
                }
                for (size_t blk = 0; blk < nblk; blk++) {
                    size_t r0 = blk * PP_EXACT_BLOCK,
                           r1 = r0 + PP_EXACT_BLOCK < m ? r0 + PP_EXACT_BLOCK : m;
                    const pp_real *d = ws->delta[l] + r0 * nu + j0; /* Δᵀ: (mj, rows) */
                    /* BP4: ∇Wˡ = (Δˡ)ᵀ Aˡ⁻¹ over the block's rows, the tile's units */
                    if (plan && blk < nfull)
                        failed |= pp_mm_plan_run(
                            plan, w->dt + w->dt_off[l] + (blk * nu + j0) * PP_EXACT_BLOCK,
                            w->act + w->act_off[l] + blk * w->act_bytes[l], tpart, scratch);
                    else
                        pp_mm_nn((int)mj, (int)nin, (int)(r1 - r0), d, 1, (int)nu,
                                 ws->act[l - 1] + r0 * nin, (int)nin, tpart, (int)nin);
                    /* BP3: ∇bˡ = column sums of Δˡ, rows in order */
                    pp_real *gb = tpart + nw;
                    for (size_t j = 0; j < mj; j++) gb[j] = 0;
                    for (size_t i = r0; i < r1; i++) {
                        const pp_real *dr = ws->delta[l] + i * nu + j0;
                        for (size_t j = 0; j < mj; j++) gb[j] += dr[j];
                    }
                    add_fixed(aw, tpart, nw, ws_, blk == 0);
                    add_fixed(ab, gb, mj, bs, blk == 0);
                }
                if (gsum) { /* the tile's sums are final: to floats while they are in cache */
                    from_fixed(aw, nw, ex->wshift[l], gsum + wo);
                    from_fixed(ab, mj, ex->bshift[l], gsum + bo);
                }
            }
        }
    }
    if (failed) return pp_error(PP_ERR_RUNTIME, "exact mode: a oneDNN product of ∇W failed");
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
