/* The matrix products of backpropagation: paraprop's AVX-512 kernels where the CPU has them,
 * the CBLAS otherwise (see gemm.h). */
#include "gemm.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_avx512.h"
#include "paraprop/net.h"
#include "linalg.h"

/* 0 = not decided yet, 1 = CBLAS, 2 = AVX-512 */
static atomic_int kernels;

static int choose(void)
{
    int k = atomic_load_explicit(&kernels, memory_order_relaxed);
    if (k) return k;
    k = 1;
#if PP_HAVE_AVX512_KERNELS
    const char *env = getenv("PARAPROP_KERNELS");
    __builtin_cpu_init();
    if (!(env && strcmp(env, "blas") == 0) && __builtin_cpu_supports("avx512f")) k = 2;
#endif
    atomic_store_explicit(&kernels, k, memory_order_relaxed);
    return k;
}

const char *pp_mm_kernels(void)
{
    return choose() == 2 ? "avx512" : "blas";
}

const char *pp_net_kernels(void)
{
    return pp_mm_kernels();
}

void pp_mm_nt(int M, int N, int K, const pp_real *A, int lda, const pp_real *B, int ldb, pp_real *C,
              int ldc)
{
    if (M <= 0 || N <= 0) return;
#if PP_HAVE_AVX512_KERNELS
    if (choose() == 2) {
        pp_mm_nt_avx512(M, N, K, A, lda, B, ldb, C, ldc);
        return;
    }
#endif
    pp_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, A, lda, B, ldb, 0, C, ldc);
}

void pp_mm_nn(int M, int N, int K, const pp_real *A, int rsa, int csa, const pp_real *B, int ldb,
              pp_real *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
#if PP_HAVE_AVX512_KERNELS
    if (choose() == 2) {
        pp_mm_nn_avx512(M, N, K, A, rsa, csa, B, ldb, C, ldc);
        return;
    }
#endif
    /* the CBLAS takes A as a row-major matrix (leading dimension ≥ K) or its transpose */
    if (csa == 1 && rsa >= (K > 1 ? K : 1))
        pp_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, A, rsa, B, ldb, 0, C, ldc);
    else
        pp_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, K, 1, A, csa, B, ldb, 0, C, ldc);
}
