/* An in-memory labelled dataset and the assembly of minibatch rows from it. */
#ifndef PARAPROP_DATA_H
#define PARAPROP_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "paraprop/net.h"
#include "paraprop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* n samples of d inputs. Inputs are bytes (value = byte × scale) or float32; outputs are class
 * labels 0…k−1 (one-hot targets) or float32 targets (n × k). Exactly one of each pair is set. */
typedef struct pp_data {
    size_t n, d, k;
    uint8_t *u8;     /* (n, d) or NULL */
    float *f32;      /* (n, d) or NULL */
    double scale;    /* for u8 */
    int32_t *labels; /* (n) or NULL */
    float *targets;  /* (n, k) or NULL */
} pp_data;

/* Allocates storage for n samples of the given kinds (zeroed). */
pp_status pp_data_alloc(pp_data *x, size_t n, size_t d, size_t k, int bytes, int labelled);
void pp_data_free(pp_data *x);

/* Checks labels in [0, k) and float inputs/targets finite; names `what` in the message. */
pp_status pp_data_validate(const pp_data *x, const char *what);

/* Copies samples ids[r0…r1) into rows r0…r1 of ws->act[0] and ws->y (and the ids into ws->ids
 * when the workspace drops units). */
void pp_data_gather(const pp_data *x, const uint32_t *ids, pp_workspace *ws, size_t r0, size_t r1);

#ifdef __cplusplus
}
#endif
#endif
