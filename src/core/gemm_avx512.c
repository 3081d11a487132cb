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
#include <stdlib.h>

#define PP_AVX512 __attribute__((target("avx512f,fma")))
#define PP_TILE static inline __attribute__((always_inline)) PP_AVX512

enum {
    NT_MR = 4,    /* rows of A per nt tile (the accumulators below are written out for 4) */
    NT_NR = 4,    /* rows of B per nt tile */
    NT_KC = 1024, /* K stretch: 4+4 rows of 4 KiB stay in L1 */
    NT_JB = 64,   /* rows of B per cache block: 64 × 4 KiB in L2 */
    NN_MR = 12,   /* rows per nn tile (the accumulators below are written out for 12) */
};

/* Accumulators are named variables, not arrays: GCC 12 kept arrays of __m512 in memory and
 * stored every accumulator on every step. Rows/columns beyond mr/nr are dropped at compile time
 * (mr and nr are constants in each instantiation below). */
#define NT_FMA_ROW(i)                                                                              \
    if (i < mr) {                                                                                  \
        const __m512 a = ld(m, A + (size_t)i * lda + k);                                           \
        if (0 < nr) acc##i##0 = _mm512_fmadd_ps(a, b0, acc##i##0);                                 \
        if (1 < nr) acc##i##1 = _mm512_fmadd_ps(a, b1, acc##i##1);                                 \
        if (2 < nr) acc##i##2 = _mm512_fmadd_ps(a, b2, acc##i##2);                                 \
        if (3 < nr) acc##i##3 = _mm512_fmadd_ps(a, b3, acc##i##3);                                 \
    }
#define NT_STEP()                                                                                  \
    do {                                                                                           \
        const __m512 b0 = ld(m, B + k);                                                            \
        const __m512 b1 = 1 < nr ? ld(m, B + (size_t)ldb + k) : b0;                                \
        const __m512 b2 = 2 < nr ? ld(m, B + (size_t)2 * ldb + k) : b0;                            \
        const __m512 b3 = 3 < nr ? ld(m, B + (size_t)3 * ldb + k) : b0;                            \
        NT_FMA_ROW(0)                                                                              \
        NT_FMA_ROW(1)                                                                              \
        NT_FMA_ROW(2)                                                                              \
        NT_FMA_ROW(3)                                                                              \
    } while (0)
#define NT_STORE(i, j)                                                                             \
    if (i < mr && j < nr) {                                                                        \
        const float s = _mm512_reduce_add_ps(acc##i##j);                                           \
        float *c = C + (size_t)i * ldc + j;                                                        \
        *c = first ? s : *c + s;                                                                   \
    }

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
    NT_STORE(0, 0)
    NT_STORE(0, 1) NT_STORE(0, 2) NT_STORE(0, 3) NT_STORE(1, 0) NT_STORE(1, 1) NT_STORE(1, 2)
        NT_STORE(1, 3) NT_STORE(2, 0) NT_STORE(2, 1) NT_STORE(2, 2) NT_STORE(2, 3) NT_STORE(3, 0)
            NT_STORE(3, 1) NT_STORE(3, 2) NT_STORE(3, 3)
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

PP_AVX512 void pp_mm_nt_avx512(int M, int N, int K, const float *A, int lda, const float *B,
                               int ldb, float *C, int ldc)
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
    if (i < mr) {                                                                                  \
        const __m512 ai = _mm512_set1_ps(a[(size_t)i * rsa]);                                      \
        c0_##i = _mm512_fmadd_ps(ai, b0, c0_##i);                                                  \
        c1_##i = _mm512_fmadd_ps(ai, b1, c1_##i);                                                  \
    }
#define NN_STORE(i)                                                                                \
    if (i < mr) {                                                                                  \
        _mm512_mask_storeu_ps(C + (size_t)i * ldc, m0, c0_##i);                                    \
        _mm512_mask_storeu_ps(C + (size_t)i * ldc + 16, m1, c1_##i);                               \
    }

PP_TILE void nn_tile(const int mr, int K, const float *A, int rsa, int csa, const float *B, int ldb,
                     float *C, int ldc, __mmask16 m0, __mmask16 m1)
{
    __m512 c0_0 = _mm512_setzero_ps(), c0_1 = c0_0, c0_2 = c0_0, c0_3 = c0_0, c0_4 = c0_0,
           c0_5 = c0_0, c0_6 = c0_0, c0_7 = c0_0, c0_8 = c0_0, c0_9 = c0_0, c0_10 = c0_0,
           c0_11 = c0_0;
    __m512 c1_0 = c0_0, c1_1 = c0_0, c1_2 = c0_0, c1_3 = c0_0, c1_4 = c0_0, c1_5 = c0_0,
           c1_6 = c0_0, c1_7 = c0_0, c1_8 = c0_0, c1_9 = c0_0, c1_10 = c0_0, c1_11 = c0_0;
    for (int k = 0; k < K; k++) {
        const float *b = B + (size_t)k * ldb;
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
        const float *a = A + (size_t)k * csa;
        NN_ROW(0)
        NN_ROW(1) NN_ROW(2) NN_ROW(3) NN_ROW(4) NN_ROW(5) NN_ROW(6) NN_ROW(7) NN_ROW(8) NN_ROW(9)
            NN_ROW(10) NN_ROW(11)
    }
    NN_STORE(0)
    NN_STORE(1) NN_STORE(2) NN_STORE(3) NN_STORE(4) NN_STORE(5) NN_STORE(6) NN_STORE(7) NN_STORE(8)
        NN_STORE(9) NN_STORE(10) NN_STORE(11)
}

#define NN_SHAPE(MR)                                                                               \
    static PP_AVX512 void nn_##MR(int K, const float *A, int rsa, int csa, const float *B,         \
                                  int ldb, float *C, int ldc, __mmask16 m0, __mmask16 m1)          \
    {                                                                                              \
        nn_tile(MR, K, A, rsa, csa, B, ldb, C, ldc, m0, m1);                                       \
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
                      __mmask16);
static const nn_fn NN_TILES[NN_MR] = {nn_1, nn_2, nn_3, nn_4,  nn_5,  nn_6,
                                      nn_7, nn_8, nn_9, nn_10, nn_11, nn_12};

static __mmask16 lanes(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

/* A panel of B (K × 32) copied contiguous: rows of B a whole page apart (ldb of 2048 floats)
 * defeat the hardware prefetchers, and the copy is reused by every row tile. One buffer per
 * thread, grown when needed, so that steady-state steps allocate nothing. */
static _Thread_local float *panel;
static _Thread_local size_t panel_cap;

PP_AVX512 static const float *pack_panel(int K, const float *B, int ldb, __mmask16 m0, __mmask16 m1)
{
    const size_t need = (size_t)K * 32;
    if (need > panel_cap) {
        float *p = realloc(panel, need * sizeof *p);
        if (!p) return NULL; /* run unpacked: slower, not wrong */
        panel = p;
        panel_cap = need;
    }
    for (int k = 0; k < K; k++) {
        const float *b = B + (size_t)k * ldb;
        _mm512_storeu_ps(panel + (size_t)k * 32, _mm512_maskz_loadu_ps(m0, b));
        _mm512_storeu_ps(panel + (size_t)k * 32 + 16, _mm512_maskz_loadu_ps(m1, b + 16));
    }
    return panel;
}

PP_AVX512 void pp_mm_nn_avx512(int M, int N, int K, const float *A, int rsa, int csa,
                               const float *B, int ldb, float *C, int ldc)
{
    /* column panels outside: a panel of B (K × 32) stays in cache while the row tiles pass */
    for (int j = 0; j < N; j += 32) {
        const __mmask16 m0 = lanes(N - j), m1 = lanes(N - j - 16);
        const float *Bp = B + j;
        int ldp = ldb;
        /* worth it when several row tiles reuse a long panel (W1's BP4 has K = 10: no) */
        if (M > NN_MR && K >= 32) {
            const float *p = pack_panel(K, Bp, ldb, m0, m1);
            if (p) {
                Bp = p;
                ldp = 32;
            }
        }
        for (int i = 0; i < M; i += NN_MR) {
            const int mr = M - i < NN_MR ? M - i : NN_MR;
            NN_TILES[mr - 1](K, A + (size_t)i * rsa, rsa, csa, Bp, ldp, C + (size_t)i * ldc + j,
                             ldc, m0, m1);
        }
    }
}

#endif
