/* The three matrix products of backpropagation (private to the core).
 *
 *   pp_mm_nt: C = A Bᵀ     A (M×K, row stride lda), B (N×K, row stride ldb)   forward: Z = A Wᵀ
 *   pp_mm_nn: C = A B      A(i,k) = A[i·rsa + k·csa], B (K×N, row stride ldb)  BP2 and BP4
 *
 * C (M×N, row stride ldc) is overwritten. In float builds on CPUs with AVX-512 they run
 * paraprop's own kernels (gemm_avx512.c): OpenBLAS 0.3.21 does not recognise recent Xeons and
 * falls back to SSE3 kernels, and its packing dominates the small products of small batches.
 * Otherwise, and in double builds, they call the CBLAS.
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

/* Which kernels pp_mm_* use: "avx512" or "blas". PARAPROP_KERNELS=blas in the environment
 * forces the CBLAS (for comparisons and for mixed-ISA clusters in exact mode). */
const char *pp_mm_kernels(void);

#endif
