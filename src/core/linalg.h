/* Private BLAS wrapper: one name for the float and double builds, and what the linked BLAS is. */
#ifndef PARAPROP_LINALG_H
#define PARAPROP_LINALG_H

#include <cblas.h>

#include "paraprop/precision.h"

#if PP_DOUBLE
#define pp_gemm cblas_dgemm
#else
#define pp_gemm cblas_sgemm
#endif

/* Makes the BLAS single-threaded: paraprop splits work over its own OpenMP threads, and a
 * threaded BLAS inside them would oversubscribe the cores. Knows OpenBLAS, BLIS and MKL; other
 * vendors are left as they are. */
void pp_linalg_single_thread(void);

/* The linked BLAS and the kernels it runs, e.g. "OpenBLAS 0.3.21 SKYLAKEX", "BLIS skx",
 * "CBLAS" (a vendor paraprop cannot ask). */
const char *pp_linalg_name(void);

/* How wide the vectors of the BLAS's kernels are against what the CPU offers: 1 when OpenBLAS
 * runs the kernels of the best core the CPU's features allow (pp_linalg_openblas_best_core),
 * 0 when it runs slower ones (OpenBLAS 0.3.21 picks by CPU model and falls back to SSE3 on
 * models it does not know), -1 when the BLAS is not OpenBLAS. */
int pp_linalg_blas_at_best(void);

/* The OPENBLAS_CORETYPE name of the fastest OpenBLAS 0.3.21 core the CPU's features allow
 * ("SkylakeX", "Haswell", "Sandybridge"), or NULL when OpenBLAS's own choice cannot be bettered. */
const char *pp_linalg_openblas_best_core(void);

/* OpenBLAS's own name for the core it runs, NULL when the BLAS is not OpenBLAS. */
const char *pp_linalg_openblas_core(void);

#endif
