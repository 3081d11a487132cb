/* The communicator: the only module that talks MPI (src/dist/comm.c includes mpi.h). */
#ifndef PARAPROP_COMM_H
#define PARAPROP_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "paraprop/precision.h"
#include "paraprop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pp_comm pp_comm;

/* Initialises MPI (thread level FUNNELED: only the master thread calls MPI) and returns the
 * world communicator. */
pp_status pp_comm_init(int *argc, char ***argv, pp_comm **out);
/* Finalises MPI; safe on NULL. */
void pp_comm_finalize(pp_comm *c);
/* Ends every rank of the job at once: the app's answer to a failure that was not agreed (the
 * other ranks may be waiting in a collective the failing rank will never enter). */
void pp_comm_abort(pp_comm *c, int status);

int pp_comm_rank(const pp_comm *c);
int pp_comm_size(const pp_comm *c);
/* Ranks sharing this node (for the default thread count), this rank's index among them, and
 * the number of nodes. */
int pp_comm_local_size(const pp_comm *c);
int pp_comm_local_rank(const pp_comm *c);
int pp_comm_nodes(const pp_comm *c);
/* The nodes as MPI sees them, before PARAPROP_NODE_SIZE splits them for tests: ranks on
 * different ones talk over a network, not through their cores' memory copies. */
int pp_comm_real_nodes(const pp_comm *c);
/* 1 when node-shared memory is available and every node holds the same number of ranks (so
 * the ranks with local rank j on every node form one inter-node communicator). */
int pp_comm_uniform_nodes(const pp_comm *c);
double pp_comm_wtime(void);
/* A pointer to the MPI_Comm, for parallel HDF5 (io); NULL for c == NULL. */
const void *pp_comm_native(const pp_comm *c);

/* Collective agreement on a status: when any rank failed, every rank returns the failure of the
 * lowest failing rank (its code and message, prefixed with "rank R: " when some ranks, not all,
 * failed), marked agreed. Every rank must call it at the same point, before the next collective
 * that a failing rank would skip; a failure that is already agreed returns at once on every
 * rank. An MPI error in the agreement itself comes back unagreed. */
pp_status pp_comm_agree(pp_comm *c, pp_status local);

pp_status pp_comm_barrier(pp_comm *c);
pp_status pp_comm_sum_real(pp_comm *c, pp_real *buf, size_t n);
pp_status pp_comm_sum_i64(pp_comm *c, int64_t *buf, size_t n);
/* Nonblocking in-place gradient sums, to overlap them with the backward pass:
 * pp_comm_isum_real starts one (buf is MPI's until the wait), pp_comm_progress lets MPI move the
 * ones in flight (Open MPI advances nonblocking collectives only inside MPI calls: call it
 * between pieces of work), pp_comm_wait_sums completes them all and returns the first failure.
 * Every rank starts the same sums in the same order. At most PP_COMM_PENDING are in flight; a
 * further one waits for those first. */
#define PP_COMM_PENDING 64
pp_status pp_comm_isum_real(pp_comm *c, pp_real *buf, size_t n);
void pp_comm_progress(pp_comm *c);
pp_status pp_comm_wait_sums(pp_comm *c);
pp_status pp_comm_sum_double(pp_comm *c, double *buf, size_t n);
pp_status pp_comm_max_double(pp_comm *c, double *buf, size_t n);
pp_status pp_comm_max_int(pp_comm *c, int *buf, size_t n);
pp_status pp_comm_bcast(pp_comm *c, void *buf, size_t bytes, int root);
/* Every rank contributes bytes[rank] bytes at buf + offset[rank]; afterwards all hold all. */
pp_status pp_comm_allgather_bytes(pp_comm *c, void *buf, const size_t *offset, const size_t *bytes);
/* Gathers one double per rank to all: out[size]. */
pp_status pp_comm_allgather_double(pp_comm *c, double mine, double *out);

/* Node-shared memory: a block of `bytes` that every rank of this node addresses at *base (an
 * MPI-3 shared window). Collective over the world (every rank calls it; each node gets its own
 * block); the status is agreed. */
typedef struct pp_shared pp_shared;
pp_status pp_shared_alloc(pp_comm *c, size_t bytes, pp_shared **out, void **base);
/* Collective over the node; safe on NULL. */
void pp_shared_free(pp_shared *s);
/* A barrier over the node's ranks that also orders their loads and stores to the block: what a
 * rank stored before it is seen by every rank of the node after it. */
pp_status pp_shared_barrier(pp_shared *s);
/* In-place sums over the ranks with this rank's local rank on every node (each node's partial
 * sums, for a reduction that sums within nodes through shared memory first). Needs
 * pp_comm_uniform_nodes; a no-op on one node. */
pp_status pp_comm_cross_sum_real(pp_comm *c, pp_real *buf, size_t n);
pp_status pp_comm_cross_sum_i64(pp_comm *c, int64_t *buf, size_t n);

/* Where the ranks sit and what a gradient-sized allreduce costs at each level of it. A "node"
 * is a shared-memory domain as MPI sees it (MPI_COMM_TYPE_SHARED: under Slurm, one per slurmd
 * node); a "host" is a distinct gethostname(), so several nodes on one host show as hosts <
 * nodes. Times are seconds per call, the slowest rank's mean over the repetitions. */
typedef struct {
    int nodes, hosts;
    int ranks_per_node_min, ranks_per_node_max;
    double world_s; /* MPI_Allreduce over all ranks (the step's "mpi" reduce way) */
    double intra_s; /* over the ranks of each node, every node at once; 0 with 1 per node */
    double inter_s; /* over one rank per node (the node's lowest rank); 0 with one node */
} pp_comm_levels;

/* Times `reps` in-place sums of n reals on each level (after one untimed call per level).
 * Collective. Returns an error on an MPI failure (unagreed) or when out of memory (agreed). */
pp_status pp_comm_time_levels(pp_comm *c, size_t n, int reps, pp_comm_levels *out);

#ifdef __cplusplus
}
#endif
#endif
