/* Running things: training, benchmarking, evaluation and gradient checks over a communicator. */
#ifndef PARAPROP_TRAIN_H
#define PARAPROP_TRAIN_H

#include <stdio.h>

#include "paraprop/checkpoint.h"
#include "paraprop/comm.h"
#include "paraprop/config.h"
#include "paraprop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Exit status of a run stopped early by SIGUSR1/SIGTERM/SIGINT after writing a checkpoint:
 * "requeue me" (EX_TEMPFAIL). */
#define PP_EXIT_PREEMPTED 75

typedef struct pp_train_result {
    int stopped_early;      /* a signal stopped it; a checkpoint was written */
    char checkpoint[4200];  /* the last checkpoint written, if any */
    char final_model[4200]; /* RUN_DIR/final.h5 when training finished */
    char fingerprint[65];
    double test_loss, test_accuracy; /* < 0 when there is no test set */
    int64_t epochs_done, samples_seen;
    int early_stopped;     /* 1: --early-stop ended it; 2: the plateau schedule's floor */
    char best_model[4200]; /* RUN_DIR/best.h5 when there is validation data */
    int64_t best_epoch;    /* its epoch (1-based), 0 without validation */
    double best_metric;    /* its --monitor value */
} pp_train_result;

/* Trains as configured (resuming from the run directory's newest valid checkpoint, or
 * --resume). Collective: every rank calls it. Rank 0 prints to out (may be NULL). */
pp_status pp_train(pp_comm *comm, pp_config *cfg, FILE *out, pp_train_result *res);

/* Times cfg->steps training steps after cfg->warmup and prints one JSON line (rank 0). */
pp_status pp_bench(pp_comm *comm, pp_config *cfg, FILE *out);

/* Evaluates a model/checkpoint file on a dataset split; rank 0 prints loss, accuracy and the
 * confusion matrix. */
pp_status pp_eval(pp_comm *comm, pp_config *cfg, FILE *out);

/* Finite-difference check of the gradient on random data; prints the worst relative error per
 * layer and returns the overall worst in *worst. */
pp_status pp_gradcheck(const pp_config *cfg, FILE *out, double *worst);

/* Installs the SIGUSR1/SIGTERM/SIGINT handlers (flag only; a second SIGINT kills at once) and
 * ignores SIGXFSZ. Only for a loop that polls pp_signals_pending (pp_train): anywhere else the
 * handlers would swallow the signals. */
void pp_signals_install(void);
/* Ignores SIGXFSZ, so that a write past a file-size limit fails with EFBIG and is reported. */
void pp_signals_ignore_xfsz(void);
/* Whether a stop was requested (also settable by tests). */
int pp_signals_pending(void);
void pp_signals_request_stop(void);

#ifdef __cplusplus
}
#endif
#endif
