/* BLAS set-up shared by the kernels. */
#include "linalg.h"

/* OpenBLAS exports this symbol (declared in its cblas.h). */
void pp_linalg_single_thread(void)
{
    openblas_set_num_threads(1);
}
