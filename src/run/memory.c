/* A rank's private resident memory from /proc/self/smaps (Linux). */
#include "memory.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

double memory_private_bytes(const void *skip, size_t skip_len)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    const uintptr_t s0 = (uintptr_t)skip, s1 = s0 + skip_len;
    char line[512];
    int skipping = 0;
    double kib = 0;
    while (fgets(line, sizeof line, f)) {
        uintmax_t a, b;
        unsigned long long v;
        /* a mapping's header line: "start-end perms offset dev inode path" */
        if (sscanf(line, "%jx-%jx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            skipping = skip_len && (uintptr_t)a < s1 && (uintptr_t)b > s0;
            continue;
        }
        if (skipping) continue;
        if (sscanf(line, "Private_Clean: %llu kB", &v) == 1 ||
            sscanf(line, "Private_Dirty: %llu kB", &v) == 1)
            kib += (double)v;
    }
    fclose(f);
    return kib * 1024.0;
}
