/* Private HDF5 helpers shared by the dataset and checkpoint files. */
#ifndef PARAPROP_H5UTIL_H
#define PARAPROP_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "paraprop/status.h"

/* Opens an existing HDF5 file read-only with serial access; `what` names it in messages
 * ("dataset file", "checkpoint"). PP_ERR_INPUT when missing, not HDF5, or damaged. */
pp_status pp_h5_open_readonly(const char *path, const char *what, hid_t *out);

/* Silences HDF5's own error printing once: paraprop reports errors itself. */
void pp_h5_quiet(void);

/* Closes any HDF5 handle (file, group, dataset, space, type, plist, attribute); ignores < 0. */
void pp_h5_close(hid_t h);

/* Attribute helpers on an object; return PP_ERR_INPUT naming path and attribute on failure. */
pp_status pp_h5_attr_string(hid_t obj, const char *name, char *buf, size_t bufsz, const char *path);
pp_status pp_h5_attr_i64(hid_t obj, const char *name, int64_t *v, const char *path);
pp_status pp_h5_attr_double(hid_t obj, const char *name, double *v, const char *path);
int pp_h5_write_attr_string(hid_t obj, const char *name, const char *value);
int pp_h5_write_attr_i64(hid_t obj, const char *name, int64_t v);
int pp_h5_write_attr_double(hid_t obj, const char *name, double v);

/* Opens dataset `name` and checks its rank; dims[] receives the extents. */
pp_status pp_h5_open_dataset(hid_t file, const char *name, int rank, hsize_t *dims, hid_t *out,
                             const char *path);

/* Checks that dataset d stores integers (want_int) or IEEE floats of a sane size (1/2/4/8-byte
 * integers, 4/8-byte floats): a damaged type size must not reach H5Dread's conversion. */
pp_status pp_h5_check_type(hid_t d, int want_int, const char *name, const char *path);

/* Creates dataset `name` of rank 1 or 2, chunked (at most ~1 Mi elements per chunk, so reading
 * needs little memory) and checksummed with fletcher32, so HDF5 refuses a damaged chunk even in
 * a file without a seal; contiguous when it holds no element (chunks need a non-zero extent).
 * Returns the open dataset or -1. */
hid_t pp_h5_create_checksummed(hid_t loc, const char *name, hid_t ftype, int rank,
                               const hsize_t *dims);

/* Refuses a chunked dataset whose chunks are empty or larger than its maximum extent (which
 * HDF5 itself never creates): HDF5 1.10 then reads past its chunk buffer inside H5Dread
 * (tests/fuzz/crashes/checkpoint-chunk-extent-segv.h5). */
pp_status pp_h5_check_chunks(hid_t d, const char *name, const char *path);

/* Whether dataset d is stored with the fletcher32 checksum filter. */
int pp_h5_has_fletcher32(hid_t d);

/* The dataset file's format attributes (docs/FORMATS.md), for its two writers and its reader. */
#define PP_DATASET_FORMAT "paraprop-dataset"
#define PP_DATASET_FORMAT_VERSION 1

/* Whether a link exists (without HDF5 complaining about missing intermediate groups). */
int pp_h5_exists(hid_t file, const char *name);

/* Creates an HDF5 file in memory (core driver, no backing store). Files are built in memory and
 * written with plain POSIX calls by pp_h5_save_image, because a write that fails inside HDF5
 * (disk full, quota) leaves the library with a half-closed file that crashes it at exit. */
hid_t pp_h5_create_in_memory(const char *name);

/* Closes an in-memory file and writes its bytes to path (created/truncated), fsync'd.
 * Returns 0, or -1 with errno set (the file at path may then be partial: remove it). */
int pp_h5_save_image(hid_t file, const char *path);

/* fsync of a file or directory path; 0 on success. */
int pp_fsync_path(const char *path, int is_dir);

#endif
