/* Philox4x32-10 (Salmon et al., SC'11) and the draws built on it. */
#include "paraprop/rng.h"

#include <math.h>

static inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi)
{
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

void pp_philox4x32(uint64_t key, const uint32_t ctr[4], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0);
        uint32_t lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

static void draw(uint64_t seed, uint32_t purpose, uint32_t stream, uint64_t index, uint32_t o[4])
{
    const uint32_t ctr[4] = {(uint32_t)index, (uint32_t)(index >> 32), stream, purpose};
    pp_philox4x32(seed, ctr, o);
}

uint64_t pp_rng_u64(uint64_t seed, uint32_t purpose, uint32_t stream, uint64_t index)
{
    uint32_t o[4];
    draw(seed, purpose, stream, index, o);
    return ((uint64_t)o[1] << 32) | o[0];
}

/* 53 random bits mapped to (0,1): never 0, so log() below is finite. */
static double to_open01(uint64_t bits)
{
    return ((double)(bits >> 11) + 0.5) * 0x1.0p-53;
}

double pp_rng_uniform(uint64_t seed, uint32_t purpose, uint32_t stream, uint64_t index)
{
    return to_open01(pp_rng_u64(seed, purpose, stream, index));
}

double pp_rng_normal(uint64_t seed, uint32_t purpose, uint32_t stream, uint64_t index)
{
    uint32_t o[4];
    draw(seed, purpose, stream, index, o);
    double u1 = to_open01(((uint64_t)o[1] << 32) | o[0]);
    double u2 = to_open01(((uint64_t)o[3] << 32) | o[2]);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

void pp_rng_dropout4(uint64_t seed, uint64_t step, uint32_t sample, int layer, uint32_t g,
                     uint32_t out[4])
{
    const uint32_t ctr[4] = {g, sample, (uint32_t)step,
                             (uint32_t)PP_RNG_DROPOUT | ((uint32_t)layer & 0xffu) << 8 |
                                 (uint32_t)((step >> 32) & 0xffffu) << 16};
    pp_philox4x32(seed, ctr, out);
}

void pp_rng_permutation(uint64_t seed, uint32_t epoch, size_t n, uint32_t *perm)
{
    for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
    for (size_t i = n; i > 1; i--) {
        /* Lemire's multiply-shift: j uniform in [0, i) up to a 2^-64 bias. */
        uint64_t r = pp_rng_u64(seed, PP_RNG_SHUFFLE, epoch, i);
        __extension__ typedef unsigned __int128 u128;
        size_t j = (size_t)(((u128)r * i) >> 64);
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}
