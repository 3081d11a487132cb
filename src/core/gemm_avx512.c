/* AVX-512 kernels for the products of backpropagation, float only (see gemm.h).
 *
 * No packing: the products of an MLP step are small or skinny (W1 multiplies 10×784 by 784×30),
 * where packing costs as much as the arithmetic. Two register tiles cover the three products:
 *
 *   nt: C = A Bᵀ as dot products along K: a tile of 4 rows of A × 4 rows of B keeps 16 vector
 *       accumulators, each reduced horizontally at the end of a KC-long stretch of K.
 *   nn: C = A B with rows of B as vectors: a tile of 12 rows × 32 columns keeps 24 accumulators;
 *       A's elements are broadcast, with any row/column strides (so BP4's Δᵀ needs no copy).
 *
 * Each element of C is the same sequence of operations wherever it sits in a tile, and tiles
 * at the edges only drop rows or mask columns, so results never depend on M or N (exact mode).
 * The functions carry target attributes: the rest of the build stays baseline x86-64 and
 * gemm.c calls them only when the CPU has AVX-512F. */
#include "gemm_avx512.h"

#if PP_HAVE_AVX512_KERNELS

#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>

#define PP_AVX512 __attribute__((target("avx512f,fma")))
#define PP_TILE static inline __attribute__((always_inline)) PP_AVX512

enum {
    NT_MR = 4,    /* rows of A per nt tile (the accumulators below are written out for 4) */
    NT_NR = 4,    /* rows of B per nt tile */
    NT_KC = 1024, /* K stretch: 4+4 rows of 4 KiB stay in L1 */
    NT_JB = 64,   /* rows of B per cache block: 64 × 4 KiB in L2 */
    NN_MR = 12,   /* rows per nn tile (the accumulators below are written out for 12) */
    NN_KC = 256,  /* K block of nn: A's block (M × 256) in L2, B's panel (256 × 32) in L1 */
    NT_PACKED_ROWS = 32, /* A Bᵀ with at least this many rows runs packed on the nn tiles */
};

/* Accumulators are named variables, not arrays: GCC 12 kept arrays of __m512 in memory and
 * stored every accumulator on every step. Rows/columns beyond mr/nr are dropped at compile time
 * (mr and nr are constants in each instantiation below). */
#define NT_FMA_ROW(i)                                                                              \
    do {                                                                                           \
        if (i < mr) {                                                                              \
            const __m512 a = ld(m, A + (size_t)i * lda + k);                                       \
            if (0 < nr) acc##i##0 = _mm512_fmadd_ps(a, b0, acc##i##0);                             \
            if (1 < nr) acc##i##1 = _mm512_fmadd_ps(a, b1, acc##i##1);                             \
            if (2 < nr) acc##i##2 = _mm512_fmadd_ps(a, b2, acc##i##2);                             \
            if (3 < nr) acc##i##3 = _mm512_fmadd_ps(a, b3, acc##i##3);                             \
        }                                                                                          \
    } while (0)
#define NT_STEP()                                                                                  \
    do {                                                                                           \
        const __m512 b0 = ld(m, B + k);                                                            \
        const __m512 b1 = 1 < nr ? ld(m, B + (size_t)ldb + k) : b0;                                \
        const __m512 b2 = 2 < nr ? ld(m, B + (size_t)2 * ldb + k) : b0;                            \
        const __m512 b3 = 3 < nr ? ld(m, B + (size_t)3 * ldb + k) : b0;                            \
        NT_FMA_ROW(0);                                                                             \
        NT_FMA_ROW(1);                                                                             \
        NT_FMA_ROW(2);                                                                             \
        NT_FMA_ROW(3);                                                                             \
    } while (0)
#define NT_STORE(i, j)                                                                             \
    do {                                                                                           \
        if (i < mr && j < nr) {                                                                    \
            const float s = _mm512_reduce_add_ps(acc##i##j);                                       \
            float *c = C + (size_t)i * ldc + j;                                                    \
            *c = first ? s : *c + s;                                                               \
        }                                                                                          \
    } while (0)

PP_TILE __m512 ld(__mmask16 m, const float *p)
{
    return m == (__mmask16)0xFFFF ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
}

PP_TILE void nt_tile(const int mr, const int nr, int kc, const float *A, int lda, const float *B,
                     int ldb, float *C, int ldc, int first)
{
    __m512 acc00 = _mm512_setzero_ps(), acc01 = acc00, acc02 = acc00, acc03 = acc00;
    __m512 acc10 = acc00, acc11 = acc00, acc12 = acc00, acc13 = acc00;
    __m512 acc20 = acc00, acc21 = acc00, acc22 = acc00, acc23 = acc00;
    __m512 acc30 = acc00, acc31 = acc00, acc32 = acc00, acc33 = acc00;
    int k = 0;
    {
        const __mmask16 m = (__mmask16)0xFFFF;
        for (; k + 16 <= kc; k += 16) NT_STEP();
    }
    if (k < kc) {
        const __mmask16 m = (__mmask16)((1u << (kc - k)) - 1u);
        NT_STEP();
    }
    NT_STORE(0, 0);
    NT_STORE(0, 1);
    NT_STORE(0, 2);
    NT_STORE(0, 3);
    NT_STORE(1, 0);
    NT_STORE(1, 1);
    NT_STORE(1, 2);
    NT_STORE(1, 3);
    NT_STORE(2, 0);
    NT_STORE(2, 1);
    NT_STORE(2, 2);
    NT_STORE(2, 3);
    NT_STORE(3, 0);
    NT_STORE(3, 1);
    NT_STORE(3, 2);
    NT_STORE(3, 3);
}

/* The tile shapes as separate functions, so that each one's loops unroll into registers. */
#define NT_SHAPE(MR, NR)                                                                           \
    static PP_AVX512 void nt_##MR##x##NR(int kc, const float *A, int lda, const float *B, int ldb, \
                                         float *C, int ldc, int first)                             \
    {                                                                                              \
        nt_tile(MR, NR, kc, A, lda, B, ldb, C, ldc, first);                                        \
    }
NT_SHAPE(1, 1)
NT_SHAPE(1, 2)
NT_SHAPE(1, 3)
NT_SHAPE(1, 4)
NT_SHAPE(2, 1)
NT_SHAPE(2, 2)
NT_SHAPE(2, 3)
NT_SHAPE(2, 4)
NT_SHAPE(3, 1)
NT_SHAPE(3, 2)
NT_SHAPE(3, 3)
NT_SHAPE(3, 4)
NT_SHAPE(4, 1)
NT_SHAPE(4, 2)
NT_SHAPE(4, 3)
NT_SHAPE(4, 4)

typedef void (*nt_fn)(int, const float *, int, const float *, int, float *, int, int);
static const nt_fn NT_TILES[NT_MR][NT_NR] = {
    {nt_1x1, nt_1x2, nt_1x3, nt_1x4},
    {nt_2x1, nt_2x2, nt_2x3, nt_2x4},
    {nt_3x1, nt_3x2, nt_3x3, nt_3x4},
    {nt_4x1, nt_4x2, nt_4x3, nt_4x4},
};

PP_AVX512 static void nt_dot(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                             float *C, int ldc)
{
    if (K == 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = 0;
        return;
    }
    for (int jc = 0; jc < N; jc += NT_JB) {
        const int je = jc + NT_JB < N ? jc + NT_JB : N;
        for (int pc = 0; pc < K; pc += NT_KC) {
            const int kc = K - pc < NT_KC ? K - pc : NT_KC;
            for (int i = 0; i < M; i += NT_MR) {
                const int mr = M - i < NT_MR ? M - i : NT_MR;
                for (int j = jc; j < je; j += NT_NR) {
                    const int nr = je - j < NT_NR ? je - j : NT_NR;
                    NT_TILES[mr - 1][nr - 1](kc, A + (size_t)i * lda + pc, lda,
                                             B + (size_t)j * ldb + pc, ldb, C + (size_t)i * ldc + j,
                                             ldc, pc == 0);
                }
            }
        }
    }
}

#define NN_ROW(i)                                                                                  \
    do {                                                                                           \
        if (i < mr) {                                                                              \
            const __m512 ai = _mm512_set1_ps(a[(size_t)i * ars]);                                  \
            c0_##i = _mm512_fmadd_ps(ai, b0, c0_##i);                                              \
            c1_##i = _mm512_fmadd_ps(ai, b1, c1_##i);                                              \
        }                                                                                          \
    } while (0)
#define NN_LOAD(i)                                                                                 \
    do {                                                                                           \
        if (i < mr && accumulate) {                                                                \
            c0_##i = _mm512_maskz_loadu_ps(m0, C + (size_t)i * ldc);                               \
            c1_##i = _mm512_maskz_loadu_ps(m1, C + (size_t)i * ldc + 16);                          \
        }                                                                                          \
    } while (0)
#define NN_STORE(i)                                                                                \
    do {                                                                                           \
        if (i < mr) {                                                                              \
            _mm512_mask_storeu_ps(C + (size_t)i * ldc, m0, c0_##i);                                \
            _mm512_mask_storeu_ps(C + (size_t)i * ldc + 16, m1, c1_##i);                           \
        }                                                                                          \
    } while (0)

/* C (mr × 32, masked) = [C +] A B over kc steps; A(i,k) = A[i·ars + k·acs] (packed: ars = 1,
 * acs = 12). With accumulate the FMA chain continues from C, so a product split into K blocks
 * performs, per element, exactly the operations of the unsplit one. */
PP_TILE void nn_tile(const int mr, int kc, const float *A, int ars, int acs, const float *B,
                     int ldb, float *C, int ldc, __mmask16 m0, __mmask16 m1, int accumulate)
{
    __m512 c0_0 = _mm512_setzero_ps(), c0_1 = c0_0, c0_2 = c0_0, c0_3 = c0_0, c0_4 = c0_0,
           c0_5 = c0_0, c0_6 = c0_0, c0_7 = c0_0, c0_8 = c0_0, c0_9 = c0_0, c0_10 = c0_0,
           c0_11 = c0_0;
    __m512 c1_0 = c0_0, c1_1 = c0_0, c1_2 = c0_0, c1_3 = c0_0, c1_4 = c0_0, c1_5 = c0_0,
           c1_6 = c0_0, c1_7 = c0_0, c1_8 = c0_0, c1_9 = c0_0, c1_10 = c0_0, c1_11 = c0_0;
    NN_LOAD(0);
    NN_LOAD(1);
    NN_LOAD(2);
    NN_LOAD(3);
    NN_LOAD(4);
    NN_LOAD(5);
    NN_LOAD(6);
    NN_LOAD(7);
    NN_LOAD(8);
    NN_LOAD(9);
    NN_LOAD(10);
    NN_LOAD(11);
    for (int k = 0; k < kc; k++) {
        const float *b = B + (size_t)k * ldb;
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
        const float *a = A + (size_t)k * acs;
        NN_ROW(0);
        NN_ROW(1);
        NN_ROW(2);
        NN_ROW(3);
        NN_ROW(4);
        NN_ROW(5);
        NN_ROW(6);
        NN_ROW(7);
        NN_ROW(8);
        NN_ROW(9);
        NN_ROW(10);
        NN_ROW(11);
    }
    NN_STORE(0);
    NN_STORE(1);
    NN_STORE(2);
    NN_STORE(3);
    NN_STORE(4);
    NN_STORE(5);
    NN_STORE(6);
    NN_STORE(7);
    NN_STORE(8);
    NN_STORE(9);
    NN_STORE(10);
    NN_STORE(11);
}

#define NN_SHAPE(MR)                                                                               \
    static PP_AVX512 void nn_##MR(int kc, const float *A, int ars, int acs, const float *B,        \
                                  int ldb, float *C, int ldc, __mmask16 m0, __mmask16 m1, int acc) \
    {                                                                                              \
        nn_tile(MR, kc, A, ars, acs, B, ldb, C, ldc, m0, m1, acc);                                 \
    }
NN_SHAPE(1)
NN_SHAPE(2)
NN_SHAPE(3)
NN_SHAPE(4)
NN_SHAPE(5)
NN_SHAPE(6)
NN_SHAPE(7)
NN_SHAPE(8)
NN_SHAPE(9)
NN_SHAPE(10)
NN_SHAPE(11)
NN_SHAPE(12)

typedef void (*nn_fn)(int, const float *, int, int, const float *, int, float *, int, __mmask16,
                      __mmask16, int);
static const nn_fn NN_TILES[NN_MR] = {nn_1, nn_2, nn_3, nn_4,  nn_5,  nn_6,
                                      nn_7, nn_8, nn_9, nn_10, nn_11, nn_12};

static __mmask16 lanes(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

/* Per-thread copies, grown when needed, so that steady-state steps allocate nothing:
 *   apack: a K block of all of A, tile by tile as [k][12] — BP4 reads Δᵀ, whose consecutive k
 *          are a whole row of Δ (a page) apart, and every column panel reuses the copy;
 *   panel: a K block of 32 columns of B, contiguous — rows of B a page apart (ldb of 2048
 *          floats) defeat the prefetchers, and every row tile reuses the copy.
 * If an allocation fails the kernels read A and B in place: slower, same bits.
 * The buffers hang on a pthread key whose destructor frees them when the thread ends (OpenMP
 * teams come and go; a plain _Thread_local pointer leaked them, as LeakSanitizer showed). */
typedef struct pack_bufs {
    float *apack, *panel;
    size_t apack_cap, panel_cap;
} pack_bufs;

static pthread_key_t bufs_key;
static pthread_once_t bufs_once = PTHREAD_ONCE_INIT;
static int bufs_key_ok;

static void free_bufs(void *p)
{
    pack_bufs *b = p;
    free(b->apack);
    free(b->panel);
    free(b);
}

static void make_bufs_key(void)
{
    bufs_key_ok = pthread_key_create(&bufs_key, free_bufs) == 0;
}

static pack_bufs *thread_bufs(void)
{
    pthread_once(&bufs_once, make_bufs_key);
    if (!bufs_key_ok) return NULL;
    pack_bufs *b = pthread_getspecific(bufs_key);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (b && pthread_setspecific(bufs_key, b) != 0) {
            free(b);
            b = NULL;
        }
    }
    return b;
}

/* which: 0 = apack, 1 = panel */
static float *grow(int which, size_t need)
{
    pack_bufs *b = thread_bufs();
    if (!b) return NULL;
    float **buf = which ? &b->panel : &b->apack;
    size_t *cap = which ? &b->panel_cap : &b->apack_cap;
    if (need > *cap) {
        float *p = realloc(*buf, need * sizeof *p);
        if (!p) return NULL;
        *buf = p;
        *cap = need;
    }
    return *buf;
}

PP_AVX512 static const float *pack_a(int M, int kc, const float *A, int rsa, int csa)
{
    const int tiles = (M + NN_MR - 1) / NN_MR;
    float *p = grow(0, (size_t)tiles * (size_t)kc * NN_MR);
    if (!p) return NULL;
    for (int t = 0; t < tiles; t++) {
        const int i0 = t * NN_MR, mr = M - i0 < NN_MR ? M - i0 : NN_MR;
        float *dst = p + (size_t)t * (size_t)kc * NN_MR;
        for (int k = 0; k < kc; k++) {
            const float *src = A + (size_t)i0 * rsa + (size_t)k * csa;
            float *d = dst + (size_t)k * NN_MR;
            for (int i = 0; i < mr; i++) d[i] = src[(size_t)i * rsa];
            for (int i = mr; i < NN_MR; i++) d[i] = 0;
        }
    }
    return p;
}

PP_AVX512 static const float *pack_panel(int kc, const float *B, int ldb, __mmask16 m0,
                                         __mmask16 m1)
{
    float *p = grow(1, (size_t)kc * 32);
    if (!p) return NULL;
    for (int k = 0; k < kc; k++) {
        const float *b = B + (size_t)k * ldb;
        _mm512_storeu_ps(p + (size_t)k * 32, _mm512_maskz_loadu_ps(m0, b));
        _mm512_storeu_ps(p + (size_t)k * 32 + 16, _mm512_maskz_loadu_ps(m1, b + 16));
    }
    return p;
}

PP_AVX512 void pp_mm_nn_avx512(int M, int N, int K, const float *A, int rsa, int csa,
                               const float *B, int ldb, float *C, int ldc)
{
    /* K blocks outside (A's block stays in L2), then column panels (B's panel in L1), then
     * row tiles; K = 0 still makes one pass, which stores the zeros */
    for (int pc = 0; pc < K || (K == 0 && pc == 0); pc += NN_KC) {
        const int kc = K - pc < NN_KC ? K - pc : NN_KC;
        const float *Ap = kc > 0 ? pack_a(M, kc, A + (size_t)pc * csa, rsa, csa) : NULL;
        for (int j = 0; j < N; j += 32) {
            const __mmask16 m0 = lanes(N - j), m1 = lanes(N - j - 16);
            const float *Bp = B + (size_t)pc * ldb + j;
            int ldp = ldb;
            /* worth it when several row tiles reuse a long panel (W1's BP4 has K = 10: no) */
            if (M > NN_MR && kc >= 32) {
                const float *p = pack_panel(kc, Bp, ldb, m0, m1);
                if (p) {
                    Bp = p;
                    ldp = 32;
                }
            }
            for (int i = 0; i < M; i += NN_MR) {
                const int mr = M - i < NN_MR ? M - i : NN_MR;
                float *c = C + (size_t)i * ldc + j;
                if (Ap)
                    NN_TILES[mr - 1](kc, Ap + (size_t)(i / NN_MR) * (size_t)kc * NN_MR, 1, NN_MR,
                                     Bp, ldp, c, ldc, m0, m1, pc > 0);
                else
                    NN_TILES[mr - 1](kc, A + (size_t)i * rsa + (size_t)pc * csa, rsa, csa, Bp, ldp,
                                     c, ldc, m0, m1, pc > 0);
            }
        }
    }
}

/* A K block of 32 rows of B, transposed into a [k][32] panel with gathers: C = A Bᵀ then runs
 * on the nn tiles. */
PP_AVX512 static const float *pack_panel_t(int kc, const float *B, int ldb, int rows)
{
    float *p = grow(1, (size_t)kc * 32);
    if (!p) return NULL;
    const __m512i idx =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32(ldb));
    const __mmask16 m0 = lanes(rows), m1 = lanes(rows - 16);
    const float *B16 = B + (size_t)16 * ldb;
    for (int k = 0; k < kc; k++) {
        _mm512_storeu_ps(p + (size_t)k * 32,
                         _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, idx, B + k, 4));
        _mm512_storeu_ps(p + (size_t)k * 32 + 16,
                         m1 ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, idx, B16 + k, 4)
                            : _mm512_setzero_ps());
    }
    return p;
}

/* C = A Bᵀ. Long products with enough rows run as A·(Bᵀ) on the nn tiles with both operands
 * packed, about 1.6× the dot-product tiles on W3's layers; the transposition of B costs about as
 * much as 30 rows gain, so fewer rows (the main job's 5 per rank) and short products (W1:
 * 784 × 30) keep the dot products. Within either choice a row's result does not depend on the
 * other rows; the choice itself depends on M only through M ≥ NT_PACKED_ROWS. */
PP_AVX512 void pp_mm_nt_avx512(int M, int N, int K, const float *A, int lda, const float *B,
                               int ldb, float *C, int ldc)
{
    /* (the panel is 32 KiB: only a process out of memory takes the dot tiles here for that) */
    if (M < NT_PACKED_ROWS || N < 64 || K < 128 || (long)ldb * 15 > 0x7fffffffL ||
        !grow(1, (size_t)NN_KC * 32)) {
        nt_dot(M, N, K, A, lda, B, ldb, C, ldc);
        return;
    }
    for (int pc = 0; pc < K; pc += NN_KC) {
        const int kc = K - pc < NN_KC ? K - pc : NN_KC;
        const float *Ap = pack_a(M, kc, A + pc, lda, 1);
        for (int j = 0; j < N; j += 32) {
            const __mmask16 m0 = lanes(N - j), m1 = lanes(N - j - 16);
            const float *Bp = pack_panel_t(kc, B + (size_t)j * ldb + pc, ldb, N - j);
            for (int i = 0; i < M; i += NN_MR) {
                const int mr = M - i < NN_MR ? M - i : NN_MR;
                float *c = C + (size_t)i * ldc + j;
                const float *a =
                    Ap ? Ap + (size_t)(i / NN_MR) * (size_t)kc * NN_MR : A + (size_t)i * lda + pc;
                NN_TILES[mr - 1](kc, a, Ap ? 1 : lda, Ap ? NN_MR : 1, Bp, 32, c, ldc, m0, m1,
                                 pc > 0);
            }
        }
    }
}

#endif
