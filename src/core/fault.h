/* Fault injection for the robustness tests (tests/robust/no_rank_left.sh): test builds only. */
#ifndef PARAPROP_FAULT_H
#define PARAPROP_FAULT_H

#if PARAPROP_FAULT_INJECTION
/* 1 when the environment variable PARAPROP_FAULT names this site on this rank, else 0.
 * PARAPROP_FAULT is a comma-separated list of SITE:RANK or SITE:RANK@N ("dataset-read:1,
 * bench-alloc:0", "kill-allreduce:3@25"); with @N only the N-th call of that site on that rank
 * fires. Each call site turns a 1 into the failure it stands for (a NULL allocation, a failed
 * read). */
int pp_fault(const char *site, int rank);

/* The rank that pp_fault_kill compares with (set by pp_comm_init; 0 before). */
void pp_fault_set_rank(int rank);

/* When PARAPROP_FAULT names "kill-SITE" for this rank (and call): says so on stderr, with the
 * time, and SIGKILLs the process, as a node failure or the OOM killer would. */
void pp_fault_kill(const char *site);
#else
/* Release and install builds: no environment lookup, and the compiler drops the branch. */
static inline int pp_fault(const char *site, int rank)
{
    (void)site;
    (void)rank;
    return 0;
}
static inline void pp_fault_set_rank(int rank)
{
    (void)rank;
}
static inline void pp_fault_kill(const char *site)
{
    (void)site;
}
#endif

#endif
