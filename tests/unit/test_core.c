/* Core unit tests (no MPI, no HDF5): RNG, activations and costs, the matrix-form backward pass
 * against a naive per-sample BP1–BP4 loop, the optimizer step, threading and exact mode. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paraprop/batch.h"
#include "paraprop/data.h"
#include "paraprop/exact.h"
#include "paraprop/fingerprint.h"
#include "paraprop/net.h"
#include "paraprop/optim.h"
#include "paraprop/rng.h"

#include "fault.h"  /* private to the core: the PARAPROP_FAULT parser of test builds */
#include "gemm.h"   /* private to the core: the kernels are tested directly */
#include "sha256.h" /* private: the SHA-256 engines, each against the other */

#include "check.h"

#if PP_DOUBLE
#define TOL 1e-10
#else
#define TOL 2e-4
#endif

static void test_philox(void)
{
    /* known-answer vectors of Random123 (kat_vectors, philox4x32_10) */
    uint32_t o[4];
    const uint32_t c0[4] = {0, 0, 0, 0};
    pp_philox4x32(0, c0, o);
    CHECK(o[0] == 0x6627e8d5u && o[1] == 0xe169c58du && o[2] == 0xbc57ac4cu && o[3] == 0x9b00dbd8u,
          "philox zero vector: %08x %08x %08x %08x", o[0], o[1], o[2], o[3]);
    const uint32_t c1[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    pp_philox4x32(0xffffffffffffffffull, c1, o);
    CHECK(o[0] == 0x408f276du && o[1] == 0x41c83b0eu && o[2] == 0xa20bc7c6u && o[3] == 0x6d5451fdu,
          "philox ones vector: %08x %08x %08x %08x", o[0], o[1], o[2], o[3]);
    const uint32_t c2[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
    pp_philox4x32(0x299f31d0a4093822ull, c2, o);
    CHECK(o[0] == 0xd16cfe09u && o[1] == 0x94fdccebu && o[2] == 0x5001e420u && o[3] == 0x24126ea1u,
          "philox pi vector: %08x %08x %08x %08x", o[0], o[1], o[2], o[3]);

    /* permutation: a permutation, seed- and epoch-dependent, reproducible */
    enum { N = 1000 };
    uint32_t *p = malloc(N * sizeof *p), *q = malloc(N * sizeof *q);
    int *seen = calloc(N, sizeof *seen);
    pp_rng_permutation(7, 3, N, p);
    for (int i = 0; i < N; i++) seen[p[i]]++;
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= seen[i] == 1;
    CHECK(ok, "permutation is not a permutation");
    pp_rng_permutation(7, 3, N, q);
    CHECK(memcmp(p, q, N * sizeof *p) == 0, "permutation not reproducible");
    pp_rng_permutation(7, 4, N, q);
    CHECK(memcmp(p, q, N * sizeof *p) != 0, "epochs give the same permutation");
    free(p);
    free(q);
    free(seen);

    /* normal draws: mean ≈ 0, variance ≈ 1 */
    double s = 0, s2 = 0;
    const int M = 200000;
    for (int i = 0; i < M; i++) {
        double x = pp_rng_normal(11, PP_RNG_INIT, 0, (uint64_t)i);
        s += x;
        s2 += x * x;
    }
    double mean = s / M, var = s2 / M - mean * mean;
    CHECK(fabs(mean) < 0.01 && fabs(var - 1) < 0.02, "normal: mean %g var %g", mean, var);
}

static void test_sha256_vectors(void)
{
    char hex[65];
    pp_sha256_hex("abc", 3, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
          "sha256(abc) = %s", hex);
    pp_sha256_hex("", 0, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
          "sha256('') = %s", hex);
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    pp_sha256_hex(m, strlen(m), hex);
    CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0,
          "sha256(448 bits) = %s", hex);
    /* streaming: every split of a 1000-byte message into two or three pieces equals one shot
     * (seals hash files in 1 MiB reads; the pieces cross the 64-byte block boundary here) */
    unsigned char msg[1000];
    for (int i = 0; i < 1000; i++) msg[i] = (unsigned char)(i * 31 + 7);
    uint8_t whole[32], part[32];
    pp_sha256(msg, sizeof msg, whole);
    int bad = 0;
    for (size_t a = 0; a <= 200; a += 7)
        for (size_t b = a; b <= 1000; b += 61) {
            pp_sha256_ctx c;
            pp_sha256_init(&c);
            pp_sha256_update(&c, msg, a);
            pp_sha256_update(&c, msg + a, b - a);
            pp_sha256_update(&c, msg + b, sizeof msg - b);
            pp_sha256_final(&c, part);
            bad += memcmp(whole, part, 32) != 0;
        }
    CHECK(bad == 0, "streaming SHA-256 differs from one-shot for %d splits", bad);
    /* one million 'a' (FIPS 180-2 test vector), fed in odd-sized pieces */
    pp_sha256_ctx c;
    pp_sha256_init(&c);
    unsigned char as[997];
    memset(as, 'a', sizeof as);
    size_t left = 1000000;
    while (left) {
        size_t k = left < sizeof as ? left : sizeof as;
        pp_sha256_update(&c, as, k);
        left -= k;
    }
    pp_sha256_final(&c, part);
    char h2[65];
    for (int i = 0; i < 32; i++) snprintf(h2 + 2 * i, 3, "%02x", part[i]);
    CHECK(strcmp(h2, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
          "sha256(10^6 x 'a') = %s", h2);
}

/* Each engine (SHA-NI where the CPU has it, and the portable C) meets the FIPS vectors, and both
 * give the same digest for every length 0-300 and a 1 MiB message fed in odd pieces. */
static void test_sha256(void)
{
    test_sha256_vectors();
    const char *best = pp_sha256_engine();
    enum { BIG = 1 << 20 };
    unsigned char *msg = malloc(BIG);
    if (!msg) return;
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < BIG; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        msg[i] = (unsigned char)x;
    }
    uint8_t d[2][302][32];
    for (int e = 0; e < 2; e++) {
        pp_sha256_use_c(e);
        for (size_t n = 0; n <= 300; n++) pp_sha256(msg + n, n, d[e][n]);
        pp_sha256_ctx c;
        pp_sha256_init(&c);
        for (size_t at = 0, k = 1; at < BIG; at += k, k = k * 7 % 4099 + 1)
            pp_sha256_update(&c, msg + at, at + k <= BIG ? k : BIG - at);
        pp_sha256_final(&c, d[e][301]);
    }
    pp_sha256_use_c(1);
    CHECK(strcmp(pp_sha256_engine(), "c") == 0, "forced engine is %s", pp_sha256_engine());
    test_sha256_vectors();
    pp_sha256_use_c(0);
    CHECK(strcmp(pp_sha256_engine(), best) == 0, "engine %s after the test, was %s",
          pp_sha256_engine(), best);
    int bad = 0;
    for (int n = 0; n < 302; n++) bad += memcmp(d[0][n], d[1][n], 32) != 0;
    CHECK(bad == 0, "SHA-256 engines %s and c differ on %d of 302 messages", best, bad);
    printf("sha256 engines: %s and c\n", best);
    free(msg);
}

/* ---- naive reference in double, per sample, straight from MATH.md ---- */
static double act_f(pp_activation a, double z)
{
    switch (a) {
    case PP_ACT_SIGMOID:
        return 1 / (1 + exp(-z));
    case PP_ACT_TANH:
        return tanh(z);
    case PP_ACT_RELU:
        return z > 0 ? z : 0;
    default:
        return z;
    }
}
static double act_d(pp_activation a, double z)
{
    switch (a) {
    case PP_ACT_SIGMOID:
        return act_f(a, z) * (1 - act_f(a, z));
    case PP_ACT_TANH:
        return 1 - tanh(z) * tanh(z);
    case PP_ACT_RELU:
        return z > 0;
    default:
        return 1;
    }
}

/* per-sample gradient SUM over m samples into g (double), returns the cost sum */
static double naive_grad(const pp_arch *A, const pp_real *p, const pp_real *x, const pp_real *y,
                         size_t m, double *g)
{
    const int L = A->L;
    double cost = 0;
    memset(g, 0, A->nparams * sizeof *g);
    double *z[PP_MAX_LAYERS + 1], *a[PP_MAX_LAYERS + 1], *d[PP_MAX_LAYERS + 1];
    for (int l = 0; l <= L; l++) {
        z[l] = calloc(A->n[l], sizeof(double));
        a[l] = calloc(A->n[l], sizeof(double));
        d[l] = calloc(A->n[l], sizeof(double));
    }
    for (size_t s = 0; s < m; s++) {
        for (size_t k = 0; k < A->n[0]; k++) a[0][k] = x[s * A->n[0] + k];
        for (int l = 1; l <= L; l++) {
            for (size_t j = 0; j < A->n[l]; j++) {
                double acc = p[A->b_off[l] + j];
                for (size_t k = 0; k < A->n[l - 1]; k++)
                    acc += (double)p[A->w_off[l] + j * A->n[l - 1] + k] * a[l - 1][k];
                z[l][j] = acc;
                a[l][j] = act_f(l == L ? A->output : A->hidden, acc);
            }
        }
        const size_t K = A->n[L];
        const pp_real *ys = y + s * K;
        if (A->output == PP_ACT_SOFTMAX) {
            double mx = z[L][0], sum = 0;
            for (size_t j = 1; j < K; j++) mx = fmax(mx, z[L][j]);
            for (size_t j = 0; j < K; j++) sum += exp(z[L][j] - mx);
            for (size_t j = 0; j < K; j++) a[L][j] = exp(z[L][j] - mx) / sum;
        }
        /* cost and ∂C/∂a, then BP1 */
        double ga[1024];
        for (size_t j = 0; j < K; j++) {
            double aj = a[L][j], yj = ys[j];
            switch (A->cost) {
            case PP_COST_QUADRATIC:
                cost += 0.5 * (aj - yj) * (aj - yj);
                ga[j] = aj - yj;
                break;
            case PP_COST_CROSS_ENTROPY:
                cost += -(yj * log(aj) + (1 - yj) * log(1 - aj));
                ga[j] = -yj / aj + (1 - yj) / (1 - aj);
                break;
            case PP_COST_LOG_LIKELIHOOD:
                if (yj != 0) cost += -yj * log(aj);
                ga[j] = yj != 0 ? -yj / aj : 0;
                break;
            }
        }
        if (A->output == PP_ACT_SOFTMAX) {
            /* full Jacobian: δⱼ = Σₖ ∂C/∂aₖ aₖ(δₖⱼ − aⱼ) */
            for (size_t j = 0; j < K; j++) {
                double acc = 0;
                for (size_t k = 0; k < K; k++) acc += ga[k] * a[L][k] * ((j == k) - a[L][j]);
                d[L][j] = acc;
            }
        } else {
            for (size_t j = 0; j < K; j++) d[L][j] = ga[j] * act_d(A->output, z[L][j]);
        }
        for (int l = L; l >= 1; l--) {
            for (size_t j = 0; j < A->n[l]; j++) {
                g[A->b_off[l] + j] += d[l][j]; /* BP3 */
                for (size_t k = 0; k < A->n[l - 1]; k++)
                    g[A->w_off[l] + j * A->n[l - 1] + k] += a[l - 1][k] * d[l][j]; /* BP4 */
            }
            if (l > 1)
                for (size_t k = 0; k < A->n[l - 1]; k++) { /* BP2 */
                    double acc = 0;
                    for (size_t j = 0; j < A->n[l]; j++)
                        acc += (double)p[A->w_off[l] + j * A->n[l - 1] + k] * d[l][j];
                    d[l - 1][k] = acc * act_d(A->hidden, z[l - 1][k]);
                }
        }
    }
    for (int l = 0; l <= L; l++) {
        free(z[l]);
        free(a[l]);
        free(d[l]);
    }
    return cost;
}

typedef struct pair {
    pp_activation hidden, output;
    pp_cost cost;
} pair;

static const pair PAIRS[] = {
    {PP_ACT_SIGMOID, PP_ACT_SOFTMAX, PP_COST_LOG_LIKELIHOOD},
    {PP_ACT_RELU, PP_ACT_SIGMOID, PP_COST_CROSS_ENTROPY},
    {PP_ACT_TANH, PP_ACT_SIGMOID, PP_COST_QUADRATIC},
    {PP_ACT_SIGMOID, PP_ACT_SOFTMAX, PP_COST_QUADRATIC},
    {PP_ACT_TANH, PP_ACT_IDENTITY, PP_COST_QUADRATIC},
    {PP_ACT_RELU, PP_ACT_TANH, PP_COST_QUADRATIC},
    {PP_ACT_IDENTITY, PP_ACT_RELU, PP_COST_QUADRATIC},
};

/* Random inputs/targets in a pp_data (float32) for m samples. */
static void make_data(pp_data *x, size_t m, size_t d, size_t k, pp_cost cost, uint64_t seed)
{
    pp_data_alloc(x, m, d, k, 0, 0);
    for (size_t i = 0; i < m * d; i++) x->f32[i] = (float)(2 * pp_rng_uniform(seed, 9, 0, i) - 1);
    for (size_t i = 0; i < m; i++) {
        size_t lab = (size_t)(pp_rng_u64(seed, 9, 1, i) % k);
        for (size_t j = 0; j < k; j++)
            x->targets[i * k + j] = cost == PP_COST_LOG_LIKELIHOOD
                                        ? (float)(j == lab)
                                        : (float)pp_rng_uniform(seed, 9, 2, i * k + j);
    }
}

static void test_backward_vs_naive(void)
{
    const size_t sizes[4] = {7, 9, 6, 4}, m = 13;
    for (size_t pi = 0; pi < sizeof PAIRS / sizeof PAIRS[0]; pi++) {
        const pair *pr = &PAIRS[pi];
        pp_arch A;
        pp_status st = pp_arch_init(&A, 3, sizes, pr->hidden, pr->output, pr->cost);
        CHECK(!st.code, "arch: %s", st.msg);
        pp_real *p = malloc(A.nparams * sizeof *p), *g = malloc(A.nparams * sizeof *g);
        double *gn = malloc(A.nparams * sizeof *gn);
        pp_net_init_params(&A, PP_INIT_NORMALIZED, 5 + pi, p);
        pp_data x;
        make_data(&x, m, sizes[0], sizes[3], pr->cost, 3 + pi);
        uint32_t ids[13];
        for (size_t i = 0; i < m; i++) ids[i] = (uint32_t)i;
        pp_workspace ws;
        pp_workspace_init(&ws, &A, m);
        for (int T = 1; T <= 2; T++) {
            double c = pp_batch_grad(&A, p, &x, ids, m, &ws, T, g, NULL);
            /* the net's own inputs after gather, so both see the same rounded values */
            double cn = naive_grad(&A, p, ws.act[0], ws.y, m, gn);
            double worst = 0, scale = 0;
            for (size_t i = 0; i < A.nparams; i++) {
                worst = fmax(worst, fabs((double)g[i] - gn[i]));
                scale = fmax(scale, fabs(gn[i]));
            }
            CHECK(worst <= TOL * (scale + 1),
                  "pair %zu T=%d: backward differs from naive by %g "
                  "(scale %g)",
                  pi, T, worst, scale);
            CHECK(fabs(c - cn) <= TOL * (fabs(cn) + 1), "pair %zu: cost %g vs naive %g", pi, c, cn);
        }
        pp_workspace_free(&ws);
        pp_data_free(&x);
        free(p);
        free(g);
        free(gn);
    }
}

static void test_refused_pairs(void)
{
    const size_t sizes[2] = {3, 2};
    pp_arch A;
    pp_status st = pp_arch_init(&A, 1, sizes, PP_ACT_SIGMOID, PP_ACT_RELU, PP_COST_CROSS_ENTROPY);
    CHECK(st.code == PP_ERR_USAGE && strstr(st.msg, "accepted pairs"), "relu+cross-entropy: %s",
          st.msg);
    st = pp_arch_init(&A, 1, sizes, PP_ACT_SIGMOID, PP_ACT_SIGMOID, PP_COST_LOG_LIKELIHOOD);
    CHECK(st.code == PP_ERR_USAGE, "sigmoid+log-likelihood accepted");
    st = pp_arch_init(&A, 1, sizes, PP_ACT_SOFTMAX, PP_ACT_SIGMOID, PP_COST_QUADRATIC);
    CHECK(st.code == PP_ERR_USAGE, "softmax hidden accepted");
}

static void test_stable_costs(void)
{
    /* a saturated output must give a finite, correct cost (log-sum-exp / softplus forms) */
    const size_t sizes[2] = {1, 2};
    pp_arch A;
    pp_arch_init(&A, 1, sizes, PP_ACT_SIGMOID, PP_ACT_SIGMOID, PP_COST_CROSS_ENTROPY);
    pp_real z[2] = {-200, 200}, a[2] = {0, 1}, y[2] = {1, 0};
    double c = pp_cost_row(&A, z, a, y);
    CHECK(isfinite(c) && fabs(c - 400) < 1e-6, "cross-entropy saturated: %g", c);
    pp_arch_init(&A, 1, sizes, PP_ACT_SIGMOID, PP_ACT_SOFTMAX, PP_COST_LOG_LIKELIHOOD);
    pp_real z2[2] = {1000, -1000}, y2[2] = {0, 1};
    c = pp_cost_row(&A, z2, a, y2);
    CHECK(isfinite(c) && fabs(c - 2000) < 1e-6, "log-likelihood saturated: %g", c);
}

static void test_optimizer(void)
{
    const size_t sizes[2] = {2, 1};
    pp_arch A;
    pp_arch_init(&A, 1, sizes, PP_ACT_SIGMOID, PP_ACT_SIGMOID, PP_COST_QUADRATIC);
    pp_real p[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.4f, 0.8f, -0.2f}, v[3] = {0, 0, 0};
    pp_optim o = {0.1, 5.0, 0.0, 100};
    pp_optim_step(&A, &o, p, NULL, g, 4, 1);
    /* w ← (1 − ηλ/N) w − η (g/n); biases without decay */
    CHECK(fabs(p[0] - (0.995 * 1.0 - 0.1 * 0.1)) < 1e-6, "sgd w0 %g", (double)p[0]);
    CHECK(fabs(p[1] - (0.995 * -2.0 - 0.1 * 0.2)) < 1e-6, "sgd w1 %g", (double)p[1]);
    CHECK(fabs(p[2] - (0.5 + 0.1 * 0.05)) < 1e-6, "sgd b %g", (double)p[2]);
    pp_real q[3] = {1.0f, -2.0f, 0.5f};
    pp_optim om = {0.1, 5.0, 0.9, 100};
    v[0] = 0.5f;
    pp_optim_state vs = {v, NULL, NULL, 0};
    pp_optim_step(&A, &om, q, &vs, g, 4, 1);
    /* v ← μv − η(g/n + λ/N w); w ← w + v */
    double v0 = 0.9 * 0.5 - 0.1 * (0.1 + 0.05 * 1.0);
    CHECK(fabs(v[0] - v0) < 1e-6 && fabs(q[0] - (1.0 + v0)) < 1e-6, "momentum w0 %g v0 %g",
          (double)q[0], (double)v[0]);
    double vb = -0.1 * (-0.05);
    CHECK(fabs(q[2] - (0.5 + vb)) < 1e-6, "momentum bias %g", (double)q[2]);
}

/* Issue 12's optimizers on one step from a zero state, against the formulas of optim.h, and
 * Adam's bits at 1 and 2 threads. */
static void test_optimizers(void)
{
    const size_t sizes[2] = {2, 1};
    pp_arch A;
    pp_arch_init(&A, 1, sizes, PP_ACT_SIGMOID, PP_ACT_SIGMOID, PP_COST_QUADRATIC);
    const pp_real g[3] = {0.4f, -0.8f, -0.2f}; /* sums over n = 4: g/n = 0.1, −0.2, −0.05 */
    /* sgd + L1: w ← w − η(g/n + (λ₁/N) sign w) */
    pp_real p[3] = {1.0f, -2.0f, 0.5f};
    pp_optim o = {0.1, 0.0, 0.0, 100};
    o.l1 = 2.0;
    pp_optim_step(&A, &o, p, NULL, g, 4, 1);
    CHECK(fabs(p[0] - (1.0 - 0.1 * (0.1 + 0.02))) < 1e-6 &&
              fabs(p[1] - (-2.0 - 0.1 * (-0.2 - 0.02))) < 1e-6 && fabs(p[2] - 0.505) < 1e-6,
          "sgd + L1: %g %g %g", (double)p[0], (double)p[1], (double)p[2]);
    pp_real z[3] = {0.0f, 1.0f, 0.0f};
    pp_optim_step(&A, &o, z, NULL, g, 4, 1);
    CHECK(fabs(z[0] - (-0.01)) < 1e-7, "L1's sign(0) is 0: %g", (double)z[0]);
    /* nesterov from v = 0: v = −η g', w ← w + μ v − η g' */
    pp_real q[3] = {1.0f, -2.0f, 0.5f}, v[3] = {0, 0, 0};
    pp_optim on = {0.1, 5.0, 0.9, 100};
    on.kind = PP_OPT_NESTEROV;
    pp_optim_state sn = {v, NULL, NULL, 0};
    pp_optim_step(&A, &on, q, &sn, g, 4, 1);
    double g0 = 0.1 + 0.05 * 1.0, v0 = -0.1 * g0;
    CHECK(fabs(v[0] - v0) < 1e-6 && fabs(q[0] - (1.0 + 0.9 * v0 - 0.1 * g0)) < 1e-6 && sn.t == 1,
          "nesterov w0 %g v0 %g t %lld", (double)q[0], (double)v[0], (long long)sn.t);
    /* adam, first step: m̂ = g, v̂ = g², so w moves by η g/(|g| + ε) */
    pp_optim oa = {0.01, 0.0, 0.0, 100};
    oa.kind = PP_OPT_ADAM;
    oa.beta1 = 0.9;
    oa.beta2 = 0.999;
    oa.eps = 1e-8;
    pp_optim_state sa;
    pp_status st = pp_optim_state_init(&sa, &oa, A.nparams);
    CHECK(!st.code && sa.m && sa.v && !sa.vel, "adam state: %s", st.msg);
    pp_real r[3] = {1.0f, -2.0f, 0.5f};
    pp_optim_step(&A, &oa, r, &sa, g, 4, 1);
    CHECK(fabs(r[0] - (1.0 - 0.01)) < 1e-6 && fabs(r[1] - (-2.0 + 0.01)) < 1e-6 &&
              fabs(r[2] - (0.5 + 0.01)) < 1e-6,
          "adam step 1: %g %g %g", (double)r[0], (double)r[1], (double)r[2]);
    CHECK(fabs(sa.m[0] - 0.1 * 0.1) < 1e-7 && fabs(sa.v[0] - 0.001 * 0.01) < 1e-9 && sa.t == 1,
          "adam moments m %g v %g t %lld", (double)sa.m[0], (double)sa.v[0], (long long)sa.t);
    pp_optim_state_free(&sa);
    /* adamw: the decay c w beside the step, no L2 in the moments */
    pp_optim ow = oa;
    ow.kind = PP_OPT_ADAMW;
    ow.lambda = 50.0; /* c = ηλ/N = 0.005 */
    pp_optim_state_init(&sa, &ow, A.nparams);
    pp_real u[3] = {1.0f, -2.0f, 0.5f};
    pp_optim_step(&A, &ow, u, &sa, g, 4, 1);
    CHECK(fabs(u[0] - (1.0 - 0.005 - 0.01)) < 1e-6 && fabs(sa.m[0] - 0.01) < 1e-7 &&
              fabs(u[2] - 0.51) < 1e-6,
          "adamw step 1: %g m %g b %g", (double)u[0], (double)sa.m[0], (double)u[2]);
    pp_optim_state_free(&sa);

    /* Adam over a layer large enough to be threaded: the same bits at 1 and 2 threads */
    const size_t big[2] = {1000, 100};
    pp_arch B;
    pp_arch_init(&B, 1, big, PP_ACT_SIGMOID, PP_ACT_SIGMOID, PP_COST_QUADRATIC);
    const size_t P = B.nparams;
    pp_real *w1 = malloc(P * sizeof *w1), *w2 = malloc(P * sizeof *w2),
            *gr = malloc(P * sizeof *gr);
    for (size_t i = 0; i < P; i++) {
        w1[i] = w2[i] = (pp_real)pp_rng_normal(3, PP_RNG_DATA, 0, i);
        gr[i] = (pp_real)pp_rng_normal(3, PP_RNG_DATA, 1, i);
    }
    pp_optim ob = oa;
    ob.lambda = 1.0;
    ob.l1 = 0.5;
    pp_optim_state s1, s2;
    pp_optim_state_init(&s1, &ob, P);
    pp_optim_state_init(&s2, &ob, P);
    for (int k = 0; k < 3; k++) {
        pp_optim_step(&B, &ob, w1, &s1, gr, 10, 1);
        pp_optim_step(&B, &ob, w2, &s2, gr, 10, 2);
    }
    CHECK(memcmp(w1, w2, P * sizeof *w1) == 0 && memcmp(s1.m, s2.m, P * sizeof *w1) == 0 &&
              memcmp(s1.v, s2.v, P * sizeof *w1) == 0,
          "adam: 1 and 2 threads give other bits");
    pp_optim_state_free(&s1);
    pp_optim_state_free(&s2);
    free(w1);
    free(w2);
    free(gr);
}

/* Dropout masks: the documented Philox counter, a keep rate of 1 − p, and masks that follow
 * the sample index whatever the row or the split of the rows. */
static void test_dropout(void)
{
    /* the counter of rng.h, with a step above 2^32 */
    uint32_t a[4], b[4];
    const uint64_t step = 0x500000007ull;
    pp_rng_dropout4(9, step, 123, 2, 5, a);
    const uint32_t ctr[4] = {5, 123, 7, 4u | 2u << 8 | 5u << 16};
    pp_philox4x32(9, ctr, b);
    CHECK(memcmp(a, b, sizeof a) == 0, "dropout counter layout");

    const size_t sizes[4] = {5, 37, 11, 3}, m = 40;
    pp_arch A;
    pp_arch_init(&A, 3, sizes, PP_ACT_SIGMOID, PP_ACT_SOFTMAX, PP_COST_LOG_LIKELIHOOD);
    pp_real *p = malloc(A.nparams * sizeof *p);
    pp_net_init_params(&A, PP_INIT_NORMALIZED, 4, p);
    pp_dropout d;
    memset(&d, 0, sizeof d);
    d.p[1] = 0.3;
    d.p[2] = 0.6;
    d.seed = 11;
    d.step = 17;
    pp_workspace w1, w2;
    pp_workspace_init(&w1, &A, m);
    pp_workspace_init(&w2, &A, m);
    pp_status st = pp_workspace_dropout(&w1, &A, &d);
    CHECK(!st.code && w1.ids && w1.dmul[1] && w1.dmul[2] && !w1.dmul[3], "dropout workspace");
    pp_workspace_dropout(&w2, &A, &d);
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < sizes[0]; j++)
            w1.act[0][i * sizes[0] + j] = (pp_real)pp_rng_uniform(2, PP_RNG_DATA, 0, i * 5 + j);
        w1.ids[i] = (uint32_t)(1000 + i);
        /* w2: the rows in reverse order */
        memcpy(w2.act[0] + (m - 1 - i) * sizes[0], w1.act[0] + i * sizes[0],
               sizes[0] * sizeof(pp_real));
        w2.ids[m - 1 - i] = w1.ids[i];
    }
    pp_net_forward(&A, p, &w1, 0, m);
    pp_net_forward(&A, p, &w2, 0, 7); /* and split in two calls */
    pp_net_forward(&A, p, &w2, 7, m);
    for (int l = 1; l <= 2; l++) {
        size_t kept = 0, same = 1;
        const pp_real scale = (pp_real)(1.0 / (1.0 - d.p[l]));
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < sizes[l]; j++) {
                const pp_real x = w1.act[l][i * sizes[l] + j];
                const pp_real y = w2.act[l][(m - 1 - i) * sizes[l] + j];
                kept += x != 0;
                same &= (x != 0) == (y != 0);
                /* a kept sigmoid unit is σ·1/(1−p) > 0: above the undropped bound 1 only by it */
                same &= x == 0 || x <= scale;
            }
        double rate = (double)kept / (double)(m * sizes[l]);
        CHECK(same, "layer %d: masks depend on the row or the split", l);
        CHECK(fabs(rate - (1 - d.p[l])) < 0.08, "layer %d keeps %g, expected %g", l, rate,
              1 - d.p[l]);
    }
    /* another step draws other masks */
    pp_real *keep1 = malloc(m * sizes[1] * sizeof *keep1);
    memcpy(keep1, w1.act[1], m * sizes[1] * sizeof *keep1);
    d.step = 18;
    pp_net_forward(&A, p, &w1, 0, m);
    size_t differ = 0;
    for (size_t i = 0; i < m * sizes[1]; i++) differ += (keep1[i] != 0) != (w1.act[1][i] != 0);
    CHECK(differ > 0, "step 17 and 18 draw the same masks");
    free(keep1);
    pp_workspace_free(&w1);
    pp_workspace_free(&w2);
    free(p);
}

/* The L2 decay c = ηλ/N must act with its own value, not rounded into a factor 1 − c: in float
 * that factor moved the main job's c (8.3e-6) by 0.14 % and was exactly 1 for c below ~3e-8.
 * One step with λ against the same step without it, over many weights: the mean relative
 * difference is c (one weight alone cannot show a change below its rounding, but the roundings
 * of 10^5 weights average to it). */
static double mean_decay(double eta, double lambda, size_t ntrain)
{
    const size_t sizes[2] = {1000, 100};
    pp_arch A;
    pp_arch_init(&A, 1, sizes, PP_ACT_SIGMOID, PP_ACT_SIGMOID, PP_COST_QUADRATIC);
    size_t P = A.nparams, nw = 1000 * 100;
    pp_real *p = malloc(P * sizeof *p), *q = malloc(P * sizeof *q), *g = malloc(P * sizeof *g);
    uint64_t x = 12345;
    for (size_t i = 0; i < P; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(x >> 11) / 9007199254740992.0; /* [0, 1) */
        p[i] = (pp_real)(0.5 + 0.5 * u);
        g[i] = (pp_real)(0.1 * (u - 0.37) * (double)(i % 7 + 1)); /* η g/n ~ 1e-3 */
    }
    memcpy(q, p, P * sizeof *p);
    pp_optim with = {eta, lambda, 0.0, ntrain}, without = {eta, 0.0, 0.0, ntrain};
    pp_optim_step(&A, &with, p, NULL, g, 10, 1);
    pp_real *orig = malloc(P * sizeof *orig);
    memcpy(orig, q, P * sizeof *q);
    pp_optim_step(&A, &without, q, NULL, g, 10, 1);
    double num = 0, den = 0;
    for (size_t i = 0; i < nw; i++) {
        num += (double)q[i] - (double)p[i];
        den += (double)orig[i];
    }
    int bias_same = memcmp(p + nw, q + nw, (P - nw) * sizeof *p) == 0;
    CHECK(bias_same, "L2 decay touched a bias");
    free(p);
    free(q);
    free(g);
    free(orig);
    return num / den;
}

static void test_l2_decay(void)
{
    /* the main job: η 0.1, λ 5, N 60000 */
    double c = 0.1 * 5 / 60000, m = mean_decay(0.1, 5, 60000);
    CHECK(fabs(m / c - 1) < 2e-4, "main-job decay %.6g, expected c = %.6g (%.3f %% off)", m, c,
          100 * (m / c - 1));
    /* a large N with a tiny λ: c = 1e-8, where 1 − c rounds to exactly 1 in float */
    c = 0.1 * 0.1 / 1e6;
    m = mean_decay(0.1, 0.1, 1000000);
    CHECK(fabs(m / c - 1) < 0.1, "tiny-c decay %.6g, expected c = %.6g", m, c);
}

/* Exact mode, simulated over R "ranks" in one process: the int64 sums of all shards must give
 * the same bits for every R and thread count, and agree with a float64 reference. */
static void exact_grad(const pp_arch *A, const pp_real *p, const pp_data *x, const uint32_t *ids,
                       size_t n, int R, int T, pp_real *out)
{
    size_t P = A->nparams;
    int64_t *acc = calloc(P, sizeof *acc);
    double gmax[2 * PP_MAX_LAYERS] = {0};
    pp_exact ex[8];
    pp_workspace ws[8];
    size_t lo[8], hi[8];
    for (int r = 0; r < R; r++) {
        pp_exact_shard(n, r, R, &lo[r], &hi[r]);
        pp_exact_init(&ex[r], A, T);
        pp_workspace_init(&ws[r], A, hi[r] - lo[r] ? hi[r] - lo[r] : 1);
        pp_exact_forward_backward(&ex[r], A, p, x, ids + lo[r], hi[r] - lo[r], &ws[r], NULL);
        for (int i = 0; i < ex[r].nmax; i++) gmax[i] = fmax(gmax[i], ex[r].maxes[i]);
    }
    for (int r = 0; r < R; r++) {
        memcpy(ex[r].maxes, gmax, sizeof gmax);
        pp_status st = pp_exact_accumulate(&ex[r], A, &ws[r], hi[r] - lo[r], n, NULL);
        CHECK(!st.code, "exact accumulate: %s", st.msg);
        for (size_t i = 0; i < P; i++) acc[i] += ex[r].acc[i];
    }
    memcpy(ex[0].acc, acc, P * sizeof *acc);
    pp_exact_finish(&ex[0], A, out);
    for (int r = 0; r < R; r++) {
        pp_exact_free(&ex[r]);
        pp_workspace_free(&ws[r]);
    }
    free(acc);
}

/* The split way (run/reduce.h): R "ranks" forward and backward their blocks into one workspace
 * of all n rows, then each finishes part r of every layer's tiles from all rows into one
 * gradient; T threads each. */
static void exact_grad_split(const pp_arch *A, const pp_real *p, const pp_data *x,
                             const uint32_t *ids, size_t n, int R, int T, pp_real *out)
{
    pp_exact ex[8];
    pp_workspace ws;
    pp_workspace_init(&ws, A, n);
    double gmax[2 * PP_MAX_LAYERS] = {0};
    for (int r = 0; r < R; r++) {
        size_t lo, hi;
        pp_exact_shard(n, r, R, &lo, &hi);
        pp_exact_init(&ex[r], A, T);
        pp_exact_forward_backward_rows(&ex[r], A, p, x, ids, lo, hi, &ws, NULL);
        for (int i = 0; i < ex[r].nmax; i++) gmax[i] = fmax(gmax[i], ex[r].maxes[i]);
    }
    memset(out, 0xff, A->nparams * sizeof *out); /* every entry must be written by some part */
    for (int r = 0; r < R; r++) {
        memcpy(ex[r].maxes, gmax, sizeof gmax);
        pp_status st = pp_exact_accumulate_part(&ex[r], A, &ws, n, n, out, r, R);
        CHECK(!st.code, "exact accumulate part %d of %d: %s", r, R, st.msg);
    }
    for (int r = 0; r < R; r++) pp_exact_free(&ex[r]);
    pp_workspace_free(&ws);
}

static void test_exact_mode(void)
{
    const size_t sizes[3] = {20, 16, 5};
    const size_t n = 150; /* 3 blocks of 64, the last one short: uneven shards */
    pp_arch A;
    pp_arch_init(&A, 2, sizes, PP_ACT_TANH, PP_ACT_SOFTMAX, PP_COST_LOG_LIKELIHOOD);
    pp_real *p = malloc(A.nparams * sizeof *p), *g0 = malloc(A.nparams * sizeof *g0),
            *g = malloc(A.nparams * sizeof *g);
    double *gr = malloc(A.nparams * sizeof *gr);
    pp_net_init_params(&A, PP_INIT_NORMALIZED, 2, p);
    pp_data x;
    make_data(&x, n, sizes[0], sizes[2], PP_COST_LOG_LIKELIHOOD, 17);
    /* large dynamic range in the inputs: tiny and huge entries in one layer */
    for (size_t i = 0; i < n * sizes[0]; i += 7) x.f32[i] *= 1e-6f;
    for (size_t i = 3; i < n * sizes[0]; i += 11) x.f32[i] *= 1e3f;
    uint32_t *ids = malloc(n * sizeof *ids);
    pp_rng_permutation(4, 0, n, ids);
    exact_grad(&A, p, &x, ids, n, 1, 1, g0);
    int same = 1;
    for (int R = 1; R <= 4; R++)
        for (int T = 1; T <= 2; T++) {
            exact_grad(&A, p, &x, ids, n, R, T, g);
            int eq = memcmp(g, g0, A.nparams * sizeof *g) == 0;
            CHECK(eq, "exact gradient differs at R=%d T=%d", R, T);
            same &= eq;
            exact_grad_split(&A, p, &x, ids, n, R, T, g);
            CHECK(memcmp(g, g0, A.nparams * sizeof *g) == 0,
                  "exact gradient, split way, differs at R=%d T=%d", R, T);
        }
    (void)same;
    /* 300-48-7: large enough (m·P ≥ 7e5) that exact mode's threads split each layer's units
     * rather than the blocks; 1100-1000-7: a first layer of over 2^20 weights, whose full blocks
     * run on planned products where oneDNN is built (exact.c), the short last block not */
    for (int big_case = 0; big_case < 2; big_case++) {
        const size_t big[3] = {big_case ? 1100 : 300, big_case ? 1000 : 48, 7};
        pp_arch B;
        pp_arch_init(&B, 2, big, PP_ACT_RELU, PP_ACT_SOFTMAX, PP_COST_LOG_LIKELIHOOD);
        pp_real *pb = malloc(B.nparams * sizeof *pb), *h0 = malloc(B.nparams * sizeof *h0),
                *h = malloc(B.nparams * sizeof *h);
        pp_net_init_params(&B, PP_INIT_NORMALIZED, 5, pb);
        pp_data xb;
        make_data(&xb, n, big[0], big[2], PP_COST_LOG_LIKELIHOOD, 23);
        exact_grad(&B, pb, &xb, ids, n, 1, 1, h0);
        if (big_case) {
            pp_exact e;
            pp_exact_init(&e, &B, 1);
            /* forward and ∇W of the first layer (the second is small) */
            const int want = strstr(pp_net_kernels(), "oneDNN") && !getenv("PARAPROP_KERNELS");
            CHECK(pp_exact_planned(&e) == (want ? 2 : 0),
                  "exact mode: %d planned products, %d expected", pp_exact_planned(&e),
                  want ? 2 : 0);
            pp_exact_free(&e);
        }
        for (int R = 1; R <= 3; R++)
            for (int T = 1; T <= 3; T++) {
                exact_grad(&B, pb, &xb, ids, n, R, T, h);
                CHECK(memcmp(h, h0, B.nparams * sizeof *h) == 0,
                      "exact gradient (%zu-%zu-7) differs at R=%d T=%d", big[0], big[1], R, T);
                exact_grad_split(&B, pb, &xb, ids, n, R, T, h);
                CHECK(memcmp(h, h0, B.nparams * sizeof *h) == 0,
                      "exact gradient (%zu-%zu-7), split way, differs at R=%d T=%d", big[0], big[1],
                      R, T);
            }
        free(pb);
        free(h0);
        free(h);
        pp_data_free(&xb);
    }
    /* precision: against a float64 sum of the same per-sample float32 terms. The documented
     * bound (docs/REPRODUCIBILITY.md): |exact − ref| ≤ u·|ref| + (B−1)·u·Σ|terms| with u = 2⁻²⁴
     * and B = PP_EXACT_BLOCK, plus the fixed-point quantum (⌈n/B⌉ · ½ · 2^−shift, shift ≈ 61 −
     * log2(n·max|δ|·max|a|)), where float32 recursive summation only guarantees
     * (n−1)·u·Σ|terms|. */
    pp_workspace ws;
    pp_workspace_init(&ws, &A, n);
    double *sabs = calloc(A.nparams, sizeof *sabs);
    pp_exact ex;
    pp_exact_init(&ex, &A, 1);
    pp_exact_forward_backward(&ex, &A, p, &x, ids, n, &ws, NULL);
    /* the very δ and a values the blocks summed; products in double are exact */
    memset(gr, 0, A.nparams * sizeof *gr);
    for (int l = 1; l <= A.L; l++)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < A.n[l]; j++) {
                double d = ws.delta[l][i * A.n[l] + j];
                gr[A.b_off[l] + j] += d;
                sabs[A.b_off[l] + j] += fabs(d);
                for (size_t k = 0; k < A.n[l - 1]; k++) {
                    double t = d * ws.act[l - 1][i * A.n[l - 1] + k];
                    gr[A.w_off[l] + j * A.n[l - 1] + k] += t;
                    sabs[A.w_off[l] + j * A.n[l - 1] + k] += fabs(t);
                }
            }
    /* the fixed-point quantum of each layer: one rounding of ½·2^−shift per block */
    pp_exact_accumulate(&ex, &A, &ws, n, n, NULL);
    {
        /* one rank: the sums straight into the gradient, tile by tile, give pp_exact_finish's
         * bits */
        pp_real *fin = malloc(A.nparams * sizeof *fin), *direct = malloc(A.nparams * sizeof *fin);
        pp_exact_finish(&ex, &A, fin);
        memset(direct, 0xff, A.nparams * sizeof *direct);
        pp_exact_accumulate(&ex, &A, &ws, n, n, direct);
        CHECK(memcmp(fin, direct, A.nparams * sizeof *fin) == 0,
              "exact: accumulating into the gradient differs from pp_exact_finish");
        free(fin);
        free(direct);
    }
    double *quant = malloc(A.nparams * sizeof *quant);
    const double nblocks = (double)((n + PP_EXACT_BLOCK - 1) / PP_EXACT_BLOCK);
    for (int l = 1; l <= A.L; l++) {
        for (size_t k = A.w_off[l]; k < A.b_off[l]; k++)
            quant[k] = nblocks * ldexp(0.5, -ex.wshift[l]);
        for (size_t k = A.b_off[l]; k < A.b_off[l] + A.n[l]; k++)
            quant[k] = nblocks * ldexp(0.5, -ex.bshift[l]);
    }
    pp_exact_free(&ex);
    const double u = PP_DOUBLE ? 0x1p-53 : 0x1p-24;
    double worst = 0;
    size_t bad = 0;
    for (size_t k = 0; k < A.nparams; k++) {
        double err = fabs((double)g0[k] - gr[k]);
        double bound = u * fabs(gr[k]) + (PP_EXACT_BLOCK - 1) * u * sabs[k] + quant[k] + 1e-300;
        if (err / bound > worst) worst = err / bound;
        bad += err > bound;
    }
    CHECK(bad == 0, "exact vs float64 reference: %zu entries beyond the bound (worst %.2f× it)",
          bad, worst);
    free(sabs);
    free(quant);
    pp_workspace_free(&ws);
    pp_data_free(&x);
    free(ids);
    free(p);
    free(g0);
    free(g);
    free(gr);
}

static void test_exact_range(void)
{
    /* a non-finite maximum is refused with a message, never summed */
    const size_t sizes[2] = {2, 2};
    pp_arch A;
    pp_arch_init(&A, 1, sizes, PP_ACT_SIGMOID, PP_ACT_SOFTMAX, PP_COST_LOG_LIKELIHOOD);
    pp_exact ex;
    pp_exact_init(&ex, &A, 1);
    pp_workspace ws;
    pp_workspace_init(&ws, &A, 1);
    ex.maxes[0] = INFINITY;
    ex.maxes[1] = 1;
    pp_status st = pp_exact_accumulate(&ex, &A, &ws, 0, 1, NULL);
    CHECK(st.code == PP_ERR_DIVERGED && strstr(st.msg, "not finite"), "inf max: %s", st.msg);
    ex.maxes[0] = 1e200;
    ex.maxes[1] = 1e200;
    st = pp_exact_accumulate(&ex, &A, &ws, 0, 1, NULL);
    CHECK(st.code == PP_ERR_DIVERGED && strstr(st.msg, "range"), "huge bound: %s", st.msg);
    pp_exact_free(&ex);
    pp_workspace_free(&ws);
}

/* pp_mm_nt / pp_mm_nn against a float64 reference, over shapes that hit every tile edge, with
 * strided (transposed) A, and the property exact mode needs: a row of C computed alone is
 * bitwise the same row computed among others. */
static double urand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0 * 2 - 1;
}

/* Every product of a grid of shapes and layouts against a double reference; counts wrong
 * elements and rows whose bits change when computed alone. */
static void gemm_cases(int *bad_out, int *cases_out, int *moved_out, double *worst_out)
{
    const int Ms[] = {1, 3, 4, 5, 11, 12, 13, 25, 64};
    const int Ns[] = {1, 2, 5, 15, 16, 17, 31, 32, 33, 70};
    const int Ks[] = {0, 1, 7, 16, 17, 100, 1030};
    uint64_t seed = 42;
    int bad = 0, cases = 0, moved = 0;
    double worst = 0;
    for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++)
        for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++)
            for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++) {
                const int M = Ms[a], N = Ns[b], K = Ks[c];
                const int lda = K + 3, ldb = K + 1, ldc = N + 2, ldbn = N + 5;
                pp_real *A = malloc(sizeof(pp_real) * (size_t)(M * lda + K * (M + 4) + 1));
                pp_real *B = malloc(sizeof(pp_real) * (size_t)(N * ldb + K * ldbn + 1));
                pp_real *C = malloc(sizeof(pp_real) * (size_t)(M * ldc + 1));
                pp_real *row = malloc(sizeof(pp_real) * (size_t)(N + 1));
                for (int i = 0; i < M * lda + K * (M + 4); i++) A[i] = (pp_real)urand(&seed);
                for (int i = 0; i < N * ldb + K * ldbn; i++) B[i] = (pp_real)urand(&seed);
                for (int kind = 0; kind < 3; kind++) {
                    /* 0: C = A Bᵀ; 1: C = A B (A row-major); 2: C = Aᵀ B (A stored K × M) */
                    const int rsa = kind == 2 ? 1 : lda, csa = kind == 2 ? M + 4 : 1;
                    for (int i = 0; i < M * ldc; i++) C[i] = (pp_real)NAN;
                    if (kind == 0)
                        pp_mm_nt(M, N, K, A, lda, B, ldb, C, ldc);
                    else
                        pp_mm_nn(M, N, K, A, rsa, csa, B, ldbn, C, ldc);
                    cases++;
                    for (int i = 0; i < M; i++) {
                        for (int j = 0; j < N; j++) {
                            double ref = 0, mag = 0;
                            for (int k = 0; k < K; k++) {
                                double x = kind == 0 ? A[i * lda + k] : A[i * rsa + k * csa];
                                double y = kind == 0 ? B[j * ldb + k] : B[k * ldbn + j];
                                ref += x * y;
                                mag += fabs(x * y);
                            }
                            double err = fabs((double)C[i * ldc + j] - ref) / (mag + 1e-30);
                            if (!(err <= (PP_DOUBLE ? 1e-13 : 2e-6))) bad++;
                            if (err > worst && K > 0) worst = err;
                        }
                        /* row i alone (M = 1) must give the same bits; A Bᵀ changes tiles
                         * at 32 rows, so there row i is taken among rows [1, M) instead */
                        const pp_real *Ai = A + (size_t)i * rsa;
                        if (kind == 0 && M >= 33 && i >= 1) {
                            pp_real *sub = malloc(sizeof *sub * (size_t)(M - 1) * (size_t)N);
                            pp_mm_nt(M - 1, N, K, A + lda, lda, B, ldb, sub, N);
                            memcpy(row, sub + (size_t)(i - 1) * N, sizeof *row * (size_t)N);
                            free(sub);
                        } else if (kind == 0 && M >= 33) {
                            continue;
                        } else if (kind == 0)
                            pp_mm_nt(1, N, K, Ai, lda, B, ldb, row, N);
                        else
                            pp_mm_nn(1, N, K, Ai, rsa, csa, B, ldbn, row, N);
                        if (memcmp(row, C + (size_t)i * ldc, sizeof *row * (size_t)N) != 0) moved++;
                    }
                    /* ldc padding untouched */
                    for (int i = 0; i < M; i++)
                        for (int j = N; j < ldc; j++)
                            if (!isnan((double)C[i * ldc + j])) bad++;
                }
                free(A);
                free(B);
                free(C);
                free(row);
            }
    *bad_out = bad;
    *cases_out = cases;
    *moved_out = moved;
    *worst_out = worst;
}

static void test_gemm_kernels(void)
{
    int bad, cases, moved;
    double worst;
    /* pinned (exact mode): one engine for every shape, paraprop's kernels on AVX-512 CPUs */
    pp_mm_pin(+1);
    gemm_cases(&bad, &cases, &moved, &worst);
    CHECK(bad == 0, "gemm kernels (%s): %d wrong elements in %d products (worst rel. err %.2e)",
          pp_mm_kernels(), bad, cases, worst);
    /* OpenBLAS does not promise it (its blocking depends on M); exact mode does not need it from
     * the BLAS, whose products always see the same fixed 64-sample blocks */
    if (strcmp(pp_mm_kernels(), "avx512") == 0)
        CHECK(moved == 0, "gemm kernels (%s): %d rows changed bits when computed alone",
              pp_mm_kernels(), moved);
    printf("gemm kernels: %s, %d products, worst relative error %.2e, %d rows differ alone\n",
           pp_mm_kernels(), cases, worst, moved);
    pp_mm_pin(-1);
    /* not pinned: each shape on its fastest engine (the large ones on oneDNN or the CBLAS) */
    gemm_cases(&bad, &cases, &moved, &worst);
    CHECK(bad == 0, "gemm engines (%s): %d wrong elements in %d products (worst rel. err %.2e)",
          pp_net_kernels(), bad, cases, worst);
    printf("gemm engines: %s, %d products, worst relative error %.2e\n", pp_net_kernels(), cases,
           worst);
}

/* Planned products (gemm.h's pp_mm_plan, exact mode's oneDNN path): each shape exact mode plans
 * (W3-like forward Zᵀ = W Aᵀ, backward Δ W, a ∇W tile Δᵀ A from the transposed block) against a
 * float64 reference, the same bits on a second call and from two threads at once, and a plan
 * wherever the engines say oneDNN runs the large products. */
static void test_gemm_plans(void)
{
    const int want = strstr(pp_net_kernels(), "oneDNN") && !getenv("PARAPROP_KERNELS");
    /* M, N, K, A's row and column strides, B's, ldc */
    const int shapes[][8] = {{200, 64, 784, 784, 1, 1, 784, 64},
                             {64, 200, 64, 64, 1, 200, 1, 200},
                             {34, 784, 64, 64, 1, 784, 1, 784},
                             {33, 300, 64, 64, 1, 300, 1, 300}};
    int planned = 0;
    for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
        const int *sh = shapes[c];
        const int M = sh[0], N = sh[1], K = sh[2], ars = sh[3], acs = sh[4], brs = sh[5],
                  bcs = sh[6], ldc = sh[7];
        pp_mm_plan *p = pp_mm_plan_create(M, N, K, ars, acs, brs, bcs, ldc);
        CHECK(!want || p, "no plan for %dx%dx%d although the large products run on %s", M, N, K,
              pp_net_kernels());
        if (!p) continue;
        planned++;
        const size_t na = (size_t)(M - 1) * (size_t)ars + (size_t)(K - 1) * (size_t)acs + 1;
        const size_t nb = (size_t)(K - 1) * (size_t)brs + (size_t)(N - 1) * (size_t)bcs + 1;
        uint64_t seed = 7 + c;
        pp_real *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
        pp_real *C[3];
        for (int i = 0; i < 3; i++) C[i] = malloc((size_t)M * (size_t)ldc * sizeof *C[i]);
        for (size_t i = 0; i < na; i++) A[i] = (pp_real)urand(&seed);
        for (size_t i = 0; i < nb; i++) B[i] = (pp_real)urand(&seed);
        const size_t sb = pp_mm_plan_scratch_bytes(p) + 64;
        unsigned char *packed = aligned_alloc(64, (pp_mm_plan_packed_bytes(p) + 63) / 64 * 64);
        unsigned char *scr = aligned_alloc(64, 2 * ((sb + 63) / 64 * 64));
        int err = pp_mm_plan_pack(p, B, packed, scr);
        err |= pp_mm_plan_run(p, A, packed, C[0], scr);
        /* the same call twice more at once, from two threads with their own scratchpads */
#pragma omp parallel num_threads(2) reduction(| : err)
        {
            const int t = omp_get_thread_num();
            err |= pp_mm_plan_run(p, A, packed, C[1 + t], scr + (size_t)t * ((sb + 63) / 64 * 64));
        }
        CHECK(!err, "plan %dx%dx%d: a call failed", M, N, K);
        int bad = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double ref = 0, mag = 0;
                for (int k = 0; k < K; k++) {
                    double x = A[(size_t)i * ars + (size_t)k * acs],
                           y = B[(size_t)k * brs + (size_t)j * bcs];
                    ref += x * y;
                    mag += fabs(x * y);
                }
                bad += !(fabs((double)C[0][(size_t)i * ldc + j] - ref) / (mag + 1e-30) <= 2e-6);
            }
        CHECK(bad == 0, "plan %dx%dx%d: %d elements off the float64 reference", M, N, K, bad);
        for (int t = 1; t < 3; t++)
            for (int i = 0; i < M; i++)
                CHECK(memcmp(C[0] + (size_t)i * ldc, C[t] + (size_t)i * ldc,
                             (size_t)N * sizeof *C[0]) == 0,
                      "plan %dx%dx%d: row %d has other bits on call %d", M, N, K, i, t + 1);
        free(A);
        free(B);
        for (int i = 0; i < 3; i++) free(C[i]);
        free(packed);
        free(scr);
        pp_mm_plan_free(p);
    }
    /* one engine forced or pinned: no plans (exact mode's products then stay on that engine) */
    pp_mm_pin(+1);
    pp_mm_plan *q = pp_mm_plan_create(200, 64, 784, 784, 1, 1, 784, 64);
    CHECK(q == NULL, "a plan was made while the products are pinned to one engine");
    pp_mm_plan_free(q);
    pp_mm_pin(-1);
    printf("gemm plans: %d of %zu shapes planned (%s)\n", planned, sizeof shapes / sizeof *shapes,
           want ? "oneDNN" : "no oneDNN: none expected");
}

#if PARAPROP_FAULT_INJECTION
/* PARAPROP_FAULT names whole sites and exact ranks; anything else leaves the site alone. */
/* --init: the weights' variance is 1/n_in (normalized), 2/n_in (he, with zero biases) or 1
 * (large), from 120,000 draws per layer: the sample variance is within 1 % of its value with
 * overwhelming odds, so 5 % separates the three (and would catch a wrong factor of 2). */
static void test_init(void)
{
    const size_t sizes[3] = {400, 300, 10};
    pp_arch A;
    pp_status st = pp_arch_init(&A, 2, sizes, PP_ACT_RELU, PP_ACT_SOFTMAX, PP_COST_LOG_LIKELIHOOD);
    CHECK(!st.code, "arch: %s", st.msg);
    pp_real *p = malloc(A.nparams * sizeof *p);
    const pp_init kinds[3] = {PP_INIT_NORMALIZED, PP_INIT_HE, PP_INIT_LARGE};
    for (int k = 0; k < 3; k++) {
        pp_net_init_params(&A, kinds[k], 7, p);
        const double want = kinds[k] == PP_INIT_NORMALIZED ? 1.0 / 400
                            : kinds[k] == PP_INIT_HE       ? 2.0 / 400
                                                           : 1.0;
        double s = 0, s2 = 0;
        const size_t nw = 300 * 400;
        for (size_t i = 0; i < nw; i++) {
            s += p[A.w_off[1] + i];
            s2 += (double)p[A.w_off[1] + i] * p[A.w_off[1] + i];
        }
        const double var = s2 / (double)nw - (s / (double)nw) * (s / (double)nw);
        CHECK(fabs(var / want - 1) < 0.05, "init %s: layer 1 weight variance %g, expected %g",
              pp_init_name(kinds[k]), var, want);
        size_t nonzero = 0;
        for (size_t j = 0; j < 300; j++) nonzero += p[A.b_off[1] + j] != 0;
        if (kinds[k] == PP_INIT_HE)
            CHECK(nonzero == 0, "init he: %zu of 300 biases are not zero", nonzero);
        else
            CHECK(nonzero == 300, "init %s: %zu of 300 biases are zero", pp_init_name(kinds[k]),
                  300 - nonzero);
    }
    CHECK(pp_init_parse("he") == PP_INIT_HE, "pp_init_parse(\"he\")");
    free(p);
}

static void test_fault_spec(void)
{
    CHECK(!pp_fault("dataset-read", 1), "fires with PARAPROP_FAULT unset");
    setenv("PARAPROP_FAULT", "dataset-read:1,bench-alloc:0", 1);
    CHECK(pp_fault("dataset-read", 1) && pp_fault("bench-alloc", 0), "listed sites do not fire");
    CHECK(!pp_fault("dataset-read", 0) && !pp_fault("bench-alloc", 1), "fires on another rank");
    CHECK(!pp_fault("dataset", 1) && !pp_fault("dataset-read-x", 1) && !pp_fault("alloc", 0),
          "fires on a prefix or an extension of a listed site");
    setenv("PARAPROP_FAULT", "dataset-read:10,x:,y:1a,z", 1);
    CHECK(!pp_fault("dataset-read", 1) && pp_fault("dataset-read", 10), "rank 10 read as 1");
    CHECK(!pp_fault("x", 0) && !pp_fault("y", 1) && !pp_fault("z", 0), "a malformed entry fires");
    /* SITE:RANK@N fires on the N-th call of that site on that rank only */
    setenv("PARAPROP_FAULT", "nth-site:2@3,bad-nth:2@0,bad-nth2:2@x", 1);
    int fired[5];
    for (int i = 0; i < 5; i++) fired[i] = pp_fault("nth-site", 2);
    CHECK(!fired[0] && !fired[1] && fired[2] && !fired[3] && !fired[4], "@3 fired off its call");
    CHECK(!pp_fault("nth-site", 1), "@3 fired on another rank");
    CHECK(!pp_fault("bad-nth", 2) && !pp_fault("bad-nth2", 2), "a malformed @N fires");
    unsetenv("PARAPROP_FAULT");
}
#endif

int main(void)
{
    test_philox();
    test_sha256();
    test_gemm_kernels();
    test_gemm_plans();
    test_backward_vs_naive();
    test_refused_pairs();
    test_stable_costs();
    test_optimizer();
    test_optimizers();
    test_dropout();
    test_l2_decay();
    test_exact_mode();
    test_exact_range();
#if PARAPROP_FAULT_INJECTION
    test_init();
    test_fault_spec();
#endif
    if (failures) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("all core checks passed\n");
    return 0;
}
