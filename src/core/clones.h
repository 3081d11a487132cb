/* Elementwise loops compiled twice, for baseline x86-64 and for AVX-512F, the copy picked once
 * at load time (target_clones: a GNU ifunc). Elementwise IEEE operations give the same bits at
 * any vector width, and -ffp-contract=off (CMakeLists.txt) keeps the compiler from fusing a*b+c,
 * so the results do not depend on the CPU; only the speed does. */
#ifndef PARAPROP_CLONES_H
#define PARAPROP_CLONES_H

#if defined(__x86_64__) && defined(__linux__) &&                                                   \
    (defined(__clang__) ? __clang_major__ >= 14 : defined(__GNUC__))
#define PP_CLONES __attribute__((target_clones("avx512f", "default")))
#else
#define PP_CLONES
#endif

#endif
