/* The matrix products of backpropagation on the fastest engine for their shape (see gemm.h):
 * paraprop's AVX-512 kernels, oneDNN (when built with it) or the CBLAS. */
#include "gemm.h"

#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clones.h"
#include "gemm_avx512.h"
#include "paraprop/net.h"
#include "linalg.h"

/* oneDNN's sgemm is single precision only */
#if defined(PP_WITH_ONEDNN) && !PP_DOUBLE
#define PP_HAVE_ONEDNN 1
#include <dnnl.h>
#else
#define PP_HAVE_ONEDNN 0
#endif

enum { ENG_NONE, ENG_BLAS, ENG_OWN, ENG_ONEDNN };

/* Decided once (the CPU and the BLAS do not change under a running program). */
typedef struct {
    int forced; /* PARAPROP_KERNELS=own|blas|onednn: that engine for every product */
    int own;    /* paraprop's kernels can run here */
    int large;  /* the engine of the products whose sides are all ≥ PP_MM_LARGE */
    int small;  /* and of the others */
} policy;

/* the policy packed into one int (4 bits a field, bit 16 = decided), so that threads that
 * decide at the same time store the same value without a data race */
static atomic_int packed;
/* > 0 while pinned (pp_mm_pin, the unit tests of the own kernels): one engine for every shape */
static atomic_int pinned;

/* Products with every side at least PP_MM_LARGE long, or at least PP_MM_LARGE_MNK multiply-adds
 * (W3's output layer: 256×2048×10), go to the large-product engine. The others (W1, W2's output
 * layer, the main job's batch of 10) stay on paraprop's kernels: W1 trains as fast on them as
 * on the CBLAS although OpenBLAS and libxsmm win some of its products alone, and the main job's
 * bits stay what they were (docs/PERFORMANCE.md, "Engines per shape"). */
#define PP_MM_LARGE 32
#define PP_MM_LARGE_MNK (4.0 * 1024 * 1024)

static policy decide(void)
{
    int v = atomic_load_explicit(&packed, memory_order_relaxed);
    if (v) return (policy){v & 15, (v >> 4) & 15, (v >> 8) & 15, (v >> 12) & 15};
    policy p = {ENG_NONE, 0, ENG_BLAS, ENG_BLAS};
#if PP_HAVE_AVX512_KERNELS
    __builtin_cpu_init();
    p.own = __builtin_cpu_supports("avx512f") != 0; /* a mask, not 1 */
#endif
    const char *env = getenv("PARAPROP_KERNELS");
    if (env && strcmp(env, "blas") == 0) p.forced = ENG_BLAS;
    if (env && (strcmp(env, "own") == 0 || strcmp(env, "avx512") == 0) && p.own) p.forced = ENG_OWN;
#if PP_HAVE_ONEDNN
    if (env && strcmp(env, "onednn") == 0) p.forced = ENG_ONEDNN;
    /* oneDNN chooses its kernels by CPU features, so it is at its best on any CPU */
    p.large = ENG_ONEDNN;
#else
    /* the CBLAS only where it runs the widest vectors the CPU has (OpenBLAS on a model it
     * does not know runs SSE3 kernels at a sixth of the speed; the program corrects that at
     * start-up, a library user may not) */
    if (p.own && pp_linalg_blas_at_best() != 1) p.large = ENG_OWN;
#endif
    p.small = p.own ? ENG_OWN : ENG_BLAS;
    v = 1 << 16 | p.forced | p.own << 4 | p.large << 8 | p.small << 12;
    atomic_store_explicit(&packed, v, memory_order_relaxed);
    return p;
}

/* one engine for all products: what exact mode and PARAPROP_KERNELS use */
static int pinned_engine(void)
{
    const policy pol = decide();
    if (pol.forced) return pol.forced;
    return pol.own ? ENG_OWN : ENG_BLAS;
}

static int engine(int M, int N, int K)
{
    const policy pol = decide();
    if (pol.forced) return pol.forced;
    if (atomic_load_explicit(&pinned, memory_order_relaxed) > 0) return pinned_engine();
    const int large = (M >= PP_MM_LARGE && N >= PP_MM_LARGE && K >= PP_MM_LARGE) ||
                      (double)M * N * K >= PP_MM_LARGE_MNK;
    return large ? pol.large : pol.small;
}

void pp_mm_pin(int delta)
{
    atomic_fetch_add_explicit(&pinned, delta, memory_order_relaxed);
}

static const char *engine_name(int e)
{
    switch (e) {
    case ENG_OWN:
        return "own AVX-512";
    case ENG_ONEDNN: {
#if PP_HAVE_ONEDNN
        static char name[48];
        if (!name[0]) {
            /* the f32 GEMM kernels come in these widths (the effective ISA may name more) */
            const unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
            const char *k = (isa & 0x27u) == 0x27u ? "avx512_core"
                            : (isa & 0x7u) == 0x7u ? "avx2"
                            : (isa & 0x3u) == 0x3u ? "avx"
                                                   : "sse41";
            const dnnl_version_t *v = dnnl_version();
            snprintf(name, sizeof name, "oneDNN %d.%d.%d %s", v->major, v->minor, v->patch, k);
        }
        return name;
#else
        return "oneDNN";
#endif
    }
    default:
        return pp_linalg_name();
    }
}

const char *pp_mm_kernels(void)
{
    switch (pinned_engine()) {
    case ENG_OWN:
        return "avx512";
    case ENG_ONEDNN:
        return "onednn";
    default:
        return "blas";
    }
}

const char *pp_net_kernels(void)
{
    static char desc[256];
    const policy pol = decide();
    const int pin = pol.forced || atomic_load_explicit(&pinned, memory_order_relaxed) > 0;
    char buf[256];
    if (pin || pol.large == pol.small)
        snprintf(buf, sizeof buf, "%s: %s",
                 pol.forced ? "forced"
                 : pin      ? "exact"
                            : "auto",
                 engine_name(pin ? pinned_engine() : pol.large));
    else
        snprintf(buf, sizeof buf, "auto: %s for M,N,K >= %d or MNK >= 2^22, %s below",
                 engine_name(pol.large), PP_MM_LARGE, engine_name(pol.small));
    if (!pin && pol.large != ENG_BLAS && pol.small != ENG_BLAS) {
        size_t n = strlen(buf);
        snprintf(buf + n, sizeof buf - n, " (BLAS %s)", pp_linalg_name());
    }
    memcpy(desc, buf, sizeof desc);
    return desc;
}

#if PP_HAVE_ONEDNN
/* oneDNN threads with OpenMP; paraprop splits the work over its own threads, so each call runs
 * on the calling thread alone. The thread-count setting belongs to the calling task, so
 * changing and restoring it does not touch other threads. Returns 0 on success. */
static int onednn(char ta, char tb, int M, int N, int K, const float *A, int lda, const float *B,
                  int ldb, float *C, int ldc)
{
    const int saved = omp_get_max_threads();
    if (saved != 1) omp_set_num_threads(1);
    dnnl_status_t st = dnnl_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
    if (saved != 1) omp_set_num_threads(saved);
    return st != dnnl_success;
}
#endif

void pp_mm_nt(int M, int N, int K, const pp_real *A, int lda, const pp_real *B, int ldb, pp_real *C,
              int ldc)
{
    if (M <= 0 || N <= 0) return;
    const int e = engine(M, N, K);
#if PP_HAVE_AVX512_KERNELS
    if (e == ENG_OWN) {
        pp_mm_nt_avx512(M, N, K, A, lda, B, ldb, C, ldc);
        return;
    }
#endif
#if PP_HAVE_ONEDNN
    if (e == ENG_ONEDNN && onednn('N', 'T', M, N, K, A, lda, B, ldb, C, ldc) == 0) return;
#endif
    (void)e;
    pp_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, A, lda, B, ldb, 0, C, ldc);
}

/* 16 partial sums in fixed lanes, added pairwise at the end: one order of additions for every
 * element, so the same bits at any vector width (clones.h; -ffp-contract=off keeps a*b+c
 * unfused) */
PP_CLONES static pp_real dot_fixed(const pp_real *x, const pp_real *y, int K)
{
    pp_real acc[16] = {0};
    int k = 0;
    for (; k + 16 <= K; k += 16)
        for (int t = 0; t < 16; t++) acc[t] += x[k + t] * y[k + t];
    for (int t = 0; k + t < K; t++) acc[t] += x[k + t] * y[k + t];
    for (int w = 8; w > 0; w /= 2)
        for (int t = 0; t < w; t++) acc[t] += acc[t + w];
    return acc[0];
}

#if PP_HAVE_AVX512_KERNELS
static int rows_own(void)
{
    const policy pol = decide();
    return pol.own && (!pol.forced || pol.forced == ENG_OWN);
}
#endif

void pp_mm_nt_rows(int M, int N, int K, const pp_real *A, int lda, const pp_real *B, int ldb,
                   pp_real *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
#if PP_HAVE_AVX512_KERNELS
    if (rows_own()) {
        pp_mm_nt_avx512(M, N, K, A, lda, B, ldb, C, ldc);
        return;
    }
#endif
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            C[(size_t)i * ldc + j] = dot_fixed(A + (size_t)i * lda, B + (size_t)j * ldb, K);
}

const char *pp_mm_rows_engine(void)
{
#if PP_HAVE_AVX512_KERNELS
    if (rows_own()) return "own AVX-512";
#endif
    return "portable";
}

void pp_mm_nn(int M, int N, int K, const pp_real *A, int rsa, int csa, const pp_real *B, int ldb,
              pp_real *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    const int e = engine(M, N, K);
#if PP_HAVE_AVX512_KERNELS
    if (e == ENG_OWN) {
        pp_mm_nn_avx512(M, N, K, A, rsa, csa, B, ldb, C, ldc);
        return;
    }
#endif
    /* the CBLAS and oneDNN take A as a row-major matrix (leading dimension ≥ K) or its
     * transpose */
    const int plain = csa == 1 && rsa >= (K > 1 ? K : 1);
#if PP_HAVE_ONEDNN
    if (e == ENG_ONEDNN &&
        onednn(plain ? 'N' : 'T', 'N', M, N, K, A, plain ? rsa : csa, B, ldb, C, ldc) == 0)
        return;
#endif
    (void)e;
    if (plain)
        pp_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, A, rsa, B, ldb, 0, C, ldc);
    else
        pp_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, K, 1, A, csa, B, ldb, 0, C, ldc);
}

const char *pp_net_blas_core_wanted(const char **detected)
{
    const char *have = pp_linalg_openblas_core();
    if (detected) *detected = have;
    const char *mode = getenv("PARAPROP_BLAS_CORE");
    if (!have || getenv("OPENBLAS_CORETYPE") || (mode && strcmp(mode, "asis") == 0)) return NULL;
    if (mode && *mode && strcmp(mode, "auto") != 0) return strcasecmp(mode, have) ? mode : NULL;
    return pp_linalg_openblas_best_core();
}

/* ---- products with a packed operand (gemm.h, pp_mm_plan) ------------------------------------ */

struct pp_mm_plan {
#if PP_HAVE_ONEDNN
    dnnl_primitive_t mm, reorder;
    dnnl_memory_desc_t a_md, b_md, bp_md, c_md, sp_md;
#endif
    size_t packed_bytes, scratch_bytes;
};

#if PP_HAVE_ONEDNN
static dnnl_engine_t plan_engine(void)
{
    static dnnl_engine_t eng;
    static atomic_int state; /* 0 untried, 1 ready, 2 failed */
    int s = atomic_load_explicit(&state, memory_order_acquire);
    if (s) return s == 1 ? eng : NULL;
#pragma omp critical(pp_mm_plan_engine)
    {
        if (!atomic_load_explicit(&state, memory_order_relaxed))
            atomic_store_explicit(&state,
                                  dnnl_engine_create(&eng, dnnl_cpu, 0) == dnnl_success ? 1 : 2,
                                  memory_order_release);
    }
    return atomic_load_explicit(&state, memory_order_acquire) == 1 ? eng : NULL;
}

/* one stream per thread: oneDNN streams are not for concurrent use; never freed (a few bytes
 * per OpenMP thread, which lives as long as the program) */
static _Thread_local dnnl_stream_t plan_stream;

static dnnl_stream_t thread_stream(void)
{
    if (!plan_stream) {
        dnnl_engine_t eng = plan_engine();
        if (!eng ||
            dnnl_stream_create(&plan_stream, eng, dnnl_stream_default_flags) != dnnl_success)
            plan_stream = NULL;
    }
    return plan_stream;
}

static int md_strided(dnnl_memory_desc_t *md, int rows, int cols, int rs, int cs)
{
    dnnl_dims_t d = {rows, cols}, s = {rs, cs};
    return dnnl_memory_desc_init_by_strides(md, 2, d, dnnl_f32, s) == dnnl_success;
}

/* executes prim with args on this thread's stream, on this thread alone */
static int plan_exec(dnnl_primitive_t prim, int n, const dnnl_exec_arg_t *args)
{
    dnnl_stream_t s = thread_stream();
    if (!s) return 1;
    const int saved = omp_get_max_threads();
    if (saved != 1) omp_set_num_threads(1);
    int bad = dnnl_primitive_execute(prim, s, n, args) != dnnl_success ||
              dnnl_stream_wait(s) != dnnl_success;
    if (saved != 1) omp_set_num_threads(saved);
    return bad;
}
#endif

pp_mm_plan *pp_mm_plan_create(int M, int N, int K, int a_rs, int a_cs, int b_rs, int b_cs, int ldc)
{
#if PP_HAVE_ONEDNN
    /* only where the product would run on oneDNN anyway, and never while one engine is forced
     * or pinned (the unit tests of the own kernels, PARAPROP_KERNELS) */
    if (M <= 0 || N <= 0 || K <= 0 || engine(M, N, K) != ENG_ONEDNN || decide().forced ||
        atomic_load_explicit(&pinned, memory_order_relaxed) > 0)
        return NULL;
    dnnl_engine_t eng = plan_engine();
    pp_mm_plan *p = calloc(1, sizeof *p);
    if (!eng || !p) {
        free(p);
        return NULL;
    }
    dnnl_memory_desc_t any;
    dnnl_dims_t bd = {K, N};
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    int ok =
        md_strided(&p->a_md, M, K, a_rs, a_cs) && md_strided(&p->b_md, K, N, b_rs, b_cs) &&
        md_strided(&p->c_md, M, N, ldc, 1) &&
        dnnl_memory_desc_init_by_tag(&any, 2, bd, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
        dnnl_primitive_attr_create(&attr) == dnnl_success &&
        /* each thread brings its own scratchpad: the library's is shared */
        dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success;
    /* the kernel and its blocking are chosen for one thread (as each product runs): a
     * decomposition made for more threads could split K, and the bits with it */
    const int saved = omp_get_max_threads();
    if (saved != 1) omp_set_num_threads(1);
    dnnl_matmul_desc_t md;
    ok = ok && dnnl_matmul_desc_init(&md, &p->a_md, &any, NULL, &p->c_md) == dnnl_success &&
         dnnl_primitive_desc_create(&pd, &md, attr, eng, NULL) == dnnl_success;
    if (ok) {
        p->bp_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        const dnnl_memory_desc_t *sp =
            dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        p->sp_md = *sp;
        p->scratch_bytes = dnnl_memory_desc_get_size(sp);
        p->packed_bytes = dnnl_memory_desc_get_size(&p->bp_md);
        ok = dnnl_primitive_create(&p->mm, pd) == dnnl_success &&
             dnnl_reorder_primitive_desc_create(&rpd, &p->b_md, eng, &p->bp_md, eng, attr) ==
                 dnnl_success;
    }
    if (ok) {
        const dnnl_memory_desc_t *sp =
            dnnl_primitive_desc_query_md(rpd, dnnl_query_scratchpad_md, 0);
        const size_t rs = dnnl_memory_desc_get_size(sp);
        /* one scratchpad serves both: the larger one's descriptor */
        if (rs > p->scratch_bytes) {
            p->sp_md = *sp;
            p->scratch_bytes = rs;
        }
        ok = dnnl_primitive_create(&p->reorder, rpd) == dnnl_success;
    }
    if (saved != 1) omp_set_num_threads(saved);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (!ok) {
        pp_mm_plan_free(p);
        return NULL;
    }
    return p;
#else
    (void)M, (void)N, (void)K, (void)a_rs, (void)a_cs, (void)b_rs, (void)b_cs, (void)ldc;
    return NULL;
#endif
}

void pp_mm_plan_free(pp_mm_plan *p)
{
    if (!p) return;
#if PP_HAVE_ONEDNN
    if (p->mm) dnnl_primitive_destroy(p->mm);
    if (p->reorder) dnnl_primitive_destroy(p->reorder);
#endif
    free(p);
}

size_t pp_mm_plan_packed_bytes(const pp_mm_plan *p)
{
    return p->packed_bytes;
}

size_t pp_mm_plan_scratch_bytes(const pp_mm_plan *p)
{
    return p->scratch_bytes;
}

int pp_mm_plan_same_b(const pp_mm_plan *x, const pp_mm_plan *y)
{
#if PP_HAVE_ONEDNN
    return dnnl_memory_desc_equal(&x->bp_md, &y->bp_md) != 0 &&
           dnnl_memory_desc_equal(&x->b_md, &y->b_md) != 0;
#else
    (void)x, (void)y;
    return 0;
#endif
}

#if PP_HAVE_ONEDNN
/* memory objects over caller buffers, made per call (a few hundred ns) so that threads share
 * nothing */
static int plan_run(dnnl_primitive_t prim, int n, const int *keys,
                    const dnnl_memory_desc_t *const *mds, void *const *bufs)
{
    dnnl_exec_arg_t args[4];
    int made = 0, bad = 0;
    for (; made < n && !bad; made++) {
        args[made].arg = keys[made];
        bad = dnnl_memory_create(&args[made].memory, mds[made], plan_engine(), bufs[made]) !=
              dnnl_success;
    }
    if (bad) made--;
    if (!bad) bad = plan_exec(prim, n, args);
    for (int i = 0; i < made; i++) dnnl_memory_destroy(args[i].memory);
    return bad;
}
#endif

int pp_mm_plan_pack(const pp_mm_plan *p, const pp_real *B, void *out, void *scratch)
{
#if PP_HAVE_ONEDNN
    const int keys[] = {DNNL_ARG_FROM, DNNL_ARG_TO, DNNL_ARG_SCRATCHPAD};
    const dnnl_memory_desc_t *mds[] = {&p->b_md, &p->bp_md, &p->sp_md};
    void *bufs[] = {(void *)(uintptr_t)B, out, scratch};
    return plan_run(p->reorder, p->scratch_bytes ? 3 : 2, keys, mds, bufs);
#else
    (void)p, (void)B, (void)out, (void)scratch;
    return 1;
#endif
}

int pp_mm_plan_run(const pp_mm_plan *p, const pp_real *A, const void *bp, pp_real *C, void *scratch)
{
#if PP_HAVE_ONEDNN
    const int keys[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD};
    const dnnl_memory_desc_t *mds[] = {&p->a_md, &p->bp_md, &p->c_md, &p->sp_md};
    void *bufs[] = {(void *)(uintptr_t)A, (void *)(uintptr_t)bp, C, scratch};
    return plan_run(p->mm, p->scratch_bytes ? 4 : 3, keys, mds, bufs);
#else
    (void)p, (void)A, (void)bp, (void)C, (void)scratch;
    return 1;
#endif
}
