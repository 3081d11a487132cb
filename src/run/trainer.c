/* Data loading, the data-parallel step and evaluation, shared by train, bench and eval. */
#include "trainer.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paraprop/checkpoint.h"
#include "paraprop/rng.h"
#include "paraprop/seal.h"

#include "core/fault.h"
#include "validation.h"
#include "memory.h"
#include "stream.h"

pp_status trainer_threads(pp_comm *comm, const pp_config *cfg, int *threads)
{
    int64_t env = 0;
    pp_status st = pp_config_env_threads(&env);
    if (st.code) return st;
    if (cfg->threads > 0)
        *threads = (int)cfg->threads;
    else if (env > 0)
        *threads = (int)env;
    else {
        /* cores this rank may use: a bound rank sees its own cores; an unbound one shares the
         * node's cores with the other ranks there */
        int procs = omp_get_num_procs(), local = pp_comm_local_size(comm);
        long node = sysconf(_SC_NPROCESSORS_ONLN);
        if (local > 1 && node > 0 && procs >= node) procs = (int)(node / local);
        *threads = procs > 0 ? procs : 1;
    }
    return pp_ok();
}

static pp_status agree_on(void *comm, pp_status local)
{
    return pp_comm_agree(comm, local);
}

/* The ranks of a collective dataset read. */
static pp_dataset_coll coll_of(const trainer *t)
{
    pp_dataset_coll c = {pp_comm_native(t->comm), agree_on, t->comm, t->rank};
    return c;
}

/* Node mode: one copy per node in a node-shared block, inputs then labels or targets (each
 * 64-byte aligned). Every node reads the whole set once: its ranks read disjoint slices
 * straight into the block in one collective read over all ranks (the nodes' slices overlap in
 * the file, which MPI-IO allows), then a node barrier makes every slice visible to every rank
 * of the node. The bytes are those of rank mode, so both reductions give the same bits. */
static pp_status load_train_node(trainer *t)
{
    const size_t N = t->info.n_train, d = t->info.d, k = t->info.k;
    const size_t esz = t->info.bytes ? 1 : sizeof(float);
    const size_t lsz = t->info.labelled ? sizeof(int32_t) : k * sizeof(float);
    const size_t lab_off = (N * d * esz + 63) / 64 * 64, total = lab_off + N * lsz;
    void *base = NULL;
    PP_TRY(pp_shared_alloc(t->comm, total, &t->train_shm, &base));
    t->train_shm_bytes = total;
    const int L = pp_comm_local_size(t->comm), lr = pp_comm_local_rank(t->comm);
    const size_t lo = N * (size_t)lr / (size_t)L, hi = N * (size_t)(lr + 1) / (size_t)L;
    pp_data *x = &t->train;
    x->n = N;
    x->d = d;
    x->k = k;
    x->scale = t->info.scale;
    char *in = base, *lab = (char *)base + lab_off;
    if (t->info.bytes)
        x->u8 = (uint8_t *)in;
    else
        x->f32 = (float *)(void *)in;
    if (t->info.labelled)
        x->labels = (int32_t *)(void *)lab;
    else
        x->targets = (float *)(void *)lab;
    /* this rank's rows of the block, as a dataset of hi − lo samples */
    pp_data slice = *x;
    slice.n = hi - lo;
    if (slice.u8) slice.u8 += lo * d;
    if (slice.f32) slice.f32 += lo * d;
    if (slice.labels) slice.labels += lo;
    if (slice.targets) slice.targets += lo * k;
    const pp_dataset_coll coll = coll_of(t);
    pp_status st = pp_dataset_read_into(t->cfg->data, "train", &coll, lo, hi, &slice);
    st = pp_comm_agree(t->comm, st);
    if (st.code) return st;
    return pp_comm_agree(t->comm, pp_shared_barrier(t->train_shm));
}

const char *trainer_data_mode(const trainer *t)
{
    return pp_data_mode_name(t->data_mode);
}

/* --data-mode auto: one rank on the node gains nothing from a shared block (rank); several
 * share one copy (node) when it fits the budget. The same verdict on every rank of a uniform
 * job; the caller agrees it all the same. */
static pp_status choose_data_mode(trainer *t)
{
    const pp_dataset_info *in = &t->info;
    const double rows = (double)in->n_train;
    t->data_bytes = rows * (double)in->d * (in->bytes ? 1.0 : 4.0) +
                    rows * (in->labelled ? 4.0 : 4.0 * (double)in->k);
    t->data_budget = t->cfg->memory_budget > 0 ? (double)t->cfg->memory_budget
                                               : (double)pp_config_default_budget();
    const int L = pp_comm_local_size(t->comm);
    int mode = t->cfg->data_mode;
    /* --validation-split takes its hold-out from rows in memory (validation.c copies both parts
     * out of the set), so it needs the set in this rank's own memory */
    const int hold_out = t->cfg->val_count > 0 || t->cfg->val_frac > 0;
    if (hold_out && (mode == PP_DATA_NODE || mode == PP_DATA_STREAM))
        return pp_error(PP_ERR_USAGE,
                        "--validation-split %s needs --data-mode rank (the hold-out is copied out "
                        "of this rank's own copy of the training set); with --data-mode %s, "
                        "convert the data with --validation-count N to get a /validation group",
                        t->cfg->val_split, mode == PP_DATA_NODE ? "node" : "stream");
    if (mode == PP_DATA_AUTO && hold_out) mode = PP_DATA_RANK;
    if (mode == PP_DATA_AUTO) {
        if (t->data_bytes > t->data_budget)
            mode = PP_DATA_STREAM;
        else
            mode = L > 1 ? PP_DATA_NODE : PP_DATA_RANK;
    }
    t->data_mode = mode;
    return pp_ok();
}

/* Every rank reads its slice collectively; broadcasts assemble the whole set everywhere. */
static pp_status load_train(trainer *t)
{
    if (t->data_mode == PP_DATA_NODE) return load_train_node(t);
    const char *path = t->cfg->data;
    size_t N = t->info.n_train, lo = N * (size_t)t->rank / (size_t)t->R,
           hi = N * (size_t)(t->rank + 1) / (size_t)t->R;
    pp_data slice;
    const pp_dataset_coll coll = coll_of(t);
    pp_status st = pp_dataset_read(path, "train", &coll, lo, hi, &slice);
    st = pp_comm_agree(t->comm, st);
    if (st.code) return st;
    st = pp_data_alloc(&t->train, N, t->info.d, t->info.k, t->info.bytes, t->info.labelled);
    /* the broadcasts' offsets, agreed with the set itself before the first broadcast */
    size_t *off = NULL;
    if (!st.code) {
        off = pp_fault("trainer-alloc", t->rank) ? NULL : calloc((size_t)t->R * 4, sizeof *off);
        if (!off) st = pp_error(PP_ERR_NOMEM, "cannot allocate the slice table of %d ranks", t->R);
    }
    st = pp_comm_agree(t->comm, st);
    if (st.code) {
        free(off);
        pp_data_free(&slice);
        return st;
    }
    t->train.scale = slice.scale;
    size_t *cnt = off + t->R, *loff = off + 2 * t->R, *lcnt = off + 3 * t->R;
    const size_t esz = t->info.bytes ? 1 : sizeof(float);
    const size_t lsz = t->info.labelled ? sizeof(int32_t) : t->info.k * sizeof(float);
    for (int r = 0; r < t->R; r++) {
        size_t a = N * (size_t)r / (size_t)t->R, b = N * (size_t)(r + 1) / (size_t)t->R;
        off[r] = a * t->info.d * esz;
        cnt[r] = (b - a) * t->info.d * esz;
        loff[r] = a * lsz;
        lcnt[r] = (b - a) * lsz;
    }
    char *in = t->info.bytes ? (char *)t->train.u8 : (char *)t->train.f32;
    char *lab = t->info.labelled ? (char *)t->train.labels : (char *)t->train.targets;
    const char *sin = t->info.bytes ? (char *)slice.u8 : (char *)slice.f32;
    const char *slab = t->info.labelled ? (char *)slice.labels : (char *)slice.targets;
    memcpy(in + off[t->rank], sin, cnt[t->rank]);
    memcpy(lab + loff[t->rank], slab, lcnt[t->rank]);
    pp_data_free(&slice);
    st = pp_comm_allgather_bytes(t->comm, in, off, cnt);
    if (!st.code) st = pp_comm_allgather_bytes(t->comm, lab, loff, lcnt);
    free(off);
    return st;
}

/* The log-likelihood cost's δᴸ = a − y (shared/MATH.md) holds only when each target row is a
 * probability distribution (in general ∂C/∂z = a Σy − y), and a negative target makes the cost
 * unbounded below: float targets are checked once, where the cost is known. Labels are one-hot. */
static pp_status check_targets(const trainer *t)
{
    const pp_data *x = &t->train;
    if (t->arch.cost != PP_COST_LOG_LIKELIHOOD || !x->targets) return pp_ok();
    const size_t k = x->k;
    for (size_t i = 0; i < x->n; i++) {
        const float *y = x->targets + i * k;
        double sum = 0;
        for (size_t j = 0; j < k; j++) {
            if (y[j] < 0)
                return pp_error(PP_ERR_INPUT,
                                "%s: /train/targets: target %zu of sample %zu is %g; the "
                                "log-likelihood cost needs every row to be a probability "
                                "distribution (y >= 0, sum 1), or choose --cost quadratic",
                                t->cfg->data, j, i, (double)y[j]);
            sum += y[j];
        }
        /* float rounding of the stored values, not a different distribution */
        if (fabs(sum - 1) > 1e-4)
            return pp_error(PP_ERR_INPUT,
                            "%s: /train/targets: the targets of sample %zu sum to %.7g; the "
                            "log-likelihood cost needs every row to be a probability distribution "
                            "(y >= 0, sum 1), or choose --cost quadratic",
                            t->cfg->data, i, sum);
    }
    return pp_ok();
}

static pp_status load_test(trainer *t)
{
    if (!t->info.has_test) return pp_ok();
    size_t N = t->info.n_test, lo = N * (size_t)t->rank / (size_t)t->R,
           hi = N * (size_t)(t->rank + 1) / (size_t)t->R;
    const pp_dataset_coll coll = coll_of(t);
    pp_status st = pp_dataset_read(t->cfg->data, "test", &coll, lo, hi, &t->test);
    return pp_comm_agree(t->comm, st);
}

static pp_status alloc_state(trainer *t)
{
    size_t P = t->arch.nparams;
    t->params = malloc(P * sizeof *t->params);
    t->grad = malloc(P * sizeof *t->grad);
    t->perm = malloc((t->info.n_train ? t->info.n_train : 1) * sizeof *t->perm);
    if (!t->params || !t->grad || !t->perm)
        return pp_error(PP_ERR_NOMEM, "cannot allocate %zu parameters (%.1f MiB each copy)", P,
                        (double)P * sizeof(pp_real) / 1048576.0);
    /* the largest shard any rank gets */
    size_t B = (size_t)t->cfg->batch_size, rows = 1;
    for (int r = 0; r < t->R; r++) {
        size_t lo, hi;
        if (t->cfg->exact)
            pp_exact_shard(B, r, t->R, &lo, &hi);
        else {
            lo = B * (size_t)r / (size_t)t->R;
            hi = B * (size_t)(r + 1) / (size_t)t->R;
        }
        if (hi - lo > rows) rows = hi - lo;
    }
    PP_TRY(pp_optim_state_init(&t->ost, &t->opt, P));
    PP_TRY(pp_workspace_init(&t->ws, &t->arch, rows));
    /* only the training workspace drops units: evaluation (ews) never does */
    PP_TRY(pp_workspace_dropout(&t->ws, &t->arch, &t->drop));
    PP_TRY(pp_workspace_init(&t->ews, &t->arch, 256));
    if (t->cfg->exact) PP_TRY(pp_exact_init(&t->ex, &t->arch, t->T));
    return pp_ok();
}

/* How gradients meet, and the node-shared blocks that needs (collective, agreed). */
static pp_status setup_reduce(trainer *t)
{
    int th[2] = {t->T, -t->T};
    PP_TRY(pp_comm_max_int(t->comm, th, 2));
    pp_status st =
        reduce_choose(t->comm, (size_t)t->cfg->batch_size, th[0] == -th[1], t->cfg->exact, &t->red);
    int share = 0; /* checked whatever the way, so that a mistyped value is never ignored */
    if (!st.code) st = reduce_shared_params(t->arch.nparams, &share);
    if (!st.code)
        st = reduce_overlap(t->red, t->R, pp_comm_real_nodes(t->comm), t->cfg->exact,
                            t->arch.nparams, &t->overlap);
    PP_TRY(pp_comm_agree(t->comm, st));
    if (t->red == REDUCE_NODE)
        st = node_reduce_init(&t->nr, t->comm, t->arch.nparams,
                              t->cfg->exact ? sizeof(int64_t) : sizeof(pp_real));
    else if (t->red == REDUCE_FACTORS || t->red == REDUCE_SPLIT) {
        const int nstate = t->ost.m ? 2 : t->ost.vel ? 1 : 0;
        st = node_factors_init(&t->nf, t->comm, &t->arch, (size_t)t->cfg->batch_size,
                               t->red == REDUCE_SPLIT, share, nstate);
        /* dropout in the shared workspaces: the masks and their sample keys stay private, as
         * only this rank's rows use them; the dropped activations and errors that ∇W reads
         * are in the shared rows */
        for (int k = 0; k < 2 && !st.code; k++)
            st = pp_workspace_dropout(&t->nf.ws[k], &t->arch, &t->drop);
        if (!st.code) t->rowids = malloc((size_t)t->cfg->batch_size * sizeof *t->rowids);
        if (!st.code && !t->rowids)
            st = pp_error(PP_ERR_NOMEM, "out of memory for the batch's row table");
        st = pp_comm_agree(t->comm, st);
        if (!st.code && t->nf.params) { /* the node's one copy of the parameters and state */
            free(t->params);
            t->params = t->nf.params;
            if (t->ost.m) {
                free(t->ost.m);
                free(t->ost.v);
                t->ost.m = t->nf.state[0];
                t->ost.v = t->nf.state[1];
            } else if (t->ost.vel) {
                free(t->ost.vel);
                t->ost.vel = t->nf.state[0];
            }
            t->shared_params = 1;
        }
    }
    if (st.code) t->red = REDUCE_MPI;
    return st;
}

/* The overlapped step's hook (batch.h): each layer's allreduce starts once its gradient is
 * final, and MPI is polled between the pieces of the layers below. */
typedef struct overlap_arg {
    pp_comm *comm;
    const pp_arch *a;
    pp_real *grad;
    pp_status st; /* the first start that failed */
} overlap_arg;

static void overlap_ready(void *arg, int l)
{
    overlap_arg *o = arg;
    if (o->st.code) return;
    const size_t len = o->a->b_off[l] + o->a->n[l] - o->a->w_off[l]; /* Wˡ then bˡ */
    o->st = pp_comm_isum_real(o->comm, o->grad + o->a->w_off[l], len);
}

static void overlap_poll(void *arg)
{
    pp_comm_progress(((overlap_arg *)arg)->comm);
}

/* Memory a rank will need, to refuse absurd sizes before allocating. */
static double bytes_needed(const pp_arch *a, const pp_config *cfg, size_t rows, int exact)
{
    double P = (double)a->nparams, act = 0;
    for (int l = 0; l <= a->L; l++) act += (double)a->n[l];
    /* parameters, gradient, and the optimizer's copies (Adam: two) */
    const int adam = cfg->optimizer == PP_OPT_ADAM || cfg->optimizer == PP_OPT_ADAMW;
    const double copies = 2 + (adam ? 2 : cfg->momentum != 0 ? 1 : 0);
    double b = copies * P * sizeof(pp_real) + 2 * (double)(rows + 256) * act * sizeof(pp_real);
    /* exact: the int64 sums, and at most one packed float per weight (exact.c's plans) */
    if (exact) b += (double)P * (sizeof(pp_real) + 8);
    return b;
}

/* Exact mode's bits depend on the matrix kernels (issue 14): every rank must run the same ones,
 * not paraprop's AVX-512 kernels on one node and the CBLAS, or another OpenBLAS core, on another.
 * pp_net_kernels() names the engines, oneDNN's ISA and the OpenBLAS core among them. */
static pp_status agree_kernels(trainer *t)
{
    enum { W = 256 };
    char *all = calloc((size_t)t->R, W);
    size_t *off = malloc(2 * (size_t)t->R * sizeof *off);
    pp_status st = all && off ? pp_ok() : pp_error(PP_ERR_NOMEM, "out of memory");
    for (int r = 0; !st.code && r < t->R; r++) off[r] = (size_t)r * W, off[t->R + r] = W;
    if (!st.code) {
        const char *k = strchr(pp_net_kernels(), ':'); /* "auto: oneDNN … avx512_core …" */
        /* and how many products run planned (a plan that failed to build on one rank would
         * put that rank's products on the unpacked path, with other bits) */
        snprintf(all + (size_t)t->rank * W, W, "%s; %d planned products",
                 k ? k + 2 : pp_net_kernels(), pp_exact_planned(&t->ex));
        st = pp_comm_allgather_bytes(t->comm, all, off, off + t->R);
    }
    for (int r = 1; !st.code && r < t->R; r++)
        if (strcmp(all, all + (size_t)r * W) != 0)
            st = pp_error(PP_ERR_USAGE,
                          "--reduction exact needs the same matrix kernels on every rank, but rank "
                          "0 runs %s and rank %d %s: set PARAPROP_KERNELS=blas on every rank (with "
                          "the same BLAS and core) or use --reduction fast",
                          all, r, all + (size_t)r * W);
    free(all);
    free(off);
    return st;
}

pp_status trainer_setup(trainer *t, pp_comm *comm, pp_config *cfg, int need_train)
{
    memset(t, 0, sizeof *t);
    t->comm = comm;
    t->cfg = cfg;
    t->rank = pp_comm_rank(comm);
    t->R = pp_comm_size(comm);
    pp_status st = trainer_threads(comm, cfg, &t->T);
    if (!st.code)
        st = pp_arch_init(&t->arch, cfg->L, cfg->sizes, cfg->hidden, cfg->output, cfg->cost);
    if (!st.code) {
        /* refuse what cannot fit in this node's memory before allocating any of it */
        double need = bytes_needed(&t->arch, cfg, (size_t)cfg->batch_size, cfg->exact);
        double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
        double per_node = need * pp_comm_local_size(comm);
        if (phys > 0 && per_node > phys)
            st = pp_error(PP_ERR_USAGE,
                          "--layers %s with batch %lld needs about %.1f GiB per rank (%zu "
                          "parameters; %d rank(s) on this node), more than its %.1f GiB of memory",
                          cfg->layers, (long long)cfg->batch_size, need / 1073741824.0,
                          t->arch.nparams, pp_comm_local_size(comm), phys / 1073741824.0);
    }
    /* the ranks verify the dataset's seal together, each 1/R of it, before HDF5 parses it */
    pp_seal_info seal;
    if (!st.code) st = pp_seal_check(cfg->data, t->rank, t->R, &seal);
    st = pp_comm_agree(comm, st);
    char note[1300];
    /* said once, by rank 0, like the other run messages on stderr */
    if (!st.code && t->rank == 0 && pp_seal_note(cfg->data, &seal, note, sizeof note)) {
        fprintf(stderr, "paraprop: %s\n", note);
        fflush(stderr);
    }
    if (!st.code) st = pp_dataset_probe(cfg->data, &t->info);
    if (!st.code && t->info.d != t->arch.n[0])
        st = pp_error(PP_ERR_USAGE, "--layers starts with %zu inputs but %s has %zu per sample",
                      t->arch.n[0], cfg->data, t->info.d);
    if (!st.code && t->info.k != t->arch.n[t->arch.L])
        st = pp_error(PP_ERR_USAGE, "--layers ends with %zu outputs but %s has %zu %s",
                      t->arch.n[t->arch.L], cfg->data, t->info.k,
                      t->info.labelled ? "classes" : "target columns");
    st = pp_comm_agree(comm, st);
    if (st.code) return st;
    if (need_train) {
        /* bounds that need N, the training-set size (the same verdict on every rank, agreed all
         * the same so that it reaches the app as an agreed failure) */
        const size_t N = t->info.n_train;
        const double decay = cfg->eta * cfg->l2 / (double)N;
        if ((uint64_t)cfg->batch_size > (uint64_t)N)
            st = pp_error(PP_ERR_USAGE,
                          "--batch-size %lld is larger than the %zu training samples of %s (the "
                          "workspaces are sized by the batch); --batch-size %zu is full-batch "
                          "training",
                          (long long)cfg->batch_size, N, cfg->data, N);
        else if (decay >= 1)
            st = pp_error(PP_ERR_USAGE,
                          "the weight decay ηλ/N = %g × %g / %zu = %g must be below 1 (at 1 or "
                          "more every step zeroes or flips the weights): lower --l2 or "
                          "--learning-rate",
                          cfg->eta, cfg->l2, N, decay);
        st = pp_comm_agree(comm, st);
        if (st.code) return st;
    }
    if (need_train) PP_TRY(pp_comm_agree(comm, choose_data_mode(t)));
    if (need_train && t->data_mode == PP_DATA_STREAM)
        PP_TRY(pp_comm_agree(comm, stream_open(t)));
    else if (need_train)
        PP_TRY(load_train(t));
    /* sampled here because rank mode's copy and its slice peak here */
    t->private_loaded = trainer_private_bytes(t);
    if (need_train) PP_TRY(pp_comm_agree(comm, check_targets(t)));
    /* before the step's sizes and λ/N: a hold-out changes N */
    if (need_train || strcmp(cfg->split, "validation") == 0) PP_TRY(validation_setup(t));
    PP_TRY(load_test(t));
    t->opt.eta = cfg->eta;
    t->opt.lambda = cfg->l2;
    t->opt.mu = cfg->momentum;
    t->opt.ntrain = t->info.n_train;
    t->opt.kind = (pp_optimizer)cfg->optimizer;
    t->opt.l1 = cfg->l1;
    t->opt.clip = cfg->clip_norm;
    t->opt.beta1 = cfg->beta1;
    t->opt.beta2 = cfg->beta2;
    t->opt.eps = cfg->adam_eps;
    t->drop.seed = cfg->seed;
    for (int l = 1; l < t->arch.L; l++) t->drop.p[l] = pp_config_dropout(cfg, l);
    st = pp_comm_agree(comm, alloc_state(t));
    if (!st.code) st = setup_reduce(t);
    if (!st.code && cfg->exact) st = agree_kernels(t);
    if (st.code) return st;
    if (trainer_params_writer(t)) pp_net_init_params(&t->arch, cfg->init, cfg->seed, t->params);
    PP_TRY(trainer_params_written(t));
    if (*cfg->init_from) {
        pp_checkpoint ck;
        st = pp_checkpoint_read(cfg->init_from, cfg->allow_unsealed, &ck);
        if (!st.code && (ck.arch.L != t->arch.L ||
                         memcmp(ck.arch.n, t->arch.n, sizeof(size_t) * (size_t)(t->arch.L + 1))))
            st = pp_error(PP_ERR_USAGE, "--init-from %s: its layer sizes differ from --layers %s",
                          cfg->init_from, cfg->layers);
        if (!st.code && trainer_params_writer(t))
            memcpy(t->params, ck.params, t->arch.nparams * sizeof *t->params);
        pp_checkpoint_free(&ck);
        st = pp_comm_agree(comm, st);
        if (st.code) return st;
        PP_TRY(trainer_params_written(t));
    }
    return pp_ok();
}

int trainer_params_writer(const trainer *t)
{
    return !t->shared_params || t->nf.lr == 0;
}

pp_status trainer_params_written(trainer *t)
{
    return t->shared_params ? node_factors_params_done(&t->nf) : pp_ok();
}

void trainer_free(trainer *t)
{
    stream_close(t);
    if (t->train_shm) /* the node's block: its views are not pp_data's to free */
        pp_shared_free(t->train_shm);
    else
        pp_data_free(&t->train);
    pp_data_free(&t->test);
    pp_data_free(&t->val);
    if (t->shared_params) { /* in the node's block, freed with it below */
        t->params = NULL;
        t->ost.vel = t->ost.m = t->ost.v = NULL;
    }
    free(t->params);
    pp_optim_state_free(&t->ost);
    free(t->grad);
    free(t->perm);
    free(t->rowids);
    pp_workspace_free(&t->ws);
    pp_workspace_free(&t->ews);
    pp_exact_free(&t->ex);
    if (t->red == REDUCE_NODE && !t->shared_lost) node_reduce_free(&t->nr);
    if ((t->red == REDUCE_FACTORS || t->red == REDUCE_SPLIT) && !t->shared_lost)
        node_factors_free(&t->nf);
    memset(t, 0, sizeof *t);
}

void trainer_end(trainer *t, pp_status st)
{
    if (st.code && !st.agreed) {
        /* the abort that follows ends the processes and their windows: freeing one
         * (collective) would wait for ranks that wait in a node barrier */
        t->shared_lost = 1;
        t->train_shm = NULL;
        memset(&t->train, 0, sizeof t->train);
    }
    trainer_free(t);
}

void trainer_order_into(const trainer *t, int64_t epoch, uint32_t *perm)
{
    size_t N = t->info.n_train;
    if (t->cfg->shuffle)
        pp_rng_permutation(t->cfg->seed, (uint32_t)epoch, N, perm);
    else
        for (size_t i = 0; i < N; i++) perm[i] = (uint32_t)i;
}

void trainer_order(trainer *t, int64_t epoch)
{
    trainer_order_into(t, epoch, t->perm);
    stream_epoch(t, epoch); /* keeps the rows read ahead for this epoch's first steps */
}

/* Names the first layer with a non-finite gradient entry. */
static pp_status check_finite(const trainer *t, const pp_real *grad, double cost)
{
    const pp_arch *a = &t->arch;
    if (pp_all_finite(grad, a->nparams) && isfinite(cost)) return pp_ok();
    for (int l = 1; l <= a->L; l++) {
        size_t lo = a->w_off[l], hi = a->b_off[l] + a->n[l];
        for (size_t i = lo; i < hi; i++)
            if (!isfinite((double)grad[i]))
                return pp_error(PP_ERR_DIVERGED,
                                "layer %d: the %s gradient has a non-finite entry (%g)", l,
                                i < a->b_off[l] ? "weight" : "bias", (double)grad[i]);
    }
    if (!isfinite(cost))
        return pp_error(PP_ERR_DIVERGED, "the minibatch cost is not finite (%g)", cost);
    return pp_ok();
}

pp_status trainer_check_params(const trainer *t)
{
    const pp_arch *a = &t->arch;
    if (pp_all_finite(t->params, a->nparams)) return pp_ok();
    for (int l = 1; l <= a->L; l++) {
        size_t lo = a->w_off[l], hi = a->b_off[l] + a->n[l];
        for (size_t i = lo; i < hi; i++)
            if (!isfinite((double)t->params[i]))
                return pp_error(PP_ERR_DIVERGED, "layer %d: the %s hold a non-finite value (%g)", l,
                                i < a->b_off[l] ? "weights" : "biases", (double)t->params[i]);
    }
    return pp_ok();
}

/* The end of every step: the phases' times, the verdict on the summed gradient g (already
 * agreed, or the same bits on every rank when `same_bits`), and the optimizer step. */
static pp_status finish_step(trainer *t, const pp_batch_times *bt, pp_status verdict, int same_bits,
                             const pp_real *g, size_t n)
{
    t->times.data += bt->data;
    t->times.compute += bt->compute;
    if (same_bits && verdict.code) {
        verdict.agreed = 1; /* no collective: every rank holds this verdict */
        return verdict;
    }
    if (!same_bits) PP_TRY(pp_comm_agree(t->comm, verdict));
    double t6 = omp_get_wtime();
    pp_optim_clip(&t->opt, g, t->arch.nparams, n, t->T);
    if (t->shared_params) {
        /* this rank's part of the node's one copy; the others' parts are read after the
         * barrier (which every rank of the node reaches: the verdict was theirs too) */
        pp_optim_step_part(&t->arch, &t->opt, t->params, &t->ost, g, n, t->T, t->nf.lr,
                           t->nf.lsize);
        double t7 = omp_get_wtime();
        t->times.optimizer += t7 - t6;
        PP_TRY(node_factors_params_done(&t->nf));
        t->times.allreduce += omp_get_wtime() - t7;
        return pp_ok();
    }
    pp_optim_step(&t->arch, &t->opt, t->params, &t->ost, g, n, t->T);
    t->times.optimizer += omp_get_wtime() - t6;
    return pp_ok();
}

/* The step over node-shared memory (reduce.h): the gradient is computed into this rank's slot,
 * and on one node every rank reads the same summed bits, so its finite check is the same
 * everywhere without a collective. */
static pp_status step_node(trainer *t, const pp_data *x, const uint32_t *rows, size_t m, size_t n,
                           int local_stop, int *stop, double *cost)
{
    pp_batch_times bt = {0, 0};
    node_reduce *r = &t->nr;
    double *small = node_reduce_small(r), tot[NODE_SMALL];
    const void *sum = NULL;
    const pp_real *g = t->grad;
    if (!t->cfg->exact) {
        small[0] =
            pp_batch_grad(&t->arch, t->params, x, rows, m, &t->ws, t->T, node_reduce_slot(r), &bt);
        small[1] = local_stop ? 1.0 : 0.0;
        double t1 = omp_get_wtime();
        PP_TRY(node_reduce_sum(r, 0, &sum, tot));
        t->times.allreduce += omp_get_wtime() - t1;
        g = sum; /* read in place: every rank of the node reads the same block */
    } else {
        small[0] = pp_exact_forward_backward(&t->ex, &t->arch, t->params, x, rows, m, &t->ws, &bt);
        small[1] = local_stop ? 1.0 : 0.0;
        double t1 = omp_get_wtime();
        PP_TRY(pp_comm_max_double(t->comm, t->ex.maxes, (size_t)t->ex.nmax));
        double t2 = omp_get_wtime();
        /* the sums go straight into this rank's slot, and the gradient comes straight from
         * the node's sum: no copies of the int64 arrays (W3: 46 MB each) */
        int64_t *own = t->ex.acc;
        t->ex.acc = node_reduce_slot(r);
        const pp_status acc = pp_exact_accumulate(&t->ex, &t->arch, &t->ws, m, n, NULL);
        t->ex.acc = own;
        PP_TRY(pp_comm_agree(t->comm, acc));
        double t3 = omp_get_wtime();
        PP_TRY(node_reduce_sum(r, 1, &sum, tot));
        t->ex.acc = (int64_t *)(uintptr_t)sum; /* read only */
        pp_exact_finish(&t->ex, &t->arch, t->grad);
        t->ex.acc = own;
        double t4 = omp_get_wtime();
        t->times.allreduce += (t2 - t1) + (t4 - t3);
        bt.compute += t3 - t2;
    }
    *cost = tot[0];
    *stop = tot[1] > 0;
    /* on one node every rank judged the same shared bits; across nodes, MPI's sums */
    return finish_step(t, &bt, check_finite(t, g, tot[0]), pp_comm_nodes(t->comm) == 1, g, n);
}

/* The step over shared factors (reduce.h): this rank's rows into the node's workspace, one
 * barrier, then every rank computes the whole ∇W, the same bits everywhere. */
static pp_status step_factors(trainer *t, const pp_data *x, const uint32_t *sid,
                              const uint32_t *ids, size_t lo, size_t hi, size_t n, int local_stop,
                              int *stop, double *cost)
{
    pp_batch_times bt = {0, 0};
    double *small, tot[NODE_SMALL];
    pp_workspace *ws = node_factors_next(&t->nf, &small);
    /* row r of the shared workspace holds sample ids[r]; streamed, this rank's rows are x's
     * rows sid[0…hi − lo) */
    ws->keys = NULL;
    if (sid) {
        for (size_t r = lo; r < hi; r++) t->rowids[r] = sid[r - lo];
        ws->keys = ids; /* dropout's keys: the training-set indices */
        ids = t->rowids;
    }
    if (t->cfg->exact) {
        /* this rank's whole blocks into the shared rows; then, with the global maxima, its part
         * of every layer's tiles from all rows straight into the shared gradient: one rank's
         * bits, and no int64 sums to move between the cores */
        small[0] =
            pp_exact_forward_backward_rows(&t->ex, &t->arch, t->params, x, ids, lo, hi, ws, &bt);
        small[1] = local_stop ? 1.0 : 0.0;
        double t1 = omp_get_wtime();
        PP_TRY(node_factors_exchange(&t->nf, tot));
        PP_TRY(pp_comm_max_double(t->comm, t->ex.maxes, (size_t)t->ex.nmax));
        double t2 = omp_get_wtime();
        /* every rank saw the same maxima: the same verdict, agreed all the same */
        PP_TRY(pp_comm_agree(t->comm, pp_exact_accumulate_part(&t->ex, &t->arch, ws, n, n,
                                                               t->nf.sum, t->nf.lr, t->nf.lsize)));
        double t3 = omp_get_wtime();
        PP_TRY(node_factors_done(&t->nf));
        t->times.allreduce += (t2 - t1) + (omp_get_wtime() - t3);
        bt.compute += t3 - t2;
        *cost = tot[0];
        *stop = tot[1] > 0;
        return finish_step(t, &bt, check_finite(t, t->nf.sum, tot[0]), 1, t->nf.sum, n);
    }
    small[0] = pp_batch_rows(&t->arch, t->params, x, ids, lo, hi, ws, t->T, &bt);
    small[1] = local_stop ? 1.0 : 0.0;
    double t1 = omp_get_wtime();
    PP_TRY(node_factors_exchange(&t->nf, tot));
    t->times.allreduce += omp_get_wtime() - t1;
    const pp_real *g = t->grad;
    if (t->red == REDUCE_FACTORS)
        pp_batch_wgrad(&t->arch, ws, n, 0, 1, t->T, t->grad, &bt);
    else {
        pp_batch_wgrad(&t->arch, ws, n, t->nf.lr, t->nf.lsize, t->T, t->nf.sum, &bt);
        double t2 = omp_get_wtime();
        PP_TRY(node_factors_done(&t->nf));
        t->times.allreduce += omp_get_wtime() - t2;
        g = t->nf.sum;
    }
    *cost = tot[0];
    *stop = tot[1] > 0;
    /* every rank computed the same bits from the same rows */
    return finish_step(t, &bt, check_finite(t, g, tot[0]), 1, g, n);
}

static pp_status step_on(trainer *t, const pp_data *x, const uint32_t *sid, const uint32_t *ids,
                         size_t n, int local_stop, int *stop, double *cost);

/* Stream mode: the shard's rows come from the stream, read ahead while this step runs; the
 * reader is joined before the step returns, so nothing after it shares HDF5 with it. */
pp_status trainer_step(trainer *t, const uint32_t *ids, size_t n, int local_stop, int *stop,
                       double *cost)
{
    if (t->data_mode != PP_DATA_STREAM)
        return step_on(t, &t->train, NULL, ids, n, local_stop, stop, cost);
    const pp_data *x;
    const uint32_t *sid;
    double t0 = omp_get_wtime();
    pp_status st = stream_fetch(t, ids, n, &x, &sid);
    t->times.data += omp_get_wtime() - t0; /* the exposed read time */
    if (!st.code) st = step_on(t, x, sid, ids, n, local_stop, stop, cost);
    stream_join(t);
    return st;
}

/* x: the samples ids index (the whole set), or the shard's own rows indexed by sid (stream). */
static pp_status step_on(trainer *t, const pp_data *x, const uint32_t *sid, const uint32_t *ids,
                         size_t n, int local_stop, int *stop, double *cost)
{
    size_t lo, hi;
    if (t->cfg->exact)
        pp_exact_shard(n, t->rank, t->R, &lo, &hi);
    else {
        lo = n * (size_t)t->rank / (size_t)t->R;
        hi = n * (size_t)(t->rank + 1) / (size_t)t->R;
    }
    const size_t m = hi - lo;
    /* streamed, rows are gathered by their place in this rank's buffer (sid); dropout keys its
     * masks by the training-set index all the same */
    t->ws.keys = sid ? ids + lo : NULL;
    if (t->red != REDUCE_MPI) {
        pp_status st = t->red == REDUCE_NODE
                           ? step_node(t, x, sid ? sid : ids + lo, m, n, local_stop, stop, cost)
                           : step_factors(t, x, sid, ids, lo, hi, n, local_stop, stop, cost);
        /* this rank alone failed: the others wait in a node barrier, so freeing the shared
         * window (collective) would hang it; the app aborts the job instead */
        if (st.code && !st.agreed) t->shared_lost = 1;
        return st;
    }
    pp_batch_times bt = {0, 0};
    double local_cost;
    if (!t->cfg->exact && t->overlap) {
        overlap_arg o = {t->comm, &t->arch, t->grad, pp_ok()};
        const pp_grad_hook h = {overlap_ready, overlap_poll, &o};
        local_cost = pp_batch_grad_overlap(&t->arch, t->params, x, sid ? sid : ids + lo, m, &t->ws,
                                           t->T, t->grad, &bt, &h);
        double t1 = omp_get_wtime();
        const pp_status w = pp_comm_wait_sums(t->comm); /* the started ones, failed or not */
        t->times.allreduce += omp_get_wtime() - t1;     /* the exposed part only */
        PP_TRY(o.st.code ? o.st : w);
    } else if (!t->cfg->exact) {
        local_cost = pp_batch_grad(&t->arch, t->params, x, sid ? sid : ids + lo, m, &t->ws, t->T,
                                   t->grad, &bt);
        double t1 = omp_get_wtime();
        PP_TRY(pp_comm_sum_real(t->comm, t->grad, t->arch.nparams));
        t->times.allreduce += omp_get_wtime() - t1;
    } else {
        local_cost = pp_exact_forward_backward(&t->ex, &t->arch, t->params, x, sid ? sid : ids + lo,
                                               m, &t->ws, &bt);
        double t1 = omp_get_wtime();
        PP_TRY(pp_comm_max_double(t->comm, t->ex.maxes, (size_t)t->ex.nmax));
        double t2 = omp_get_wtime();
        /* every rank saw the same maxima, so the verdict is the same; agreed anyway, like
         * every verdict a rank may return on before a collective */
        /* one rank has nothing to sum: the gradient straight from the sums, while in cache */
        pp_real *direct = t->R == 1 ? t->grad : NULL;
        PP_TRY(pp_comm_agree(t->comm, pp_exact_accumulate(&t->ex, &t->arch, &t->ws, m, n, direct)));
        double t3 = omp_get_wtime();
        if (!direct) {
            PP_TRY(pp_comm_sum_i64(t->comm, t->ex.acc, t->arch.nparams));
            pp_exact_finish(&t->ex, &t->arch, t->grad);
        }
        double t4 = omp_get_wtime();
        t->times.allreduce += (t2 - t1) + (t4 - t3);
        bt.compute += t3 - t2;
    }
    double small[2] = {local_cost, local_stop ? 1.0 : 0.0};
    double t5 = omp_get_wtime();
    PP_TRY(pp_comm_sum_double(t->comm, small, 2));
    t->times.allreduce += omp_get_wtime() - t5;
    *cost = small[0];
    *stop = small[1] > 0;
    /* the reduced gradient and cost need not be bitwise equal on every rank (MPI does not
     * promise it), so the verdict is agreed before the next step's allreduce */
    return finish_step(t, &bt, check_finite(t, t->grad, small[0]), 0, t->grad, n);
}

static size_t argmax(const pp_real *v, size_t n)
{
    size_t b = 0;
    for (size_t j = 1; j < n; j++)
        if (v[j] > v[b]) b = j;
    return b;
}

pp_status trainer_evaluate(trainer *t, const pp_data *x, size_t n_global, double *loss, double *acc,
                           int64_t *conf)
{
    const pp_arch *a = &t->arch;
    const size_t k = a->n[a->L], chunk = t->ews.rows;
    uint32_t *ids = malloc(chunk * sizeof *ids);
    double *cnt =
        pp_fault("evaluate-alloc", t->rank) ? NULL : calloc(2 + (conf ? k * k : 0), sizeof *cnt);
    /* every rank agrees, failed or not, before the sums below */
    pp_status st = pp_comm_agree(
        t->comm,
        !ids || !cnt ? pp_error(PP_ERR_NOMEM, "out of memory for the evaluation's sums") : pp_ok());
    if (st.code) {
        free(ids);
        free(cnt);
        return st;
    }
    for (size_t s = 0; s < x->n; s += chunk) {
        size_t m = x->n - s < chunk ? x->n - s : chunk;
        for (size_t i = 0; i < m; i++) ids[i] = (uint32_t)(s + i);
        pp_data_gather(x, ids, &t->ews, 0, m);
        pp_net_forward(a, t->params, &t->ews, 0, m);
        for (size_t i = 0; i < m; i++) {
            const pp_real *out = t->ews.act[a->L] + i * k, *y = t->ews.y + i * k;
            cnt[0] += pp_cost_row(a, t->ews.zout + i * k, out, y);
            size_t p = argmax(out, k), truth = x->labels ? (size_t)x->labels[s + i] : argmax(y, k);
            cnt[1] += p == truth;
            if (conf) cnt[2 + truth * k + p] += 1;
        }
    }
    free(ids);
    st = pp_comm_sum_double(t->comm, cnt, 2 + (conf ? k * k : 0));
    if (!st.code) {
        *loss = n_global ? cnt[0] / (double)n_global : 0;
        *acc = n_global ? cnt[1] / (double)n_global : 0;
        if (conf)
            for (size_t i = 0; i < k * k; i++) conf[i] = (int64_t)cnt[2 + i];
    }
    free(cnt);
    return st;
}

double trainer_private_bytes(const trainer *t)
{
    /* node mode's shared block, or stream mode's mapped file: page-cache pages, one copy per
     * node, which count as private where only this rank has touched them */
    const void *at = t->train.u8 ? (const void *)t->train.u8 : (const void *)t->train.f32;
    size_t len = t->train_shm ? t->train_shm_bytes : 0;
    if (t->stream) stream_mapping(t, &at, &len);
    return memory_private_bytes(at, len);
}
