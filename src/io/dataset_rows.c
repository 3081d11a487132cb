/* Rows of a dataset file read by index, serially, on one rank: stream mode's reads. */
#include "paraprop/dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "h5util.h"

typedef struct row_ref {
    uint32_t id, at; /* a sample and its row in the shard */
} row_ref;

struct pp_dataset_rows {
    char path[1024];
    row_ref *ord; /* the shard's rows in file order */
    char *tmp;    /* their bytes, in that order */
    size_t cap;
    hid_t f, in, out, fs_in, fs_out, ms_in, ms_out;
    pp_dataset_info info;
};

void pp_dataset_rows_close(pp_dataset_rows *r)
{
    if (!r) return;
    pp_h5_close(r->ms_in);
    pp_h5_close(r->ms_out);
    pp_h5_close(r->fs_in);
    pp_h5_close(r->fs_out);
    pp_h5_close(r->in);
    pp_h5_close(r->out);
    pp_h5_close(r->f);
    free(r->ord);
    free(r->tmp);
    free(r);
}

pp_status pp_dataset_rows_open(const char *path, pp_dataset_rows **out)
{
    *out = NULL;
    pp_dataset_rows *r = calloc(1, sizeof *r);
    if (!r) return pp_error(PP_ERR_NOMEM, "out of memory");
    r->f = r->in = r->out = r->fs_in = r->fs_out = r->ms_in = r->ms_out = -1;
    snprintf(r->path, sizeof r->path, "%s", path);
    pp_status st = pp_dataset_probe(path, &r->info);
    if (!st.code) st = pp_h5_open_readonly(path, "dataset file", &r->f);
    if (st.code) {
        pp_dataset_rows_close(r);
        return st;
    }
    /* a chunk cache of 16 MiB per array: rows that share a chunk read it once */
    hid_t a = H5Pcreate(H5P_DATASET_ACCESS);
    if (a >= 0) H5Pset_chunk_cache(a, 10007, (size_t)16 << 20, 0.75);
    r->in = H5Dopen2(r->f, "/train/inputs", a);
    r->out = H5Dopen2(r->f, r->info.labelled ? "/train/labels" : "/train/targets", a);
    pp_h5_close(a);
    hsize_t one_in[2] = {1, r->info.d}, one_out[2] = {1, r->info.labelled ? 1 : r->info.k};
    r->fs_in = r->in >= 0 ? H5Dget_space(r->in) : -1;
    r->fs_out = r->out >= 0 ? H5Dget_space(r->out) : -1;
    r->ms_in = H5Screate_simple(2, one_in, NULL);
    r->ms_out = H5Screate_simple(r->info.labelled ? 1 : 2, one_out, NULL);
    if (r->in < 0 || r->out < 0 || r->fs_in < 0 || r->fs_out < 0 || r->ms_in < 0 || r->ms_out < 0) {
        pp_dataset_rows_close(r);
        return pp_error(PP_ERR_INPUT, "%s: cannot open /train for reading rows", path);
    }
    *out = r;
    return pp_ok();
}

static int read_one(hid_t d, hid_t fs, hid_t ms, int rank, size_t row, size_t cols, hid_t mt,
                    void *buf)
{
    hsize_t start[2] = {row, 0}, count[2] = {1, cols};
    (void)rank;
    return H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
                   H5Dread(d, mt, ms, fs, H5P_DEFAULT, buf) >= 0
               ? 0
               : -1;
}

/* Row by row: slow (two H5Dread calls a row), but names the row that fails. */
static pp_status read_each(pp_dataset_rows *r, const uint32_t *ids, size_t m, pp_data *dst)
{
    const pp_dataset_info *in = &r->info;
    for (size_t i = 0; i < m; i++) {
        const size_t s = ids[i];
        if (s >= in->n_train)
            return pp_error(PP_ERR_RUNTIME, "%s: row %zu is past the %zu rows of /train", r->path,
                            s, in->n_train);
        void *bi = in->bytes ? (void *)(dst->u8 + i * in->d) : (void *)(dst->f32 + i * in->d);
        void *bo = in->labelled ? (void *)(dst->labels + i) : (void *)(dst->targets + i * in->k);
        int rc = read_one(r->in, r->fs_in, r->ms_in, 2, s, in->d,
                          in->bytes ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, bi);
        if (!rc)
            rc = read_one(r->out, r->fs_out, r->ms_out, in->labelled ? 1 : 2, s,
                          in->labelled ? 1 : in->k,
                          in->labelled ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT, bo);
        if (rc)
            return pp_error(PP_ERR_INPUT,
                            "%s: reading row %zu of /train failed (truncated or damaged file?)",
                            r->path, s);
        /* the checks a slice read makes, row by row: a bad label would index out of bounds */
        if (in->labelled && (dst->labels[i] < 0 || (size_t)dst->labels[i] >= in->k))
            return pp_error(PP_ERR_INPUT,
                            "%s: /train: label %ld of sample %zu is out of range [0, %zu)", r->path,
                            (long)dst->labels[i], s, in->k);
        if (!in->bytes)
            for (size_t j = 0; j < in->d; j++)
                if (!isfinite(dst->f32[i * in->d + j]))
                    return pp_error(PP_ERR_INPUT,
                                    "%s: /train: input %zu of sample %zu is not finite", r->path, j,
                                    s);
        if (!in->labelled)
            for (size_t j = 0; j < in->k; j++)
                if (!isfinite(dst->targets[i * in->k + j]))
                    return pp_error(PP_ERR_INPUT,
                                    "%s: /train: target %zu of sample %zu is not finite", r->path,
                                    j, s);
    }
    return pp_ok();
}

static int by_id(const void *a, const void *b)
{
    uint32_t x = ((const row_ref *)a)->id, y = ((const row_ref *)b)->id;
    return (x > y) - (x < y);
}

/* The rows ord[0…m) of d (cols values each, size bytes) in one H5Dread: a selection of single
 * rows in file order, which HDF5 reads chunk by chunk. */
static int read_sorted(hid_t d, hid_t fs, int rank, const row_ref *ord, size_t m, size_t cols,
                       hid_t mt, void *buf)
{
    int rc = H5Sselect_none(fs) >= 0 ? 0 : -1;
    for (size_t i = 0; !rc && i < m; i++) {
        hsize_t start[2] = {ord[i].id, 0}, count[2] = {1, cols};
        if (H5Sselect_hyperslab(fs, H5S_SELECT_OR, start, NULL, count, NULL) < 0) rc = -1;
    }
    hsize_t mdims[2] = {m, cols};
    hid_t ms = rc ? -1 : H5Screate_simple(rank, mdims, NULL);
    if (ms < 0 || H5Dread(d, mt, ms, fs, H5P_DEFAULT, buf) < 0) rc = -1;
    pp_h5_close(ms);
    return rc;
}

pp_status pp_dataset_rows_read(pp_dataset_rows *r, const uint32_t *ids, size_t m, pp_data *dst)
{
    const pp_dataset_info *in = &r->info;
    if (!m) return pp_ok();
    const size_t esz = in->bytes ? 1 : sizeof(float), ib = in->d * esz;
    const size_t ob = in->labelled ? sizeof(int32_t) : in->k * sizeof(float);
    const size_t rb = ib > ob ? ib : ob;
    if (m > r->cap) {
        row_ref *o = realloc(r->ord, m * sizeof *o);
        if (o) r->ord = o;
        char *t = o ? realloc(r->tmp, m * rb) : NULL;
        if (t) r->tmp = t;
        if (!o || !t) return pp_error(PP_ERR_NOMEM, "out of memory for %zu rows", m);
        r->cap = m;
    }
    for (size_t i = 0; i < m; i++) {
        if (ids[i] >= in->n_train) return read_each(r, ids, m, dst); /* names the row */
        r->ord[i].id = ids[i];
        r->ord[i].at = (uint32_t)i;
    }
    qsort(r->ord, m, sizeof *r->ord, by_id);
    char *in_rows = in->bytes ? (char *)dst->u8 : (char *)dst->f32;
    char *out_rows = in->labelled ? (char *)dst->labels : (char *)dst->targets;
    int rc = read_sorted(r->in, r->fs_in, 2, r->ord, m, in->d,
                         in->bytes ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, r->tmp);
    for (size_t j = 0; !rc && j < m; j++)
        memcpy(in_rows + (size_t)r->ord[j].at * ib, r->tmp + j * ib, ib);
    if (!rc)
        rc = read_sorted(r->out, r->fs_out, in->labelled ? 1 : 2, r->ord, m,
                         in->labelled ? 1 : in->k,
                         in->labelled ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT, r->tmp);
    for (size_t j = 0; !rc && j < m; j++)
        memcpy(out_rows + (size_t)r->ord[j].at * ob, r->tmp + j * ob, ob);
    /* a failure, or the checks: row by row, which names the sample */
    if (rc) return read_each(r, ids, m, dst);
    for (size_t i = 0; i < m; i++) {
        int bad = in->labelled && (dst->labels[i] < 0 || (size_t)dst->labels[i] >= in->k);
        for (size_t j = 0; !bad && !in->bytes && j < in->d; j++)
            bad = !isfinite(dst->f32[i * in->d + j]);
        for (size_t j = 0; !bad && !in->labelled && j < in->k; j++)
            bad = !isfinite(dst->targets[i * in->k + j]);
        if (bad) return read_each(r, ids, m, dst);
    }
    return pp_ok();
}
