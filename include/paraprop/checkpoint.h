/* Checkpoint files (HDF5, docs/CHECKPOINTS.md): model, optimizer state, position in training,
 * metrics history and configuration, written atomically and validated on reading. */
#ifndef PARAPROP_CHECKPOINT_H
#define PARAPROP_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "paraprop/net.h"
#include "paraprop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PP_CHECKPOINT_FORMAT "paraprop-checkpoint"
#define PP_CHECKPOINT_VERSION 1

/* One epoch's line of the metrics history. */
typedef struct pp_metrics_row {
    int64_t epoch; /* 1-based */
    double train_loss, test_loss, test_accuracy, seconds, samples_per_s;
    double val_loss, val_accuracy; /* < 0 when there is no validation set */
    double lr;                     /* η of the epoch's first step */
} pp_metrics_row;

/* Schedule and early-stopping state (the /training_state attributes of docs/CHECKPOINTS.md):
 * what the next epoch's η and stopping decisions depend on, so a resume decides the same. */
typedef struct pp_train_state {
    double lr;              /* plateau schedule: η of the next step */
    double best_metric;     /* best monitored value so far (±Inf before the first epoch) */
    int64_t best_epoch;     /* its epoch, 1-based; 0: none yet */
    int64_t patience_count; /* epochs since best_epoch (early stopping) */
    int64_t plateau_count;  /* epochs since the best or the last cut of η (plateau schedule) */
    int64_t stopped;        /* 0 training; 1 early stop; 2 plateau floor reached: run is over */
} pp_train_state;

typedef struct pp_checkpoint {
    pp_arch arch;
    pp_real *params;     /* (nparams) */
    pp_real *velocity;   /* (nparams) or NULL (no momentum): sgd with μ > 0, nesterov */
    pp_real *adam_m;     /* (nparams) Adam's first moment, or NULL (not adam/adamw) */
    pp_real *adam_v;     /* (nparams) Adam's second moment, or NULL */
    char optimizer[16];  /* sgd | nesterov | adam | adamw; "sgd" for files from before it was
                            stored (they were all SGD) */
    int64_t optimizer_t; /* steps the optimizer has taken (Adam's bias correction) */
    uint64_t seed;
    int64_t epoch;          /* completed epochs */
    int64_t step;           /* completed steps within the epoch in progress */
    int64_t global_step;    /* completed steps since the run began: epoch × steps/epoch + step;
                               names, the Nsteps cadence and "newest" all go by it */
    int64_t samples_seen;   /* over the whole run */
    int64_t batch_size;     /* global minibatch */
    int64_t ranks, threads; /* informational */
    char reduction[16];     /* fast | exact */
    double loss_sum;        /* cost sum of the epoch in progress (so its metrics survive resume) */
    int64_t loss_count;
    double elapsed;                                  /* seconds of training so far */
    int64_t data_samples, data_inputs, data_outputs; /* the training set it was trained on */
    char data_path[1024];
    char fingerprint[65]; /* SHA-256 of the parameter bytes */
    char created_utc[32];
    char paraprop_version[64];
    char precision[16];
    char *config; /* resolved configuration, key = value lines (owned) */
    pp_metrics_row *metrics;
    size_t nmetrics;
    pp_train_state state; /* filled with η = 0 and no best when the file has none (older ones) */
    int has_state;
    int complete;
    size_t unchecksummed; /* datasets read without a fletcher32 checksum (e.g. after h5repack) */
    int sealed;           /* the whole file was verified against its seal (paraprop/seal.h) */
} pp_checkpoint;

/* Reads and validates a checkpoint (seal, format, version, `complete`, shapes, checksums);
 * allocates params, velocity, the Adam moments, config and metrics. A file without a seal (paraprop
 * seals every checkpoint it writes) is refused unless allow_unsealed is set (--allow-unsealed on).
 * PP_ERR_INPUT names the file and the problem. */
pp_status pp_checkpoint_read(const char *path, int allow_unsealed, pp_checkpoint *ck);

/* Writes PATH.tmp, closes and fsyncs it, renames it to PATH and fsyncs the directory. On failure
 * the temporary file is removed and any existing PATH is untouched (PP_ERR_WRITE). Fills
 * created_utc and paraprop_version. */
pp_status pp_checkpoint_write(const char *path, pp_checkpoint *ck);

void pp_checkpoint_free(pp_checkpoint *ck);

/* The SHA-256 fingerprint of a parameter buffer, as stored and printed. */
void pp_params_fingerprint(const pp_real *params, size_t n, char hex[65]);

#ifdef __cplusplus
}
#endif
#endif
