/* Private: stream mode (docs/DATA.md): each rank reads only the rows of its coming shards, two
 * steps ahead on a reader thread that runs only inside trainer_step (so HDF5, which is not
 * thread-safe, is never called by two threads at once). */
#ifndef PARAPROP_RUN_STREAM_H
#define PARAPROP_RUN_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "paraprop/data.h"
#include "paraprop/status.h"

struct trainer;

/* Opens the file for row reads and allocates three shards' rows (this step and two ahead). */
pp_status stream_open(struct trainer *t);
/* The rows of this rank's shard of the step at ids[0…n) (ids inside t->perm): *x holds them
 * and *sid indexes them 0…m. Waits for the reader, reads them now if it had not, agrees the
 * read's status over all ranks (a bad chunk: every rank returns the same PP_ERR_INPUT), then
 * starts the reader on the next two steps of the epoch. Collective. */
pp_status stream_fetch(struct trainer *t, const uint32_t *ids, size_t n, const pp_data **x,
                       const uint32_t **sid);
/* Waits for the reader (every path out of trainer_step, and before freeing). */
void stream_join(struct trainer *t);
/* A new order: rows read ahead for the old one are stale. */
/* t->perm now holds epoch's order: rows read ahead for it stay, the others go. */
void stream_epoch(struct trainer *t, int64_t epoch);
/* Steps whose rows were not read ahead (each epoch's first, before the read-ahead crossed
 * epochs, and a run's first). */
long stream_misses(const struct trainer *t);
void stream_close(struct trainer *t);
/* How stream mode reads rows: "mapped", "direct" or "hdf5" (pp_dataset_rows_direct); NULL
 * when not streaming. */
const char *stream_reads(const struct trainer *t);
/* The data file's mapping (NULL, 0 when none): page cache, left out of private memory. */
void stream_mapping(const struct trainer *t, const void **at, size_t *len);

#endif
