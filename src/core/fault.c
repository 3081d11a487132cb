/* PARAPROP_FAULT parsing for fault injection; compiled only with PARAPROP_FAULT_INJECTION. */
#include "fault.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* calls per site so far; the sites are called from one thread (MPI_THREAD_FUNNELED) */
static struct {
    char site[48];
    long calls;
} counts[32];
static int fault_rank;

static long count_call(const char *site)
{
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        if (!counts[i].site[0]) snprintf(counts[i].site, sizeof counts[i].site, "%s", site);
        if (strcmp(counts[i].site, site) == 0) return ++counts[i].calls;
    }
    return -1;
}

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
                long r = strtol(num, &stop, 10), nth = 0;
                if (*stop == '@' && stop != num) {
                    char *stop2;
                    nth = strtol(stop + 1, &stop2, 10);
                    stop = nth > 0 && stop2 != stop + 1 ? stop2 : stop;
                }
                if (*stop == '\0' && stop != num && r == rank)
                    return nth == 0 || count_call(site) == nth;
            }
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

void pp_fault_set_rank(int rank)
{
    fault_rank = rank;
}

void pp_fault_kill(const char *site)
{
    char name[64];
    snprintf(name, sizeof name, "kill-%s", site);
    if (!pp_fault(name, fault_rank)) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    fprintf(stderr, "paraprop: fault injection: SIGKILL rank %d in %s at %lld.%06ld\n", fault_rank,
            site, (long long)tv.tv_sec, (long)tv.tv_usec);
    fflush(stderr);
    raise(SIGKILL);
}
