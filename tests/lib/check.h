/* The C tests' assertion: counts and prints failures, and goes on (one run shows them all). */
#ifndef PARAPROP_TEST_CHECK_H
#define PARAPROP_TEST_CHECK_H

#include <stdio.h>

static int failures = 0;
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

#endif
