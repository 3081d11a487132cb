/* PARAPROP_FAULT parsing for fault injection; compiled only with PARAPROP_FAULT_INJECTION. */
#include "fault.h"

#include <stdlib.h>
#include <string.h>

int pp_fault(const char *site, int rank)
{
    const char *spec = getenv("PARAPROP_FAULT");
    if (!spec || !*spec) return 0;
    const size_t len = strlen(site);
    for (const char *p = spec; *p;) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        if ((size_t)(end - p) > len + 1 && strncmp(p, site, len) == 0 && p[len] == ':') {
            char num[16];
            size_t n = (size_t)(end - p) - len - 1;
            if (n < sizeof num) {
                memcpy(num, p + len + 1, n);
                num[n] = '\0';
                char *stop;
                long r = strtol(num, &stop, 10);
                if (*stop == '\0' && stop != num && r == rank) return 1;
            }
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}
