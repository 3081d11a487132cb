/* The validation set: the seeded hold-out, the /validation group, and a rank-free evaluation. */
#include "validation.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "paraprop/rng.h"
#include "schedule.h"

/* Copies samples ids[0…n) of x into a new set out. */
static pp_status subset(const pp_data *x, const uint32_t *ids, size_t n, pp_data *out)
{
    PP_TRY(pp_data_alloc(out, n, x->d, x->k, x->u8 != NULL, x->labels != NULL));
    out->scale = x->scale;
    for (size_t i = 0; i < n; i++) {
        size_t j = ids[i];
        if (x->u8) memcpy(out->u8 + i * x->d, x->u8 + j * x->d, x->d);
        if (x->f32) memcpy(out->f32 + i * x->d, x->f32 + j * x->d, x->d * sizeof *x->f32);
        if (x->labels) out->labels[i] = x->labels[j];
        if (x->targets)
            memcpy(out->targets + i * x->k, x->targets + j * x->k, x->k * sizeof *x->targets);
    }
    return pp_ok();
}

/* The hold-out: a Fisher-Yates shuffle of 0…N−1 from (seed, PP_RNG_VALIDATION) — not from the
 * ranks — whose last nv entries are validation; every rank computes the same split. */
static pp_status split(trainer *t, size_t nv)
{
    const size_t N = t->train.n;
    uint32_t *perm = malloc(N * sizeof *perm);
    unsigned char *is_val = calloc(N, 1);
    uint32_t *ids = malloc(N * sizeof *ids);
    pp_status st = perm && is_val && ids ? pp_ok() : pp_error(PP_ERR_NOMEM, "out of memory");
    if (!st.code) {
        for (size_t i = 0; i < N; i++) perm[i] = (uint32_t)i;
        for (size_t i = N; i > 1; i--) {
            uint64_t r = pp_rng_u64(t->cfg->seed, PP_RNG_VALIDATION, 0, i);
            __extension__ typedef unsigned __int128 u128;
            size_t j = (size_t)(((u128)r * i) >> 64);
            uint32_t tmp = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = tmp;
        }
        for (size_t i = N - nv; i < N; i++) is_val[perm[i]] = 1;
        /* both parts in the file's order: the training order then comes from the shuffle alone */
        size_t a = 0, b = N - nv;
        for (size_t i = 0; i < N; i++) ids[is_val[i] ? b++ : a++] = (uint32_t)i;
        pp_data tr;
        st = subset(&t->train, ids, N - nv, &tr);
        if (!st.code) st = subset(&t->train, ids + (N - nv), nv, &t->val);
        if (!st.code) {
            pp_data_free(&t->train);
            t->train = tr;
        } else
            pp_data_free(&tr);
    }
    free(perm);
    free(is_val);
    free(ids);
    return st;
}

static void dataset_coll(trainer *t, pp_dataset_coll *c);

pp_status validation_setup(trainer *t)
{
    pp_config *cfg = t->cfg;
    const int want_split = cfg->val_count > 0 || cfg->val_frac > 0;
    pp_status st = pp_ok();
    schedule sc;
    PP_TRY(schedule_parse(cfg->lr_schedule, &sc));
    if (want_split && t->info.has_val)
        st = pp_error(PP_ERR_USAGE,
                      "--validation-split %s: %s already has a /validation group (%zu samples); "
                      "use it (--validation-split none) or convert the data without one",
                      cfg->val_split, cfg->data, t->info.n_val);
    if (!st.code && want_split) {
        const size_t N = t->info.n_train;
        size_t nv =
            cfg->val_count > 0 ? (size_t)cfg->val_count : (size_t)floor(cfg->val_frac * (double)N);
        if (nv < 1 || nv >= N)
            st = pp_error(PP_ERR_USAGE,
                          "--validation-split %s: holds out %zu of the %zu training samples of "
                          "%s; it must leave at least one on each side",
                          cfg->val_split, nv, N, cfg->data);
        else if (N - nv < (size_t)cfg->batch_size)
            st = pp_error(PP_ERR_USAGE,
                          "--validation-split %s leaves %zu training samples, fewer than "
                          "--batch-size %lld",
                          cfg->val_split, N - nv, (long long)cfg->batch_size);
        if (!st.code) st = split(t, nv);
        if (!st.code) t->info.n_train = N - nv;
    }
    const int has_val = want_split || t->info.has_val;
    if (!st.code && !has_val) {
        const char *need = cfg->early_stop > 0               ? "--early-stop"
                           : cfg->monitor != PP_MONITOR_AUTO ? "--monitor"
                           : sc.kind == SCHED_PLATEAU        ? "--lr-schedule plateau"
                                                             : NULL;
        if (need)
            st = pp_error(PP_ERR_USAGE,
                          "%s needs validation data: give --validation-split N|F or a dataset "
                          "with a /validation group ('paraprop convert … --validation-count N')",
                          need);
    }
    st = pp_comm_agree(t->comm, st);
    if (st.code) return st;
    if (t->info.has_val && !want_split) {
        pp_dataset_coll coll;
        dataset_coll(t, &coll);
        /* every rank reads the whole group: the evaluation deals it out by global index */
        st = pp_dataset_read(cfg->data, "validation", &coll, 0, t->info.n_val, &t->val);
        st = pp_comm_agree(t->comm, st);
        if (st.code) return st;
    }
    t->has_val = has_val;
    if (has_val && cfg->monitor == PP_MONITOR_AUTO) cfg->monitor = PP_MONITOR_VAL_LOSS;
    return pp_ok();
}

static pp_status agree_on(void *comm, pp_status local)
{
    return pp_comm_agree(comm, local);
}

static void dataset_coll(trainer *t, pp_dataset_coll *c)
{
    pp_dataset_coll x = {pp_comm_native(t->comm), agree_on, t->comm, t->rank};
    *c = x;
}

static size_t argmax(const pp_real *v, size_t n)
{
    size_t b = 0;
    for (size_t j = 1; j < n; j++)
        if (v[j] > v[b]) b = j;
    return b;
}

pp_status validation_evaluate(trainer *t, double *loss, double *acc)
{
    const pp_arch *a = &t->arch;
    const pp_data *x = &t->val;
    const size_t n = x->n, k = a->n[a->L], chunk = t->ews.rows;
    /* (n) cost, then (n) correct: each entry written by exactly one rank, zero elsewhere, so the
     * sum over ranks is exact whatever order MPI adds in */
    double *per = calloc(2 * (n ? n : 1), sizeof *per);
    uint32_t *ids = malloc(chunk * sizeof *ids);
    pp_status st = pp_comm_agree(
        t->comm, per && ids ? pp_ok() : pp_error(PP_ERR_NOMEM, "out of memory for validation"));
    if (st.code) {
        free(per);
        free(ids);
        return st;
    }
    for (size_t c = (size_t)t->rank; c * chunk < n; c += (size_t)t->R) {
        size_t s = c * chunk, m = n - s < chunk ? n - s : chunk;
        for (size_t i = 0; i < m; i++) ids[i] = (uint32_t)(s + i);
        pp_data_gather(x, ids, &t->ews, 0, m);
        pp_net_forward(a, t->params, &t->ews, 0, m);
        for (size_t i = 0; i < m; i++) {
            const pp_real *out = t->ews.act[a->L] + i * k, *y = t->ews.y + i * k;
            per[s + i] = pp_cost_row(a, t->ews.zout + i * k, out, y);
            size_t p = argmax(out, k), truth = x->labels ? (size_t)x->labels[s + i] : argmax(y, k);
            per[n + s + i] = p == truth;
        }
    }
    free(ids);
    st = pp_comm_sum_double(t->comm, per, 2 * n);
    if (!st.code) {
        double cs = 0, hits = 0;
        for (size_t i = 0; i < n; i++) cs += per[i], hits += per[n + i];
        *loss = n ? cs / (double)n : 0;
        *acc = n ? hits / (double)n : 0;
    }
    free(per);
    /* in fast mode MPI need not give every rank the same gradient bits, so the parameters and
     * these values may differ in the last bits between ranks: rank 0's decide for all, or ranks
     * could disagree on a best epoch or a stop */
    double v[2] = {*loss, *acc};
    if (!st.code) st = pp_comm_bcast(t->comm, v, sizeof v, 0);
    if (!st.code) *loss = v[0], *acc = v[1];
    return st;
}
