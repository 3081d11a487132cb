/* Private BLAS wrapper: one name for the float and double builds. */
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
 * threaded BLAS inside them would oversubscribe the cores. */
void pp_linalg_single_thread(void);

#endif
