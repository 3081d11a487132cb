/* AVX-512 kernels behind gemm.h (private); built for x86-64 float builds with GCC or Clang. */
#ifndef PARAPROP_GEMM_AVX512_H
#define PARAPROP_GEMM_AVX512_H

#include "paraprop/precision.h"

#if defined(__x86_64__) && !PP_DOUBLE && (defined(__GNUC__) || defined(__clang__))
#define PP_HAVE_AVX512_KERNELS 1
void pp_mm_nt_avx512(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                     float *C, int ldc);
void pp_mm_nn_avx512(int M, int N, int K, const float *A, int rsa, int csa, const float *B, int ldb,
                     float *C, int ldc);
#else
#define PP_HAVE_AVX512_KERNELS 0
#endif

#endif
