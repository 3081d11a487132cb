/* Dataset files: the HDF5 format of docs/FORMATS.md, and converters from IDX and CSV. */
#ifndef PARAPROP_DATASET_H
#define PARAPROP_DATASET_H

#include <stddef.h>

#include "paraprop/data.h"
#include "paraprop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a dataset file holds, from its metadata (no sample is read). */
typedef struct pp_dataset_info {
    size_t n_train, n_test, d, k; /* k: classes (labels) or target width */
    int has_test;
    int bytes;    /* inputs stored as uint8 with `scale` */
    int labelled; /* /train/labels (else /train/targets) */
    double scale;
    char source[256];
} pp_dataset_info;

/* Opens and validates the metadata of a dataset file (format attributes, groups, ranks, shapes,
 * types). Serial; any rank may call it. */
pp_status pp_dataset_probe(const char *path, pp_dataset_info *info);

/* A collective read's ranks: the communicator for parallel HDF5 and the agreement that keeps
 * them in step (io may not include dist, so the run layer hands in pp_comm_native() and a call
 * of pp_comm_agree on ctx). */
typedef struct pp_dataset_coll {
    const void *mpi_comm;                           /* pp_comm_native() */
    pp_status (*agree)(void *ctx, pp_status local); /* pp_comm_agree(ctx, local) */
    void *ctx;
    int rank; /* this rank (names fault-injection sites in test builds) */
} pp_dataset_coll;

/* Reads samples [lo, hi) of group "train" or "test" into out (out->n = hi − lo). coll makes it
 * a collective parallel read — then every rank of it must call, each with its own slice,
 * possibly empty — or is NULL for a serial read. A failure on any rank (the probe, the
 * allocation, a read) is agreed before the next collective HDF5 call, so every rank returns it
 * (agreed). Labels are range-checked and float values checked finite; that verdict is this
 * rank's own. */
pp_status pp_dataset_read(const char *path, const char *group, const pp_dataset_coll *coll,
                          size_t lo, size_t hi, pp_data *out);

/* As pp_dataset_read, but into the caller's buffers: dst->n must be hi − lo and its kinds and
 * widths those of the file (pp_dataset_probe), else PP_ERR_RUNTIME; dst->scale is set from the
 * file. For memory paraprop does not own: a node-shared block whose ranks each
 * read their own rows straight into it. On failure the buffers hold unspecified bytes. */
pp_status pp_dataset_read_into(const char *path, const char *group, const pp_dataset_coll *coll,
                               size_t lo, size_t hi, pp_data *dst);

/* Writes a dataset file atomically: PATH.tmp (fsynced), rename, fsync of the directory. test
 * may be NULL. */
pp_status pp_dataset_write(const char *path, const pp_data *train, const pp_data *test,
                           const char *source);

/* Reads an IDX image file (idx3, ubyte) and its label file (idx1, ubyte), gzip'd or not, into
 * bytes with scale 1/255 and labels; k is set to max label + 1 (at least 2). */
pp_status pp_idx_read(const char *images, const char *labels, pp_data *out);

/* Reads a CSV of numbers with an integer class label in column label_col (0-based; negative
 * counts from the end); header: skip the first line. k = max label + 1 unless classes > 0. */
pp_status pp_csv_read(const char *path, int label_col, int header, size_t classes, pp_data *out);

/* Reads a CSV of numbers whose columns listed in `target_columns` (comma-separated 0-based
 * indices, negative ones counting from the end: "3", "-2,-1") are float32 targets and whose
 * other columns are float32 inputs; out->k = number of target columns. NULL or "" means no
 * target columns: every column is an input, k = 0 (for `paraprop predict --csv`). header: skip
 * the first line. PP_ERR_USAGE for a bad column list, PP_ERR_INPUT for a bad file. */
pp_status pp_csv_read_targets(const char *path, const char *target_columns, int header,
                              pp_data *out);

#ifdef __cplusplus
}
#endif
#endif
