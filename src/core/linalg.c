/* BLAS set-up shared by the kernels, and what the linked BLAS is.
 *
 * The vendor is the user's choice (BLA_VENDOR), so the vendor-specific functions are weak
 * references: each is called only when the library that was linked defines it. */
#include "linalg.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* OpenBLAS (its cblas.h declares the first three; the attribute makes them optional) */
extern void openblas_set_num_threads(int) __attribute__((weak));
extern char *openblas_get_corename(void) __attribute__((weak));
extern char *openblas_get_config(void) __attribute__((weak));
/* BLIS */
extern void bli_thread_set_num_threads(long) __attribute__((weak));
extern int bli_arch_query_id(void) __attribute__((weak));
extern const char *bli_arch_string(int) __attribute__((weak));
/* MKL (mkl_set_num_threads is a macro for this) */
extern void MKL_Set_Num_Threads(int) __attribute__((weak));

void pp_linalg_single_thread(void)
{
    if (openblas_set_num_threads) openblas_set_num_threads(1);
    if (bli_thread_set_num_threads) bli_thread_set_num_threads(1);
    if (MKL_Set_Num_Threads) MKL_Set_Num_Threads(1);
}

const char *pp_linalg_openblas_core(void)
{
    return openblas_get_corename ? openblas_get_corename() : NULL;
}

/* Vector width class of an OpenBLAS 0.3.21 x86-64 core name: 3 AVX-512, 2 AVX2+FMA, 1 AVX,
 * 0 SSE. The names are OpenBLAS's (gotoblas_corename in driver/others/dynamic.c). */
static int core_level(const char *name)
{
    static const char *const l3[] = {"skylakex", "cooperlake", "sapphirerapids"};
    static const char *const l2[] = {"haswell", "zen"};
    static const char *const l1[] = {"sandybridge", "bulldozer", "piledriver", "steamroller",
                                     "excavator"};
    if (!name) return -1;
    for (size_t i = 0; i < sizeof l3 / sizeof *l3; i++)
        if (!strcasecmp(name, l3[i])) return 3;
    for (size_t i = 0; i < sizeof l2 / sizeof *l2; i++)
        if (!strcasecmp(name, l2[i])) return 2;
    for (size_t i = 0; i < sizeof l1 / sizeof *l1; i++)
        if (!strcasecmp(name, l1[i])) return 1;
    return 0;
}

/* The class the CPU's features allow (the OS must save the registers too, which
 * __builtin_cpu_supports checks), and the core OpenBLAS 0.3.21 has for it. SkylakeX rather
 * than Cooperlake: their single-precision GEMM kernels are the same and SkylakeX needs fewer
 * features. */
static int cpu_level(const char **core)
{
    *core = NULL;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512cd")) {
        *core = "SkylakeX";
        return 3;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        *core = "Haswell";
        return 2;
    }
    if (__builtin_cpu_supports("avx")) {
        *core = "Sandybridge";
        return 1;
    }
#endif
    return 0;
}

const char *pp_linalg_openblas_best_core(void)
{
    const char *have = pp_linalg_openblas_core(), *best;
    if (!have) return NULL;
    int want = cpu_level(&best);
    return best && want > core_level(have) ? best : NULL;
}

int pp_linalg_blas_at_best(void)
{
    const char *have = pp_linalg_openblas_core(), *best;
    if (!have) return -1;
    return core_level(have) >= cpu_level(&best);
}

const char *pp_linalg_name(void)
{
    static char name[96];
    if (name[0]) return name;
    char buf[96] = "CBLAS";
    if (openblas_get_corename) {
        /* the configuration string starts "OpenBLAS 0.3.21 …" */
        char ver[32] = "";
        const char *cfg = openblas_get_config ? openblas_get_config() : NULL;
        if (cfg && sscanf(cfg, "OpenBLAS %31s", ver) != 1) ver[0] = '\0';
        snprintf(buf, sizeof buf, "OpenBLAS%s%s %s", ver[0] ? " " : "", ver,
                 openblas_get_corename());
        for (char *p = buf + 9 + strlen(ver); *p; p++)
            if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    } else if (bli_arch_query_id && bli_arch_string) {
        snprintf(buf, sizeof buf, "BLIS %s", bli_arch_string(bli_arch_query_id()));
    } else if (MKL_Set_Num_Threads) {
        snprintf(buf, sizeof buf, "MKL");
    }
    memcpy(name, buf, sizeof name);
    return name;
}
