/* Prediction files written by `paraprop predict -o OUT.h5` (docs/INFERENCE.md). */
#ifndef PARAPROP_PREDICTIONS_H
#define PARAPROP_PREDICTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "paraprop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PP_PREDICTIONS_FORMAT "paraprop-predictions"
#define PP_PREDICTIONS_VERSION 1

/* Writes /outputs (n, k) float32 and, when classes is not NULL, /class (n) int32 and
 * /probability (n) float32, with root attributes format, format_version, model (its path) and
 * fingerprint; sealed like every file paraprop writes, written as PATH.tmp then renamed.
 * PP_ERR_WRITE naming the file on failure. */
pp_status pp_predictions_write(const char *path, size_t n, size_t k, const float *outputs,
                               const int32_t *classes, const float *probability, const char *model,
                               const char *fingerprint);

#ifdef __cplusplus
}
#endif
#endif
