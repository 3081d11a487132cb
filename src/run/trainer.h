/* Private: the state shared by train, bench and eval — the training set (a copy on every rank
 * or one per node, docs/DATA.md), parameters, the step (shard → gradient SUM → allreduce → ÷ n
 * → optimizer) and evaluation. */
#ifndef PARAPROP_TRAINER_H
#define PARAPROP_TRAINER_H

#include "paraprop/batch.h"
#include "paraprop/comm.h"
#include "paraprop/config.h"
#include "paraprop/data.h"
#include "paraprop/dataset.h"
#include "paraprop/exact.h"
#include "paraprop/net.h"
#include "paraprop/optim.h"

#include "reduce.h"

typedef struct pp_phase_times {
    double data, compute, allreduce, optimizer, checkpoint;
} pp_phase_times;

typedef struct trainer {
    pp_comm *comm;
    int rank, R, T;
    pp_config *cfg;
    pp_arch arch;
    pp_dataset_info info;
    pp_data train; /* the whole set: this rank's copy or a view of the node's */
    pp_data test;  /* this rank's slice of the test set */
    pp_data val;   /* the whole validation set, on every rank (validation.h) */
    int has_val;
    pp_real *params;  /* (nparams) */
    pp_real *grad;    /* (nparams) */
    pp_workspace ws;  /* rows: the largest local shard */
    pp_workspace ews; /* evaluation chunks */
    pp_exact ex;
    uint32_t *perm;     /* (N) this epoch's order */
    pp_optim opt;       /* opt.eta is read every step: a schedule may set it between steps */
    pp_optim_state ost; /* velocity or Adam moments, and the step count */
    pp_dropout drop;    /* --dropout; drop.step must be the global step of the next step */
    pp_phase_times times;
    reduce_kind red;  /* how gradients meet (reduce.h) */
    int overlap;      /* MPI way, fast mode: each layer's allreduce started during backprop */
    node_reduce nr;   /* the slots, when red == REDUCE_NODE */
    node_factors nf;  /* the shared workspaces, when red == REDUCE_FACTORS or SPLIT */
    uint32_t *rowids; /* factors/split, streamed: the workspace rows' indices into the stream */
    int shared_lost;  /* an unagreed failure left the node's ranks apart: never free collectively */
    int shared_params; /* params and the optimizer's arrays are nf's node-shared copy */

    /* the training set's place (issue 11, docs/DATA.md) */
    int data_mode;          /* PP_DATA_RANK, _NODE or _STREAM: where train lives */
    double data_bytes;      /* the training set's bytes in memory */
    double data_budget;     /* --memory-budget, resolved */
    double private_loaded;  /* this rank's private bytes once the data is loaded (memory.h) */
    pp_shared *train_shm;   /* node mode: the node's block that train views */
    size_t train_shm_bytes; /* its size */
    struct trainer_stream *stream; /* stream mode: the rows of the coming shards (stream.h) */
} trainer;
typedef struct trainer_stream trainer_stream;

/* "rank", "node" or "stream": where the training set lives. */
const char *trainer_data_mode(const trainer *t);

/* Loads data (collective), allocates, initialises parameters from the seed or --init-from. */
pp_status trainer_setup(trainer *t, pp_comm *comm, pp_config *cfg, int need_train);
void trainer_free(trainer *t);
/* This rank's private resident bytes (memory.h), the node's shared copy of the data or the
 * mapped data file left out. */
double trainer_private_bytes(const trainer *t);
/* trainer_free after a run that ended with st: an unagreed failure leaves the node's shared
 * block alone (freeing it is collective over the node, and the other ranks may be waiting in
 * another collective until the job is aborted). */
void trainer_end(trainer *t, pp_status st);

/* The sample order of an epoch into t->perm (identity with --shuffle off). */
void trainer_order(trainer *t, int64_t epoch);
/* The same order into perm (stream mode reads the next epoch's first rows ahead). */
void trainer_order_into(const trainer *t, int64_t epoch, uint32_t *perm);

/* One optimizer step on the global minibatch ids[0…n). On return *stop says whether any rank
 * asked to stop and *cost the global cost sum of the batch. PP_ERR_DIVERGED on non-finite
 * gradients (parameters untouched). */
pp_status trainer_step(trainer *t, const uint32_t *ids, size_t n, int local_stop, int *stop,
                       double *cost);

/* PP_ERR_DIVERGED naming the first layer whose parameters are not all finite: an update can
 * overflow them from a finite gradient, which trainer_step's check does not see. Local (every
 * rank holds the same parameters). */
/* Writing the parameters or the optimizer state outside a step (initial values, --init-from, a
 * resume): with node-shared parameters one rank of the node writes (trainer_params_writer) and
 * every rank then calls trainer_params_written, a node barrier; otherwise every rank writes its
 * own copy and the barrier is a no-op. */
int trainer_params_writer(const trainer *t);
pp_status trainer_params_written(trainer *t);
pp_status trainer_check_params(const trainer *t);

/* Mean cost and accuracy over a distributed dataset (each rank its slice x). conf: k×k counts
 * (row: true class, column: predicted) or NULL. */
pp_status trainer_evaluate(trainer *t, const pp_data *x, size_t n_global, double *loss, double *acc,
                           int64_t *conf);

/* The threads per rank from --threads, OMP_NUM_THREADS or cores / ranks on the node. */
pp_status trainer_threads(pp_comm *comm, const pp_config *cfg, int *threads);

#endif
