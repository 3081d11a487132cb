/* In-memory datasets: allocation, validation, minibatch assembly. */
#include "paraprop/data.h"

#include "clones.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void pp_data_free(pp_data *x)
{
    if (!x) return;
    free(x->u8);
    free(x->f32);
    free(x->labels);
    free(x->targets);
    memset(x, 0, sizeof *x);
}

pp_status pp_data_alloc(pp_data *x, size_t n, size_t d, size_t k, int bytes, int labelled)
{
    memset(x, 0, sizeof *x);
    x->n = n;
    x->d = d;
    x->k = k;
    x->scale = 1.0;
    size_t nn = n ? n : 1, ni = nn * d, nk = nn * k;
    if (d && nn > SIZE_MAX / d / sizeof(float))
        return pp_error(PP_ERR_NOMEM, "%zu × %zu inputs do not fit in memory", n, d);
    if (bytes)
        x->u8 = calloc(ni ? ni : 1, 1);
    else
        x->f32 = calloc(ni ? ni : 1, sizeof(float));
    if (labelled)
        x->labels = calloc(nn, sizeof(int32_t));
    else
        x->targets = calloc(nk ? nk : 1, sizeof(float));
    if ((bytes ? !x->u8 : !x->f32) || (labelled ? !x->labels : !x->targets)) {
        pp_data_free(x);
        return pp_error(PP_ERR_NOMEM, "cannot allocate %zu samples of %zu inputs", n, d);
    }
    return pp_ok();
}

pp_status pp_data_validate(const pp_data *x, const char *what)
{
    if (x->labels)
        for (size_t i = 0; i < x->n; i++)
            if (x->labels[i] < 0 || (size_t)x->labels[i] >= x->k)
                return pp_error(PP_ERR_INPUT,
                                "%s: label %ld of sample %zu is out of range [0, %zu)", what,
                                (long)x->labels[i], i, x->k);
    if (x->f32)
        for (size_t i = 0; i < x->n * x->d; i++)
            if (!isfinite(x->f32[i]))
                return pp_error(PP_ERR_INPUT, "%s: input %zu of sample %zu is not finite", what,
                                i % x->d, i / x->d);
    if (x->targets)
        for (size_t i = 0; i < x->n * x->k; i++)
            if (!isfinite(x->targets[i]))
                return pp_error(PP_ERR_INPUT, "%s: target %zu of sample %zu is not finite", what,
                                i % x->k, i / x->k);
    if (x->u8 && !(isfinite(x->scale) && x->scale > 0))
        return pp_error(PP_ERR_INPUT, "%s: attribute 'scale' must be a positive finite number",
                        what);
    return pp_ok();
}

PP_CLONES void pp_data_gather(const pp_data *x, const uint32_t *ids, pp_workspace *ws, size_t r0,
                              size_t r1)
{
    const size_t d = x->d, k = x->k;
    const pp_real scale = (pp_real)x->scale;
    /* The rows are scattered over the training set, so each one starts with cache misses; ask
     * for all of them first so that the misses overlap instead of queueing row by row (W1's
     * gather of 10 rows: 7.0 -> see docs/PERFORMANCE.md). */
    const size_t row_bytes = d * (x->u8 ? 1 : sizeof(float));
    for (size_t r = r0; r < r1; r++) {
        const char *src =
            x->u8 ? (const char *)(x->u8 + ids[r] * d) : (const char *)(x->f32 + ids[r] * d);
        for (size_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(src + b);
    }
    for (size_t r = r0; r < r1; r++) {
        const size_t s = ids[r];
        if (ws->ids) ws->ids[r] = ws->keys ? ws->keys[r] : ids[r]; /* the masks' sample keys */
        pp_real *in = ws->act[0] + r * d;
        if (x->u8) {
            const uint8_t *src = x->u8 + s * d;
            for (size_t j = 0; j < d; j++) in[j] = (pp_real)src[j] * scale;
        } else {
            const float *src = x->f32 + s * d;
            for (size_t j = 0; j < d; j++) in[j] = (pp_real)src[j];
        }
        pp_real *y = ws->y + r * k;
        if (x->labels) {
            memset(y, 0, k * sizeof *y);
            y[x->labels[s]] = 1;
        } else {
            for (size_t j = 0; j < k; j++) y[j] = (pp_real)x->targets[s * k + j];
        }
    }
}
