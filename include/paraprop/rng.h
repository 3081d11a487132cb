/* Counter-based random numbers (Philox4x32-10): a value depends only on (seed, purpose, stream,
 * index), never on rank, thread or call order, so any decomposition draws the same numbers. */
#ifndef PARAPROP_RNG_H
#define PARAPROP_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a draw is for; distinct purposes never share a counter (4: the dropout masks, 5: the
 * validation hold-out). */
enum {
    PP_RNG_INIT = 1,
    PP_RNG_SHUFFLE = 2,
    PP_RNG_DATA = 3,
    PP_RNG_DROPOUT = 4,
    PP_RNG_VALIDATION = 5
};

/* Philox4x32-10 of a 128-bit counter under a 64-bit key. */
void pp_philox4x32(uint64_t key, const uint32_t ctr[4], uint32_t out[4]);

/* 64 random bits for (seed, purpose, stream, index). */
uint64_t pp_rng_u64(uint64_t seed, uint32_t purpose, uint32_t stream, uint64_t index);

/* Uniform double in the open interval (0, 1). */
double pp_rng_uniform(uint64_t seed, uint32_t purpose, uint32_t stream, uint64_t index);

/* Standard normal (Box–Muller on one counter's two 64-bit halves). */
double pp_rng_normal(uint64_t seed, uint32_t purpose, uint32_t stream, uint64_t index);

/* Dropout bits of units 4g … 4g+3 of layer `layer` for sample `sample` (its index in the
 * training set) at global step `step`: Philox4x32-10 under key `seed` of the counter
 *   { g, sample, step mod 2^32, PP_RNG_DROPOUT | layer << 8 | (step >> 32 mod 2^16) << 16 },
 * out[u] for unit 4g + u. A unit is kept when its 32 bits are ≥ ⌊p · 2^32⌋ (docs/CHECKPOINTS.md
 * and tools/reference_sgd.py recompute them). The low byte of the last word keeps these
 * counters apart from every other purpose's. */
void pp_rng_dropout4(uint64_t seed, uint64_t step, uint32_t sample, int layer, uint32_t g,
                     uint32_t out[4]);

/* Fills perm[0..n) with the permutation of epoch `epoch` (Fisher–Yates, counter-keyed). */
void pp_rng_permutation(uint64_t seed, uint32_t epoch, size_t n, uint32_t *perm);

#ifdef __cplusplus
}
#endif
#endif
