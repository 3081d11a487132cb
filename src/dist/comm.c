/* MPI behind the pp_comm interface. Counts above INT_MAX are sent in chunks. */
#include "paraprop/comm.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fault.h"

struct pp_comm {
    MPI_Comm comm;
    int rank, size;
    MPI_Comm node;  /* the ranks of this node (MPI_COMM_TYPE_SHARED), or MPI_COMM_NULL */
    MPI_Comm cross; /* the ranks of every node with this rank's local rank, when every node has
                       the same number of ranks; else MPI_COMM_NULL */
    int local_rank, local_size; /* on this node */
    int nodes;                  /* the number of nodes */
    int real_nodes;             /* that number before PARAPROP_NODE_SIZE split them */
    int owns_mpi;
    /* nonblocking gradient sums in flight (pp_comm_isum_real), and the first failure among them */
    MPI_Request pending[PP_COMM_PENDING];
    int npending;
    int pending_rc;
};

struct pp_shared {
    MPI_Win win;
    MPI_Comm node;
};

#define CHUNK ((size_t)1 << 28)

static pp_status mpi_fail(int rc, const char *what)
{
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, s, &len);
    return pp_error(PP_ERR_RUNTIME, "MPI %s failed: %s", what, s);
}

pp_status pp_comm_init(int *argc, char ***argv, pp_comm **out)
{
    *out = NULL;
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    pp_comm *c = calloc(1, sizeof *c);
    if (!c) return pp_error(PP_ERR_NOMEM, "cannot allocate the communicator");
    if (!inited) {
        /* Open MPI's nonblocking allreduce (libnbc) picks recursive doubling for two ranks:
         * both exchange and add the whole gradient. Rabenseifner's reduce-scatter + allgather
         * moves and adds half each; the overlapped step's exposed allreduce at W3 2×1 fell
         * from 7.7 to 4.8 ms/step with it (docs/PERFORMANCE.md). A user's own choice stands. */
        setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "3", 0);
        int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) {
            free(c);
            return mpi_fail(rc, "initialisation");
        }
        c->owns_mpi = 1;
    } else {
        MPI_Query_thread(&provided);
    }
    /* OpenMP threads run between the main thread's MPI calls: an MPI that only promises
     * MPI_THREAD_SINGLE may break on that, so refuse it rather than risk it */
    if (provided < MPI_THREAD_FUNNELED) {
        if (c->owns_mpi) MPI_Finalize();
        free(c);
        return pp_error(PP_ERR_RUNTIME,
                        "the MPI library provides thread support level %d (MPI_THREAD_SINGLE), "
                        "but paraprop needs MPI_THREAD_FUNNELED (%d): OpenMP threads run while the "
                        "main thread calls MPI; use an MPI built with thread support",
                        provided, MPI_THREAD_FUNNELED);
    }
    c->comm = MPI_COMM_WORLD;
    /* errors come back as codes and become pp_status values */
    MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(c->comm, &c->rank);
    pp_fault_set_rank(c->rank);
    MPI_Comm_size(c->comm, &c->size);
    c->local_size = 1;
    c->nodes = 1;
    c->node = c->cross = MPI_COMM_NULL;
    if (MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &c->node) ==
        MPI_SUCCESS) {
        MPI_Comm_set_errhandler(c->node, MPI_ERRORS_RETURN);
        int real_lr = 0;
        MPI_Comm_rank(c->node, &real_lr);
        c->real_nodes = real_lr == 0;
        MPI_Allreduce(MPI_IN_PLACE, &c->real_nodes, 1, MPI_INT, MPI_SUM, c->comm);
        /* PARAPROP_NODE_SIZE=K: treat each K consecutive ranks of a node as a node of their own,
         * so that one host tests the multi-node paths (inter-node sums, per-node data) */
        const char *e = getenv("PARAPROP_NODE_SIZE");
        long k = e && *e ? strtol(e, NULL, 10) : 0;
        if (k > 0) {
            int lr = 0;
            MPI_Comm_rank(c->node, &lr);
            MPI_Comm sub;
            if (MPI_Comm_split(c->node, (int)(lr / k), lr, &sub) == MPI_SUCCESS) {
                MPI_Comm_free(&c->node);
                c->node = sub;
                MPI_Comm_set_errhandler(c->node, MPI_ERRORS_RETURN);
            }
        }
        MPI_Comm_size(c->node, &c->local_size);
        MPI_Comm_rank(c->node, &c->local_rank);
        /* the node count from the local rank 0s; the node size, lowest and highest */
        int lead = c->local_rank == 0, sz[2] = {c->local_size, -c->local_size};
        MPI_Allreduce(MPI_IN_PLACE, &lead, 1, MPI_INT, MPI_SUM, c->comm);
        MPI_Allreduce(MPI_IN_PLACE, sz, 2, MPI_INT, MPI_MIN, c->comm);
        c->nodes = lead;
        if (sz[0] == -sz[1] &&
            MPI_Comm_split(c->comm, c->local_rank, c->rank, &c->cross) == MPI_SUCCESS)
            MPI_Comm_set_errhandler(c->cross, MPI_ERRORS_RETURN);
        else
            c->cross = MPI_COMM_NULL;
    }
    *out = c;
    return pp_ok();
}

void pp_comm_finalize(pp_comm *c)
{
    if (!c) return;
    if (c->node != MPI_COMM_NULL) MPI_Comm_free(&c->node);
    if (c->cross != MPI_COMM_NULL) MPI_Comm_free(&c->cross);
    if (c->owns_mpi) MPI_Finalize();
    free(c);
}

void pp_comm_abort(pp_comm *c, int status)
{
    MPI_Abort(c ? c->comm : MPI_COMM_WORLD, status);
}

int pp_comm_real_nodes(const pp_comm *c)
{
    return c && c->real_nodes > 0 ? c->real_nodes : 1;
}

int pp_comm_rank(const pp_comm *c)
{
    return c ? c->rank : 0;
}
int pp_comm_size(const pp_comm *c)
{
    return c ? c->size : 1;
}
int pp_comm_local_size(const pp_comm *c)
{
    return c ? c->local_size : 1;
}
int pp_comm_local_rank(const pp_comm *c)
{
    return c ? c->local_rank : 0;
}
int pp_comm_nodes(const pp_comm *c)
{
    return c ? c->nodes : 1;
}
int pp_comm_uniform_nodes(const pp_comm *c)
{
    return c && (c->node != MPI_COMM_NULL) && (c->nodes == 1 || c->cross != MPI_COMM_NULL);
}
double pp_comm_wtime(void)
{
    return MPI_Wtime();
}
const void *pp_comm_native(const pp_comm *c)
{
    return c ? (const void *)&c->comm : NULL;
}

pp_status pp_comm_agree(pp_comm *c, pp_status local)
{
    /* an agreed failure is already held by every rank: they all return it without a word */
    if (local.code != PP_OK && local.agreed) return local;
    if (!c || c->size == 1) {
        if (local.code != PP_OK) local.agreed = 1;
        return local;
    }
    /* MIN of {failing rank or size, -1 if this rank succeeded}: the lowest failing rank, and
     * whether every rank failed (then the second is 0) */
    int mine[2] = {local.code != PP_OK ? c->rank : c->size, local.code != PP_OK ? 0 : -1};
    int got[2] = {0, 0};
    int rc = MPI_Allreduce(mine, got, 2, MPI_INT, MPI_MIN, c->comm);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "status agreement");
    const int first = got[0], all_failed = got[1] == 0;
    if (first == c->size) return pp_ok();
    pp_status st = local;
    rc = MPI_Bcast(&st, (int)sizeof st, MPI_BYTE, first, c->comm);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "status broadcast");
    st.agreed = 1;
    /* name the rank when only some failed (every rank failing, say on a bad option or a
     * diverged step, needs no name); once, however many agreements the status passes */
    char prefix[32];
    snprintf(prefix, sizeof prefix, "rank %d: ", first);
    if (!all_failed && strncmp(st.msg, prefix, strlen(prefix)) != 0) {
        char msg[PP_STATUS_MSG_MAX];
        memcpy(msg, st.msg, sizeof msg);
        snprintf(st.msg, sizeof st.msg, "rank %d: %s", first, msg);
    }
    return st;
}

pp_status pp_comm_barrier(pp_comm *c)
{
    if (!c || c->size == 1) return pp_ok();
    int rc = MPI_Barrier(c->comm);
    return rc == MPI_SUCCESS ? pp_ok() : mpi_fail(rc, "barrier");
}

static pp_status allreduce_chunked(pp_comm *c, void *buf, size_t n, MPI_Datatype t, size_t esz,
                                   MPI_Op op, size_t chunk, const char *what)
{
    if (!c || c->size == 1) return pp_ok();
    for (size_t off = 0; off < n; off += chunk) {
        size_t len = n - off < chunk ? n - off : chunk;
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * esz, (int)len, t, op, c->comm);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, what);
    }
    return pp_ok();
}

static pp_status allreduce(pp_comm *c, void *buf, size_t n, MPI_Datatype t, size_t esz, MPI_Op op,
                           const char *what)
{
    return allreduce_chunked(c, buf, n, t, esz, op, CHUNK, what);
}

pp_status pp_comm_sum_real(pp_comm *c, pp_real *buf, size_t n)
{
    /* a failure only this rank sees, left unagreed on purpose: the app must abort the job */
    if (pp_fault("grad-allreduce", pp_comm_rank(c)))
        return pp_error(PP_ERR_RUNTIME, "MPI gradient allreduce failed: injected fault");
    pp_fault_kill("allreduce"); /* the others are in the allreduce, or about to be */
#if PP_DOUBLE
    return allreduce(c, buf, n, MPI_DOUBLE, sizeof *buf, MPI_SUM, "gradient allreduce");
#else
    return allreduce(c, buf, n, MPI_FLOAT, sizeof *buf, MPI_SUM, "gradient allreduce");
#endif
}
pp_status pp_comm_isum_real(pp_comm *c, pp_real *buf, size_t n)
{
    if (!c || c->size == 1) return pp_ok();
    for (size_t off = 0; off < n; off += CHUNK) {
        const size_t len = n - off < CHUNK ? n - off : CHUNK;
        if (c->npending == PP_COMM_PENDING) PP_TRY(pp_comm_wait_sums(c)); /* full: drain */
#if PP_DOUBLE
        const MPI_Datatype t = MPI_DOUBLE;
#else
        const MPI_Datatype t = MPI_FLOAT;
#endif
        int rc = MPI_Iallreduce(MPI_IN_PLACE, buf + off, (int)len, t, MPI_SUM, c->comm,
                                &c->pending[c->npending]);
        if (rc != MPI_SUCCESS) {
            if (!c->pending_rc) c->pending_rc = rc;
            return mpi_fail(rc, "gradient allreduce (nonblocking)");
        }
        c->npending++;
    }
    return pp_ok();
}

void pp_comm_progress(pp_comm *c)
{
    if (!c || !c->npending) return;
    int done = 0;
    /* MPI_Testall completes (and frees) the requests only when all are done; an error is kept
     * for pp_comm_wait_sums, which reports it */
    int rc = MPI_Testall(c->npending, c->pending, &done, MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS && !c->pending_rc) c->pending_rc = rc;
    if (done) c->npending = 0;
}

pp_status pp_comm_wait_sums(pp_comm *c)
{
    if (!c) return pp_ok();
    /* the blocking sum's fault sites (core/fault.h), once per step, so the robustness tests
     * cover this path: an unagreed failure on this rank, which the app answers with an abort */
    if (pp_fault("grad-allreduce", pp_comm_rank(c)))
        return pp_error(PP_ERR_RUNTIME, "MPI gradient allreduce failed: injected fault");
    pp_fault_kill("allreduce");
    int rc = c->npending ? MPI_Waitall(c->npending, c->pending, MPI_STATUSES_IGNORE) : MPI_SUCCESS;
    c->npending = 0;
    if (rc == MPI_SUCCESS) rc = c->pending_rc;
    c->pending_rc = 0;
    return rc == MPI_SUCCESS ? pp_ok() : mpi_fail(rc, "gradient allreduce (nonblocking)");
}

pp_status pp_comm_sum_i64(pp_comm *c, int64_t *buf, size_t n)
{
    pp_fault_kill("allreduce");
    /* in 8 MiB pieces: Open MPI's reduction buffer grows with the message (W3's 47 MB of int64
     * cost 15 MiB more per rank), and integer sums are the same in pieces */
    return allreduce_chunked(c, buf, n, MPI_INT64_T, sizeof *buf, MPI_SUM, (size_t)1 << 20,
                             "integer allreduce");
}
pp_status pp_comm_sum_double(pp_comm *c, double *buf, size_t n)
{
    return allreduce(c, buf, n, MPI_DOUBLE, sizeof *buf, MPI_SUM, "allreduce");
}
pp_status pp_comm_max_double(pp_comm *c, double *buf, size_t n)
{
    return allreduce(c, buf, n, MPI_DOUBLE, sizeof *buf, MPI_MAX, "max allreduce");
}
pp_status pp_comm_max_int(pp_comm *c, int *buf, size_t n)
{
    return allreduce(c, buf, n, MPI_INT, sizeof *buf, MPI_MAX, "max allreduce");
}

pp_status pp_comm_bcast(pp_comm *c, void *buf, size_t bytes, int root)
{
    if (!c || c->size == 1) return pp_ok();
    for (size_t off = 0; off < bytes; off += CHUNK) {
        size_t len = bytes - off < CHUNK ? bytes - off : CHUNK;
        int rc = MPI_Bcast((char *)buf + off, (int)len, MPI_BYTE, root, c->comm);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "broadcast");
    }
    return pp_ok();
}

pp_status pp_comm_allgather_bytes(pp_comm *c, void *buf, const size_t *offset, const size_t *bytes)
{
    if (!c || c->size == 1) return pp_ok();
    /* one broadcast per rank keeps counts 64-bit safe through chunking */
    for (int r = 0; r < c->size; r++)
        PP_TRY(pp_comm_bcast(c, (char *)buf + offset[r], bytes[r], r));
    return pp_ok();
}

pp_status pp_comm_allgather_double(pp_comm *c, double mine, double *out)
{
    if (!c || c->size == 1) {
        out[0] = mine;
        return pp_ok();
    }
    int rc = MPI_Allgather(&mine, 1, MPI_DOUBLE, out, 1, MPI_DOUBLE, c->comm);
    return rc == MPI_SUCCESS ? pp_ok() : mpi_fail(rc, "allgather");
}

/* ---- node-shared memory ---------------------------------------------------------------------
 * One MPI-3 shared window per allocation, the whole block on the node's local rank 0 (so it is
 * contiguous in every process). A passive-target epoch (lock_all) stays open for the window's
 * life: the ranks then order their loads and stores with MPI_Win_sync around a node barrier, the
 * pattern of MPI-3's unified memory model. */

pp_status pp_shared_alloc(pp_comm *c, size_t bytes, pp_shared **out, void **base)
{
    *out = NULL;
    *base = NULL;
    pp_shared *s = pp_fault("shared-alloc", pp_comm_rank(c)) ? NULL : calloc(1, sizeof *s);
    pp_status st = s ? pp_ok() : pp_error(PP_ERR_NOMEM, "cannot allocate a shared-window handle");
    if (!st.code && (!c || c->node == MPI_COMM_NULL))
        st = pp_error(PP_ERR_RUNTIME, "no node communicator for shared memory");
    st = pp_comm_agree(c, st);
    if (st.code) {
        free(s);
        return st;
    }
    s->node = c->node;
    const MPI_Aint mine = c->local_rank == 0 ? (MPI_Aint)(bytes ? bytes : 1) : 0;
    MPI_Info info;
    MPI_Info_create(&info);
    /* one contiguous block: the other ranks address it from local rank 0's base */
    MPI_Info_set(info, "alloc_shared_noncontig", "false");
    void *mybase = NULL;
    int rc = MPI_Win_allocate_shared(mine, 1, info, c->node, &mybase, &s->win);
    MPI_Info_free(&info);
    st = rc == MPI_SUCCESS ? pp_ok() : mpi_fail(rc, "shared-window allocation");
    st = pp_comm_agree(c, st);
    if (st.code) {
        free(s);
        return st;
    }
    MPI_Aint size = 0;
    int disp = 0;
    void *b0 = NULL;
    rc = MPI_Win_shared_query(s->win, 0, &size, &disp, &b0);
    if (rc == MPI_SUCCESS) rc = MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win);
    st = rc == MPI_SUCCESS ? pp_ok() : mpi_fail(rc, "shared-window query");
    st = pp_comm_agree(c, st);
    if (st.code) {
        MPI_Win_free(&s->win);
        free(s);
        return st;
    }
    *out = s;
    *base = b0;
    return pp_ok();
}

void pp_shared_free(pp_shared *s)
{
    if (!s) return;
    MPI_Win_unlock_all(s->win);
    MPI_Win_free(&s->win);
    free(s);
}

pp_status pp_shared_barrier(pp_shared *s)
{
    if (!s) return pp_ok();
    int rc = MPI_Win_sync(s->win);
    if (rc == MPI_SUCCESS) rc = MPI_Barrier(s->node);
    if (rc == MPI_SUCCESS) rc = MPI_Win_sync(s->win);
    return rc == MPI_SUCCESS ? pp_ok() : mpi_fail(rc, "node barrier");
}

pp_status pp_comm_cross_sum_real(pp_comm *c, pp_real *buf, size_t n)
{
    if (!c || c->nodes == 1) return pp_ok();
    if (c->cross == MPI_COMM_NULL)
        return pp_error(PP_ERR_RUNTIME, "the nodes hold different numbers of ranks");
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t len = n - off < CHUNK ? n - off : CHUNK;
#if PP_DOUBLE
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)len, MPI_DOUBLE, MPI_SUM, c->cross);
#else
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)len, MPI_FLOAT, MPI_SUM, c->cross);
#endif
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "inter-node gradient allreduce");
    }
    return pp_ok();
}

pp_status pp_comm_cross_sum_i64(pp_comm *c, int64_t *buf, size_t n)
{
    if (!c || c->nodes == 1) return pp_ok();
    if (c->cross == MPI_COMM_NULL)
        return pp_error(PP_ERR_RUNTIME, "the nodes hold different numbers of ranks");
    for (size_t off = 0; off < n; off += (size_t)1 << 20) {
        size_t len = n - off < ((size_t)1 << 20) ? n - off : ((size_t)1 << 20);
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)len, MPI_INT64_T, MPI_SUM, c->cross);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "inter-node integer allreduce");
    }
    return pp_ok();
}

/* Mean seconds per call of `reps` sums of n reals on `comm` (after one untimed call). */
static pp_status time_sum(MPI_Comm comm, pp_real *buf, size_t n, int reps, double *out)
{
#if PP_DOUBLE
    const MPI_Datatype t = MPI_DOUBLE;
#else
    const MPI_Datatype t = MPI_FLOAT;
#endif
    double t0 = 0;
    for (int i = 0; i <= reps; i++) {
        if (i == 1) t0 = MPI_Wtime();
        for (size_t off = 0; off < n; off += CHUNK) {
            size_t len = n - off < CHUNK ? n - off : CHUNK;
            int rc = MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)len, t, MPI_SUM, comm);
            if (rc != MPI_SUCCESS) return mpi_fail(rc, "allreduce (level timing)");
        }
    }
    *out = reps > 0 ? (MPI_Wtime() - t0) / reps : 0.0;
    return pp_ok();
}

pp_status pp_comm_time_levels(pp_comm *c, size_t n, int reps, pp_comm_levels *out)
{
    memset(out, 0, sizeof *out);
    out->nodes = out->hosts = out->ranks_per_node_min = out->ranks_per_node_max = 1;
    if (!c || c->size == 1) return pp_ok();
    pp_real *buf = calloc(n ? n : 1, sizeof *buf);
    char(*names)[256] = calloc((size_t)c->size, sizeof *names);
    pp_status st = pp_comm_agree(
        c, buf && names ? pp_ok() : pp_error(PP_ERR_NOMEM, "out of memory for the level timing"));
    MPI_Comm node = MPI_COMM_NULL, leaders = MPI_COMM_NULL;
    int rc = MPI_SUCCESS, node_rank = 0, node_size = 1, first = 0, sums[2], maxes[2];
    double t[3] = {0, 0, 0};
    char host[256] = {0};
    if (st.code) goto done;
    /* the levels: the ranks of each node, and the lowest rank of every node */
    rc = MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node);
    if (rc != MPI_SUCCESS) goto mpi_error;
    MPI_Comm_rank(node, &node_rank);
    MPI_Comm_size(node, &node_size);
    rc = MPI_Comm_split(c->comm, node_rank == 0 ? 0 : MPI_UNDEFINED, c->rank, &leaders);
    if (rc != MPI_SUCCESS) goto mpi_error;
    gethostname(host, sizeof host - 1);
    rc = MPI_Allgather(host, 256, MPI_CHAR, names, 256, MPI_CHAR, c->comm);
    if (rc != MPI_SUCCESS) goto mpi_error;
    while (strcmp(names[first], host) != 0) first++; /* a host counts once, at its lowest rank */
    sums[0] = node_rank == 0;
    sums[1] = first == c->rank;
    maxes[0] = node_size; /* the largest node, and minus the smallest */
    maxes[1] = -node_size;
    rc = MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_INT, MPI_SUM, c->comm);
    if (rc != MPI_SUCCESS) goto mpi_error;
    rc = MPI_Allreduce(MPI_IN_PLACE, maxes, 2, MPI_INT, MPI_MAX, c->comm);
    if (rc != MPI_SUCCESS) goto mpi_error;
    out->nodes = sums[0];
    out->hosts = sums[1];
    out->ranks_per_node_max = maxes[0];
    out->ranks_per_node_min = -maxes[1];
    /* world; every node at once; the leaders while the others wait at the barrier */
    st = time_sum(c->comm, buf, n, reps, &t[0]);
    if (!st.code) st = pp_comm_barrier(c);
    if (!st.code && out->ranks_per_node_max > 1) st = time_sum(node, buf, n, reps, &t[1]);
    if (!st.code) st = pp_comm_barrier(c);
    if (!st.code && leaders != MPI_COMM_NULL && out->nodes > 1)
        st = time_sum(leaders, buf, n, reps, &t[2]);
    if (!st.code) st = pp_comm_barrier(c);
    if (st.code) goto done;
    rc = MPI_Allreduce(MPI_IN_PLACE, t, 3, MPI_DOUBLE, MPI_MAX, c->comm);
    if (rc != MPI_SUCCESS) goto mpi_error;
    out->world_s = t[0];
    out->intra_s = t[1];
    out->inter_s = t[2];
    goto done;
mpi_error:
    st = mpi_fail(rc, "collective of the level timing");
done:
    if (leaders != MPI_COMM_NULL) MPI_Comm_free(&leaders);
    if (node != MPI_COMM_NULL) MPI_Comm_free(&node);
    free(names);
    free(buf);
    return st;
}
