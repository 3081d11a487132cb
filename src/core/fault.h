/* Fault injection for the robustness tests (tests/robust/no_rank_left.sh): test builds only. */
#ifndef PARAPROP_FAULT_H
#define PARAPROP_FAULT_H

#if PARAPROP_FAULT_INJECTION
/* 1 when the environment variable PARAPROP_FAULT names this site on this rank, else 0.
 * PARAPROP_FAULT is a comma-separated list of SITE:RANK ("dataset-read:1,bench-alloc:0").
 * Each call site turns a 1 into the failure it stands for (a NULL allocation, a failed read). */
int pp_fault(const char *site, int rank);
#else
/* Release and install builds: no environment lookup, and the compiler drops the branch. */
static inline int pp_fault(const char *site, int rank)
{
    (void)site;
    (void)rank;
    return 0;
}
#endif

#endif
