/* One rank's share of a minibatch step: the gradient SUM over its samples, OpenMP-threaded. */
#ifndef PARAPROP_BATCH_H
#define PARAPROP_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "paraprop/data.h"
#include "paraprop/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds spent, as seen by thread 0. */
typedef struct pp_batch_times {
    double data, compute;
} pp_batch_times;

/* Fast mode: the gradient SUM of samples ids[0…m) into grad (flat layout, overwritten) and the
 * sum of their costs as the return value. Threads split the rows for forward/backward and the
 * output neurons for ∇W, so each thread writes its own outputs. m may be 0 (grad becomes 0). */
double pp_batch_grad(const pp_arch *a, const pp_real *params, const pp_data *x, const uint32_t *ids,
                     size_t m, pp_workspace *ws, int threads, pp_real *grad, pp_batch_times *times);

#ifdef __cplusplus
}
#endif
#endif
