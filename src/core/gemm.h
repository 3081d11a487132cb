/* The three matrix products of backpropagation (private to the core).
 *
 *   pp_mm_nt: C = A Bᵀ     A (M×K, row stride lda), B (N×K, row stride ldb)   forward: Z = A Wᵀ
 *   pp_mm_nn: C = A B      A(i,k) = A[i·rsa + k·csa], B (K×N, row stride ldb)  BP2 and BP4
 *
 * C (M×N, row stride ldc) is overwritten. Each product runs on the engine that measured fastest
 * for its shape (docs/PERFORMANCE.md, "Engines per shape"): products whose sides are all ≥ 32 (or
 * with ≥ 2²² multiply-adds) on oneDNN when paraprop is built with it, else on the CBLAS when it
 * runs the widest vectors the CPU has; the others, in float builds on CPUs with AVX-512, on
 * paraprop's own kernels (gemm_avx512.c); everything else on the CBLAS. Exact mode needs only
 * that an engine give one shape the same bits every time: its products always have shapes fixed
 * by the layer and the 64-sample block, never by the threads or ranks (exact.c).
 *
 * The AVX-512 kernels give every element of C a result that depends only on its own row of A,
 * its own column of B and K, not on N or where the element sits, and on M only in that A Bᵀ
 * changes tiles at 32 rows (unit-tested). OpenBLAS does
 * not (its blocking depends on M); exact mode needs neither, because its products always see the
 * same fixed 64-sample blocks, but the property keeps the kernels free of such surprises. */
#ifndef PARAPROP_GEMM_H
#define PARAPROP_GEMM_H

#include <stddef.h>

#include "paraprop/precision.h"

void pp_mm_nt(int M, int N, int K, const pp_real *A, int lda, const pp_real *B, int ldb, pp_real *C,
              int ldc);
void pp_mm_nn(int M, int N, int K, const pp_real *A, int rsa, int csa, const pp_real *B, int ldb,
              pp_real *C, int ldc);

/* C = A Bᵀ as pp_mm_nt, with every row of C a function of its own row of A alone (and of
 * whether M < 32), whatever the CPU: paraprop's AVX-512 kernels where the CPU has them (unless
 * PARAPROP_KERNELS names another engine), else a portable loop whose dot products add in one
 * fixed order. The CBLAS and oneDNN do not promise this: OpenBLAS's Haswell kernels give a row
 * other bits at another place in the same call. The inference API needs it (pp_model_predict: a
 * row's outputs must not depend on how the caller batches its rows). */
void pp_mm_nt_rows(int M, int N, int K, const pp_real *A, int lda, const pp_real *B, int ldb,
                   pp_real *C, int ldc);
/* "own AVX-512" or "portable": the engine of pp_mm_nt_rows */
const char *pp_mm_rows_engine(void);

/* The one engine used while pinned or forced: "avx512", "blas" or "onednn".
 * PARAPROP_KERNELS in the environment forces one engine for every product: `blas` the CBLAS
 * (for comparisons and for mixed-ISA clusters in exact mode), `own` paraprop's kernels (where
 * the CPU has AVX-512), `onednn` oneDNN (when built with it). */
const char *pp_mm_kernels(void);

/* delta = +1 / −1: every product on one engine from now / no longer (paraprop's kernels where
 * the CPU has AVX-512; the unit tests check those kernels through it). */
void pp_mm_pin(int delta);

/* C (M×N, row stride ldc) = A B for many A with one B, B laid out once in the engine's own
 * blocked format (oneDNN's matmul with packed weights): exact mode's products, whose B (a
 * layer's Wᵀ for every 64-sample block, a block's Aˡ⁻¹ for every tile of units) serves several
 * calls. A(i,k) = A[i·a_rs + k·a_cs], B(k,n) = B[k·b_rs + n·b_cs]. pp_mm_plan_create returns
 * NULL where the shape would not run on oneDNN (then pp_mm_nt/pp_mm_nn are the way), or while
 * one engine is forced or pinned. One plan gives one shape the same bits on every call, on any
 * thread (each call runs on its caller alone). pack and run return non-zero on failure; each
 * calling thread passes its own scratch buffer of pp_mm_plan_scratch_bytes (may be 0). */
typedef struct pp_mm_plan pp_mm_plan;
pp_mm_plan *pp_mm_plan_create(int M, int N, int K, int a_rs, int a_cs, int b_rs, int b_cs, int ldc);
void pp_mm_plan_free(pp_mm_plan *p);
size_t pp_mm_plan_packed_bytes(const pp_mm_plan *p);
size_t pp_mm_plan_scratch_bytes(const pp_mm_plan *p);
/* whether x and y take B in one packed layout (then one packing serves both) */
int pp_mm_plan_same_b(const pp_mm_plan *x, const pp_mm_plan *y);
int pp_mm_plan_pack(const pp_mm_plan *p, const pp_real *B, void *packed, void *scratch);
int pp_mm_plan_run(const pp_mm_plan *p, const pp_real *A, const void *packed, pp_real *C,
                   void *scratch);

#endif
