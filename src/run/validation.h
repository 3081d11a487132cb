/* Private: the validation set — a seeded hold-out of the training set or the dataset's
 * /validation group — and its evaluation, whose bits depend on neither ranks nor threads. */
#ifndef PARAPROP_VALIDATION_H
#define PARAPROP_VALIDATION_H

#include "trainer.h"

/* With --validation-split: moves the held-out samples of t->train into t->val (both keep the
 * file's order) and sets t->info.n_train to what is left. With a /validation group: reads it
 * whole onto every rank (collective). Refuses --validation-split next to a /validation group,
 * and --early-stop, --monitor and the plateau schedule without validation data. Resolves
 * --monitor auto. */
pp_status validation_setup(trainer *t);

/* Mean cost and accuracy over t->val. The set is cut into fixed chunks of the global index,
 * dealt to the ranks round-robin, and the per-sample costs summed in index order on every rank:
 * the same bits for any ranks × threads, and on every rank. Collective. */
pp_status validation_evaluate(trainer *t, double *loss, double *acc);

#endif
