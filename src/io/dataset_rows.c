/* Rows of a dataset file read by index, serially, on one rank: stream mode's reads. */
#include "paraprop/dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "h5util.h"

struct pp_dataset_rows {
    char path[1024];
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

pp_status pp_dataset_rows_read(pp_dataset_rows *r, const uint32_t *ids, size_t m, pp_data *dst)
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
