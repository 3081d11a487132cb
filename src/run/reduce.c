/* Gradient sums through node-shared memory: see reduce.h for why. */
#include "reduce.h"

#include <stdlib.h>
#include <string.h>

#include "core/fault.h"

const char *reduce_name(reduce_kind k)
{
    static const char *name[] = {"mpi", "node", "factors", "split"};
    return name[k];
}

pp_status reduce_choose(pp_comm *c, size_t B, int threads_equal, int exact, reduce_kind *out)
{
    *out = REDUCE_MPI;
    const char *e = getenv("PARAPROP_REDUCE");
    if (e && !*e) e = NULL;
    if (e && strcmp(e, "auto") && strcmp(e, "mpi") && strcmp(e, "node") && strcmp(e, "factors") &&
        strcmp(e, "split"))
        return pp_error(
            PP_ERR_USAGE,
            "PARAPROP_REDUCE=%s: expected auto, mpi, node (gradient sums through node-shared "
            "memory), factors (every rank computes the gradient from the node's shared rows) or "
            "split (each rank computes part of it)",
            e);
    /* the same answers on every rank: the uniform-nodes test is global, and a node of one rank
     * means every node has one */
    const int R = pp_comm_size(c), nodes = pp_comm_nodes(c);
    const int node_ok = pp_comm_uniform_nodes(c) && pp_comm_local_size(c) > 1;
    /* exact mode takes split, not factors: each rank finishes its part of the tiles of units
     * from all the node's rows, which gives one rank's bits (exact.h) */
    const int split_ok = node_ok && nodes == 1 && threads_equal;
    const int fact_ok = split_ok && !exact;
    if (e && strcmp(e, "mpi") == 0) return pp_ok();
    if (e && strcmp(e, "node") == 0) {
        if (!node_ok && R > 1)
            return pp_error(PP_ERR_USAGE, "PARAPROP_REDUCE=node needs more than one rank on every "
                                          "node and the same number on each");
        *out = node_ok ? REDUCE_NODE : REDUCE_MPI;
        return pp_ok();
    }
    if (e && strcmp(e, "split") == 0) {
        if (!split_ok && R > 1)
            return pp_error(PP_ERR_USAGE, "PARAPROP_REDUCE=split needs one node and the same "
                                          "thread count on every rank");
        *out = split_ok ? REDUCE_SPLIT : REDUCE_MPI;
        return pp_ok();
    }
    if (e && strcmp(e, "factors") == 0) {
        if (!fact_ok && R > 1)
            return pp_error(
                PP_ERR_USAGE,
                "PARAPROP_REDUCE=factors needs fast mode, one node, and the same thread "
                "count on every rank");
        *out = fact_ok ? REDUCE_FACTORS : REDUCE_MPI;
        return pp_ok();
    }
    /* factors repeat (R−1)/R of the ∇W products (2BP multiply-adds) on every rank, to save
     * split's second barrier and the finished gradient's trip between cores ((R−1)/R·P values):
     * B/2 flops per byte saved, worth it while cores multiply faster than that than they move
     * bytes between them, at about B ≤ 16 (measured, docs/PERFORMANCE.md: at B = 10 the main job
     * runs 1.0–1.07× one rank with factors, 0.89× with split; at B = 128 and 256, W2 and W3,
     * factors lose 25 % against split) */
    if (fact_ok)
        *out = B <= 16 ? REDUCE_FACTORS : REDUCE_SPLIT;
    else if (split_ok)
        *out = REDUCE_SPLIT; /* exact mode on one node: no int64 slots to sum */
    else if (node_ok)
        *out = REDUCE_NODE;
    return pp_ok();
}

/* An auto|on|off environment switch: *v = -1 (unset, empty or auto), 1 (on) or 0 (off); any
 * other value is a usage error that says what `on` does. */
static pp_status env_switch(const char *name, const char *on_means, int *v)
{
    const char *e = getenv(name);
    *v = -1;
    if (!e || !*e || strcmp(e, "auto") == 0) return pp_ok();
    if (strcmp(e, "on") == 0 || strcmp(e, "off") == 0) {
        *v = strcmp(e, "on") == 0;
        return pp_ok();
    }
    return pp_error(PP_ERR_USAGE, "%s=%s: expected auto, on (%s) or off", name, e, on_means);
}

pp_status reduce_overlap(reduce_kind k, int R, int real_nodes, int exact, size_t nparams, int *out)
{
    *out = 0;
    int v;
    PP_TRY(env_switch("PARAPROP_OVERLAP",
                      "start each layer's gradient allreduce during the backward pass", &v));
    if (k != REDUCE_MPI || R < 2 || exact) return pp_ok();
    *out = v >= 0 ? v : real_nodes > 1 && nparams >= ((size_t)1 << 16);
    return pp_ok();
}

pp_status node_reduce_init(node_reduce *r, pp_comm *c, size_t n, size_t esz)
{
    memset(r, 0, sizeof *r);
    r->comm = c;
    r->lr = pp_comm_local_rank(c);
    r->lsize = pp_comm_local_size(c);
    r->nodes = pp_comm_nodes(c);
    r->n = n;
    r->esz = esz;
    const size_t per_line = 64 / esz;
    r->stride = (n + per_line - 1) / per_line * per_line; /* slices start on cache lines */
    if (r->stride == 0) r->stride = per_line;
    const size_t bytes =
        (size_t)(r->lsize + 1) * r->stride * esz + (size_t)r->lsize * NODE_SMALL * sizeof(double);
    void *base = NULL;
    PP_TRY(pp_shared_alloc(c, bytes, &r->win, &base));
    r->slots = base;
    r->sum = r->slots + (size_t)r->lsize * r->stride * esz;
    r->small = (double *)(void *)(r->sum + r->stride * esz);
    /* slice j of lsize, in whole cache lines */
    const size_t lines = r->stride / per_line;
    r->lo = lines * (size_t)r->lr / (size_t)r->lsize * per_line;
    r->hi = lines * (size_t)(r->lr + 1) / (size_t)r->lsize * per_line;
    if (r->hi > n) r->hi = n;
    if (r->lo > r->hi) r->lo = r->hi;
    return pp_ok();
}

void node_reduce_free(node_reduce *r)
{
    if (r->win) pp_shared_free(r->win);
    memset(r, 0, sizeof *r);
}

void *node_reduce_slot(const node_reduce *r)
{
    return r->slots + (size_t)r->lr * r->stride * r->esz;
}

double *node_reduce_small(const node_reduce *r)
{
    return r->small + (size_t)r->lr * NODE_SMALL;
}

/* sum[lo, hi) = Σⱼ slot_j[lo, hi), j in local-rank order */
static void sum_real(const node_reduce *r)
{
    const pp_real *s = (const pp_real *)(void *)r->slots;
    pp_real *out = (pp_real *)(void *)r->sum;
    const size_t stride = r->stride, lo = r->lo, hi = r->hi;
    memcpy(out + lo, s + lo, (hi - lo) * sizeof *out);
    for (int j = 1; j < r->lsize; j++) {
        const pp_real *sj = s + (size_t)j * stride;
        for (size_t i = lo; i < hi; i++) out[i] += sj[i];
    }
}

static void sum_i64(const node_reduce *r)
{
    const int64_t *s = (const int64_t *)(void *)r->slots;
    int64_t *out = (int64_t *)(void *)r->sum;
    const size_t stride = r->stride, lo = r->lo, hi = r->hi;
    memcpy(out + lo, s + lo, (hi - lo) * sizeof *out);
    for (int j = 1; j < r->lsize; j++) {
        const int64_t *sj = s + (size_t)j * stride;
        for (size_t i = lo; i < hi; i++) out[i] += sj[i];
    }
}

pp_status node_reduce_sum(node_reduce *r, int integer, const void **sum, double *small_out)
{
    /* the fault sites of the MPI path (core/fault.h), so the robustness tests cover this one */
    if (pp_fault("grad-allreduce", pp_comm_rank(r->comm)))
        return pp_error(PP_ERR_RUNTIME, "node gradient reduction failed: injected fault");
    pp_fault_kill("allreduce");
    PP_TRY(pp_shared_barrier(r->win));
    if (integer)
        sum_i64(r);
    else
        sum_real(r);
    /* the small values: on one node every rank sums them all, in the same order; over nodes
     * each rank's own go into one world allreduce below */
    for (int k = 0; k < NODE_SMALL; k++) {
        double v = 0;
        if (r->nodes > 1)
            v = r->small[(size_t)r->lr * NODE_SMALL + k];
        else
            for (int j = 0; j < r->lsize; j++) v += r->small[(size_t)j * NODE_SMALL + k];
        small_out[k] = v;
    }
    if (r->nodes > 1) {
        char *mine = r->sum + r->lo * r->esz;
        if (integer)
            PP_TRY(pp_comm_cross_sum_i64(r->comm, (int64_t *)(void *)mine, r->hi - r->lo));
        else
            PP_TRY(pp_comm_cross_sum_real(r->comm, (pp_real *)(void *)mine, r->hi - r->lo));
    }
    PP_TRY(pp_shared_barrier(r->win));
    if (r->nodes > 1) PP_TRY(pp_comm_sum_double(r->comm, small_out, NODE_SMALL));
    *sum = r->sum;
    return pp_ok();
}

pp_status reduce_shared_params(size_t nparams, int *out)
{
    int v;
    PP_TRY(env_switch("PARAPROP_SHARED_PARAMS",
                      "one node-shared copy of the parameters, each rank updating its part", &v));
    *out = v >= 0 ? v : nparams >= ((size_t)1 << 20);
    return pp_ok();
}

pp_status node_factors_init(node_factors *f, pp_comm *c, const pp_arch *a, size_t B, int split,
                            int share_params, int nstate)
{
    memset(f, 0, sizeof *f);
    f->comm = c;
    f->lr = pp_comm_local_rank(c);
    f->lsize = pp_comm_local_size(c);
    f->nstate = !share_params || nstate < 0 ? 0 : nstate > 2 ? 2 : nstate;
    const size_t wsb = pp_workspace_bytes(a, B);
    const size_t smallb = (2 * (size_t)f->lsize * NODE_SMALL * sizeof(double) + 63) / 64 * 64;
    const size_t pb = (a->nparams * sizeof(pp_real) + 63) / 64 * 64; /* one parameter array */
    const size_t bytes =
        2 * wsb + smallb + (split ? pb : 0) + (share_params ? (1 + (size_t)f->nstate) * pb : 0);
    void *base = NULL;
    PP_TRY(pp_shared_alloc(c, bytes, &f->win, &base));
    char *p = base; /* the window's base is page aligned */
    pp_workspace_place(&f->ws[0], a, B, p);
    pp_workspace_place(&f->ws[1], a, B, p + wsb);
    f->small = (double *)(void *)(p + 2 * wsb);
    p += 2 * wsb + smallb;
    f->sum = split ? (pp_real *)(void *)p : NULL;
    p += split ? pb : 0;
    if (!share_params) return pp_ok();
    f->params = (pp_real *)(void *)p;
    for (int k = 0; k < f->nstate; k++) f->state[k] = (pp_real *)(void *)(p + (size_t)(k + 1) * pb);
    /* the optimizer's state starts at zero (as pp_optim_state_init's calloc) */
    if (f->lr == 0) memset(p + pb, 0, (size_t)f->nstate * pb);
    return pp_shared_barrier(f->win);
}

pp_status node_factors_params_done(node_factors *f)
{
    return pp_shared_barrier(f->win);
}

void node_factors_free(node_factors *f)
{
    for (int k = 0; k < 2; k++) pp_workspace_dropout_free(&f->ws[k]); /* private, malloc'd */
    if (f->win) pp_shared_free(f->win); /* the workspaces live in it */
    memset(f, 0, sizeof *f);
}

pp_workspace *node_factors_next(node_factors *f, double **small)
{
    f->parity ^= 1;
    *small = f->small + ((size_t)f->parity * (size_t)f->lsize + (size_t)f->lr) * NODE_SMALL;
    return &f->ws[f->parity];
}

pp_status node_factors_exchange(node_factors *f, double *small_out)
{
    if (pp_fault("grad-allreduce", pp_comm_rank(f->comm)))
        return pp_error(PP_ERR_RUNTIME, "node factor exchange failed: injected fault");
    pp_fault_kill("allreduce");
    PP_TRY(pp_shared_barrier(f->win));
    const double *s = f->small + (size_t)f->parity * (size_t)f->lsize * NODE_SMALL;
    for (int k = 0; k < NODE_SMALL; k++) {
        double v = 0;
        for (int j = 0; j < f->lsize; j++) v += s[(size_t)j * NODE_SMALL + k];
        small_out[k] = v;
    }
    return pp_ok();
}

pp_status node_factors_done(node_factors *f)
{
    return pp_shared_barrier(f->win);
}
