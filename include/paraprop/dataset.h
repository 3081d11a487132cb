/* Dataset files: the HDF5 format of docs/FORMATS.md, and converters from IDX and CSV. */
#ifndef PARAPROP_DATASET_H
#define PARAPROP_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "paraprop/data.h"
#include "paraprop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a dataset file holds, from its metadata (no sample is read). */
typedef struct pp_dataset_info {
    size_t n_train, n_test, d, k; /* k: classes (labels) or target width */
    int has_test;
    size_t n_val; /* samples in the optional /validation group */
    int has_val;
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

/* Reads samples [lo, hi) of group "train", "test" or "validation" into out (out->n = hi − lo). coll
 * makes it a collective parallel read — then every rank of it must call, each with its own slice,
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

/* pp_dataset_write with a /validation group too (val may be NULL). */
pp_status pp_dataset_write_splits(const char *path, const pp_data *train, const pp_data *test,
                                  const pp_data *val, const char *source);

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

/* Rows of /train read by index on one rank, without MPI-IO (stream mode): open probes the file
 * and opens its arrays; read fills rows 0…m of dst (allocated for m rows of the file's kinds)
 * with samples ids[0…m), checking labels in range and floats finite. Not thread-safe (HDF5 is
 * not): one thread at a time. */
typedef struct pp_dataset_rows pp_dataset_rows;
pp_status pp_dataset_rows_open(const char *path, pp_dataset_rows **out);
pp_status pp_dataset_rows_read(pp_dataset_rows *r, const uint32_t *ids, size_t m, pp_data *dst);
void pp_dataset_rows_close(pp_dataset_rows *r);
/* Rows read straight from the file (chunks of whole rows, no filter but fletcher32: each chunk
 * verified on its first read, later rows of it read alone): 2 from the file mapped into
 * memory, 1 by pread; 0 through HDF5. */
int pp_dataset_rows_direct(const pp_dataset_rows *r);
/* The file's mapping (*at NULL and *len 0 when not mapped): its pages are the kernel's page
 * cache, held once per node whichever ranks map them, so memory reports leave it out. */
void pp_dataset_rows_mapping(const pp_dataset_rows *r, const void **at, size_t *len);

/* ---- converting in row blocks, with bounded memory (issue 11) ---- */

/* Where block-wise readers hand their rows: rows(ctx, block, first) receives rows
 * [first, first + block->n) of the file, in order, in a buffer reused for the next block (labels:
 * block->k is 0, the class count being known only at the end). Blocks hold about block_bytes of
 * inputs. A failure it returns stops the reading and is returned. */
typedef struct pp_csv_sink {
    pp_status (*rows)(void *ctx, const pp_data *block, size_t first);
    void *ctx;
    size_t block_bytes;
} pp_csv_sink;

/* pp_csv_read (target_columns NULL) or pp_csv_read_targets, the same checks and messages, but
 * the rows go to sink block by block; *shape gets n, d, k and no arrays. */
pp_status pp_csv_scan(const char *path, int label_col, const char *target_columns, int header,
                      size_t classes, const pp_csv_sink *sink, pp_data *shape);

/* The data rows pp_csv_scan will find (a fast pass over the bytes: lines with more than a line
 * end, less the header), to size the output before the rows come. */
pp_status pp_csv_count_rows(const char *path, int header, size_t *rows);

/* pp_idx_read's checks, the rows going to sink block by block; *shape gets n, d, k (max label
 * + 1, at least 2), scale and no arrays. */
pp_status pp_idx_scan(const char *images, const char *labels, const pp_csv_sink *sink,
                      pp_data *shape);
/* The sample count and inputs per sample from the IDX headers. */
pp_status pp_idx_shape(const char *images, const char *labels, size_t *n, size_t *d);

/* A dataset file written row block by row block: PATH.tmp on disk, chunked datasets of whole
 * rows (docs/DATA.md), sealed, fsynced and renamed into place by finish. */
typedef struct pp_dataset_writer pp_dataset_writer;
pp_status pp_dataset_writer_open(const char *path, pp_dataset_writer **out);
/* Starts group g ("train", then optionally "test") of n rows shaped like `like` (d, k, uint8 or
 * float inputs, labels or targets, scale); closes the previous group. Reserves the group's disk
 * space first (fallocate, else a free-space check): a write that fails inside HDF5 (disk full)
 * leaves it unable to close the file, so a full disk is found before HDF5 writes. */
pp_status pp_dataset_writer_group(pp_dataset_writer *w, const char *g, size_t n,
                                  const pp_data *like);
/* Writes rows [first, first + rows->n) of the current group. */
pp_status pp_dataset_writer_rows(pp_dataset_writer *w, size_t first, const pp_data *rows);
/* Writes the file attributes (classes: 0 for targets), closes, seals, fsyncs, renames; frees w
 * whatever happens (on failure PATH.tmp is removed). */
pp_status pp_dataset_writer_finish(pp_dataset_writer *w, int64_t classes, const char *source);
/* Abandons the file: closes and removes PATH.tmp, frees w. Safe on NULL. */
void pp_dataset_writer_discard(pp_dataset_writer *w);
/* Rows per chunk of a dataset of rows of row_bytes bytes (at least 1). */
size_t pp_dataset_chunk_rows(size_t row_bytes);

#ifdef __cplusplus
}
#endif
#endif
