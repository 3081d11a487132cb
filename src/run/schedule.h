/* Private: learning-rate schedules and early stopping — a pure function of the configuration
 * and the stored training state, so a resumed run and every rank compute the same η. */
#ifndef PARAPROP_SCHEDULE_H
#define PARAPROP_SCHEDULE_H

#include <stdint.h>

#include "paraprop/checkpoint.h"
#include "paraprop/status.h"

enum { SCHED_CONSTANT = 0, SCHED_STEP = 1, SCHED_COSINE = 2, SCHED_PLATEAU = 3 };

typedef struct schedule {
    int kind;
    int64_t every;    /* step: epochs between decays */
    double gamma;     /* step: factor per decay */
    int64_t warmup;   /* cosine: warm-up epochs (linear from η0/W·S to η0) */
    int64_t patience; /* plateau: epochs without improvement before a cut */
    double factor;    /* plateau: factor per cut, in (0, 1) */
    double min;       /* plateau: the floor η never goes below */
} schedule;

/* Parses --lr-schedule text; PP_ERR_USAGE names the form expected. */
pp_status schedule_parse(const char *text, schedule *s);

/* The η of the step with 0-based global index g, in a run of `epochs` epochs of S steps from
 * η0 = eta0. state->lr is the plateau schedule's current η (the others ignore it). */
double schedule_eta(const schedule *s, double eta0, int64_t epochs, int64_t S, int64_t g,
                    const pp_train_state *state);

/* The fresh state of a run: no best yet, η = η0. */
void schedule_state_init(pp_train_state *st, double eta0, int monitor);

/* Whether metric m improves on best for the monitor (strictly: lower loss, higher accuracy). */
int schedule_improves(int monitor, double m, double best);

/* End of epoch `epoch` (1-based) with the monitored value m: updates the plateau count and η
 * and the early-stopping count and best. Sets *improved when m is a new best; *stop to 1 when
 * the patience ran out, 2 when the plateau schedule would cut η below its floor again
 * (Nielsen's end: η reached η0·FACTOR^k ≤ MIN and still no improvement). */
void schedule_epoch_end(const schedule *s, int monitor, int64_t patience, int64_t epoch, double m,
                        pp_train_state *st, int *improved, int *stop);

#endif
