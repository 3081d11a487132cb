/* Dataset files written row block by row block (paraprop convert of inputs larger than memory):
 * HDF5 on disk through the sec2 driver, fixed-size chunked datasets of whole rows. */
#define _GNU_SOURCE /* fallocate */
#include "paraprop/dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "paraprop/seal.h"

#include "h5util.h"

/* 32 KiB of rows per chunk: a random row read (stream mode) costs one chunk, read and
 * fletcher32-checked, so chunks are small; slice reads (rank and node mode) hardly notice, and
 * a 4 GiB set has ~130,000 of them. Measured in docs/DATA.md (256 KiB streamed 1.25–2.6× slower).
 */
#define CHUNK_BYTES ((size_t)32 << 10)
/* labels (4 bytes) or narrow target rows: as many rows per chunk as 8 Ki labels (32 KiB) */
#define LABEL_CHUNK_ROWS ((size_t)8192)

struct pp_dataset_writer {
    char path[4096], tmp[4200];
    hid_t f, g, in, out; /* file, current group, its inputs and labels/targets */
    size_t n, d, k;
    int bytes, labelled;
    double reserved; /* disk bytes reserved for the groups so far */
};

size_t pp_dataset_chunk_rows(size_t row_bytes)
{
    size_t r = CHUNK_BYTES / (row_bytes ? row_bytes : 1);
    return r ? r : 1;
}

/* Disk space for the whole file before HDF5 writes any of it: blocks reserved past the end of
 * the file (the size stays, so HDF5 sees an empty file), else at least a check that they are
 * free. */
static pp_status reserve_space(const char *tmp, size_t bytes)
{
    int fd = open(tmp, O_WRONLY);
    if (fd < 0) return pp_error(PP_ERR_WRITE, "%s: cannot open (%s)", tmp, strerror(errno));
    int rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)bytes);
    int e = errno;
    close(fd);
    if (rc == 0) return pp_ok();
    if (e == ENOSPC)
        return pp_error(PP_ERR_WRITE, "%s: no room on the disk for its %.2f GiB", tmp,
                        (double)bytes / 1073741824.0);
    struct statvfs vs; /* a file system without fallocate: check at least */
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", tmp);
    if (statvfs(dirname(dir), &vs) == 0 &&
        (double)vs.f_bavail * (double)vs.f_frsize < (double)bytes)
        return pp_error(PP_ERR_WRITE, "%s: no room on the disk for its %.2f GiB", tmp,
                        (double)bytes / 1073741824.0);
    return pp_ok();
}

pp_status pp_dataset_writer_open(const char *path, pp_dataset_writer **out)
{
    *out = NULL;
    pp_h5_quiet();
    pp_dataset_writer *w = calloc(1, sizeof *w);
    if (!w) return pp_error(PP_ERR_NOMEM, "out of memory");
    w->g = w->in = w->out = -1;
    if (snprintf(w->path, sizeof w->path, "%s", path) >= (int)sizeof w->path) {
        free(w);
        return pp_error(PP_ERR_USAGE, "output path is too long");
    }
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
    /* room for the seal (paraprop/seal.h) in front of the HDF5 superblock */
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    w->f = fcpl >= 0 && H5Pset_userblock(fcpl, PP_SEAL_BLOCK) >= 0
               ? H5Fcreate(w->tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT)
               : -1;
    pp_h5_close(fcpl);
    if (w->f < 0) {
        free(w);
        return pp_error(PP_ERR_WRITE, "%s: cannot create the file", path);
    }
    *out = w;
    return pp_ok();
}

static void close_group(pp_dataset_writer *w)
{
    pp_h5_close(w->in);
    pp_h5_close(w->out);
    pp_h5_close(w->g);
    w->in = w->out = w->g = -1;
}

/* A fixed-size dataset of n rows of `cols` values, chunked by whole rows, fletcher32 on every
 * chunk (as pp_h5_create_checksummed), a chunk cache that holds a chunk split between two
 * blocks until both halves are written. */
static hid_t create_rows(hid_t g, const char *name, hid_t ftype, int rank, size_t n, size_t cols,
                         size_t chunk_rows)
{
    hsize_t dims[2] = {n, cols}, chunk[2] = {chunk_rows < n ? chunk_rows : n, cols};
    hid_t s = H5Screate_simple(rank, dims, NULL), p = H5Pcreate(H5P_DATASET_CREATE),
          a = H5Pcreate(H5P_DATASET_ACCESS);
    int rc = s >= 0 && p >= 0 && a >= 0 ? 0 : -1;
    if (!rc && n > 0 && (H5Pset_chunk(p, rank, chunk) < 0 || H5Pset_fletcher32(p) < 0)) rc = -1;
    if (!rc && H5Pset_chunk_cache(a, 521, 4 * CHUNK_BYTES, 1.0) < 0) rc = -1;
    hid_t d = rc ? -1 : H5Dcreate2(g, name, ftype, s, H5P_DEFAULT, p, a);
    pp_h5_close(a);
    pp_h5_close(p);
    pp_h5_close(s);
    return d;
}

pp_status pp_dataset_writer_group(pp_dataset_writer *w, const char *g, size_t n,
                                  const pp_data *like)
{
    close_group(w);
    w->n = n;
    w->d = like->d;
    w->k = like->k;
    w->bytes = like->u8 != NULL;
    w->labelled = like->labels != NULL;
    const size_t esz = w->bytes ? 1 : sizeof(float);
    /* the group's bytes, its chunks' checksums and index, and room for the metadata */
    const double rb = (double)(w->d * esz + (w->labelled ? 4 : 4 * w->k));
    w->reserved += (double)n * rb * 1.01 + (double)(1 << 20);
    PP_TRY(reserve_space(w->tmp, (size_t)w->reserved));
    w->g = H5Gcreate2(w->f, g, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (w->g >= 0)
        w->in = create_rows(w->g, "inputs", w->bytes ? H5T_STD_U8LE : H5T_IEEE_F32LE, 2, n, w->d,
                            pp_dataset_chunk_rows(w->d * esz));
    int rc = w->in < 0;
    if (!rc && w->bytes && pp_h5_write_attr_double(w->in, "scale", like->scale) < 0) rc = -1;
    if (!rc && w->labelled)
        w->out = create_rows(w->g, "labels", H5T_STD_I32LE, 1, n, 1, LABEL_CHUNK_ROWS);
    else if (!rc) {
        size_t r = pp_dataset_chunk_rows(w->k * sizeof(float));
        w->out = create_rows(w->g, "targets", H5T_IEEE_F32LE, 2, n, w->k,
                             r > LABEL_CHUNK_ROWS ? LABEL_CHUNK_ROWS : r);
    }
    if (rc || w->out < 0) return pp_error(PP_ERR_WRITE, "%s: creating '/%s' failed", w->tmp, g);
    return pp_ok();
}

static int write_rows(hid_t d, int rank, size_t first, size_t n, size_t cols, hid_t mt,
                      const void *buf)
{
    hsize_t start[2] = {first, 0}, count[2] = {n, cols};
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(rank, count, NULL);
    int rc = fs >= 0 && ms >= 0 &&
                     H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
                     H5Dwrite(d, mt, ms, fs, H5P_DEFAULT, buf) >= 0
                 ? 0
                 : -1;
    pp_h5_close(ms);
    pp_h5_close(fs);
    return rc;
}

pp_status pp_dataset_writer_rows(pp_dataset_writer *w, size_t first, const pp_data *rows)
{
    if (w->in < 0 || first > w->n || rows->n > w->n - first || rows->d != w->d ||
        !rows->u8 != !w->bytes || !rows->labels != !w->labelled)
        return pp_error(PP_ERR_RUNTIME, "%s: rows %zu…%zu do not fit the dataset (%zu rows)",
                        w->tmp, first, first + rows->n, w->n);
    if (!rows->n) return pp_ok();
    int rc =
        write_rows(w->in, 2, first, rows->n, w->d, w->bytes ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT,
                   w->bytes ? (const void *)rows->u8 : (const void *)rows->f32);
    if (!rc && w->labelled)
        rc = write_rows(w->out, 1, first, rows->n, 1, H5T_NATIVE_INT32, rows->labels);
    else if (!rc)
        rc = write_rows(w->out, 2, first, rows->n, w->k, H5T_NATIVE_FLOAT, rows->targets);
    return rc ? pp_error(PP_ERR_WRITE, "%s: writing rows %zu…%zu failed", w->tmp, first,
                         first + rows->n)
              : pp_ok();
}

void pp_dataset_writer_discard(pp_dataset_writer *w)
{
    if (!w) return;
    close_group(w);
    pp_h5_close(w->f);
    remove(w->tmp);
    free(w);
}

pp_status pp_dataset_writer_finish(pp_dataset_writer *w, int64_t classes, const char *source)
{
    close_group(w);
    int rc = 0;
    rc |= pp_h5_write_attr_string(w->f, "format", PP_DATASET_FORMAT);
    rc |= pp_h5_write_attr_i64(w->f, "format_version", PP_DATASET_FORMAT_VERSION);
    rc |= pp_h5_write_attr_i64(w->f, "classes", classes);
    rc |= pp_h5_write_attr_string(w->f, "source", source ? source : "unknown");
    if (H5Fclose(w->f) < 0) rc = -1;
    w->f = -1;
    pp_status st = rc ? pp_error(PP_ERR_WRITE, "%s: writing failed", w->tmp) : pp_ok();
    /* the seal, over the bytes now on disk; fsynced on a descriptor opened for writing */
    if (!st.code) st = pp_seal_file(w->tmp);
    if (!st.code) {
        /* and the blocks reserved past the end that HDF5 did not need, given back */
        int fd = open(w->tmp, O_WRONLY);
        off_t end = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
        if (fd < 0 || end < 0 || ftruncate(fd, end) != 0 || fsync(fd) != 0)
            st = pp_error(PP_ERR_WRITE, "%s: fsync failed (%s)", w->tmp, strerror(errno));
        if (fd >= 0) close(fd);
    }
    if (!st.code && rename(w->tmp, w->path) != 0)
        st = pp_error(PP_ERR_WRITE, "%s: cannot rename into place", w->path);
    if (st.code) {
        pp_dataset_writer_discard(w);
        return st;
    }
    /* the rename is durable only once the directory is */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", w->path);
    if (pp_fsync_path(dirname(dir), 1) != 0)
        st = pp_error(PP_ERR_WRITE, "%s: fsync of the directory failed (%s)", w->path,
                      strerror(errno));
    free(w);
    return st;
}
