/* The HDF5 dataset file: probe, collective slice reads, atomic writes. */
#include "paraprop/dataset.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"
#include "h5util.h"

#define FORMAT PP_DATASET_FORMAT
#define FORMAT_VERSION PP_DATASET_FORMAT_VERSION

static pp_status probe_group(hid_t f, const char *path, const char *g, pp_dataset_info *info,
                             size_t *n)
{
    char name[64];
    hsize_t dims[2] = {0, 0}, ldims[2] = {0, 0};
    hid_t d = -1, l = -1, t = -1;
    pp_status st;
    snprintf(name, sizeof name, "/%s/inputs", g);
    st = pp_h5_open_dataset(f, name, 2, dims, &d, path);
    if (st.code) goto done;
    t = H5Dget_type(d);
    H5T_class_t cls = H5Tget_class(t);
    int bytes = cls == H5T_INTEGER && H5Tget_size(t) == 1 && H5Tget_sign(t) == H5T_SGN_NONE;
    if (!bytes && cls != H5T_FLOAT) {
        st = pp_error(PP_ERR_INPUT, "%s: dataset '%s' should hold uint8 or floating-point values",
                      path, name);
        goto done;
    }
    if (!bytes) {
        st = pp_h5_check_type(d, 0, name, path);
        if (st.code) goto done;
    }
    if (dims[1] == 0) {
        st = pp_error(PP_ERR_INPUT, "%s: dataset '%s' has 0 inputs per sample", path, name);
        goto done;
    }
    if (bytes) {
        double scale = 0;
        st = pp_h5_attr_double(d, "scale", &scale, name);
        if (st.code) {
            st = pp_status_wrap(st, "%s: uint8 inputs need a 'scale'", path);
            goto done;
        }
        if (!(scale > 0 && scale < 1e30)) {
            st = pp_error(PP_ERR_INPUT, "%s: '%s' attribute 'scale' should be positive, found %g",
                          path, name, scale);
            goto done;
        }
        if (info->d && scale != info->scale) {
            st = pp_error(PP_ERR_INPUT, "%s: '%s' has scale %g but the train inputs %g", path, name,
                          scale, info->scale);
            goto done;
        }
        info->scale = scale;
    }
    if (info->d && info->d != dims[1]) {
        st = pp_error(PP_ERR_INPUT, "%s: '%s' has %llu inputs per sample, but train has %zu", path,
                      name, (unsigned long long)dims[1], info->d);
        goto done;
    }
    if (info->d && info->bytes != bytes) {
        st = pp_error(PP_ERR_INPUT, "%s: '%s' stores inputs as %s but train as %s", path, name,
                      bytes ? "uint8" : "float", info->bytes ? "uint8" : "float");
        goto done;
    }
    info->d = dims[1];
    info->bytes = bytes;
    *n = dims[0];
    snprintf(name, sizeof name, "/%s/labels", g);
    int labelled = pp_h5_exists(f, name);
    if (labelled) {
        st = pp_h5_open_dataset(f, name, 1, ldims, &l, path);
        if (st.code) goto done;
        pp_h5_close(t);
        t = H5Dget_type(l);
        st = pp_h5_check_type(l, 1, name, path);
        if (st.code) goto done;
    } else {
        snprintf(name, sizeof name, "/%s/targets", g);
        if (!pp_h5_exists(f, name)) {
            st = pp_error(PP_ERR_INPUT, "%s: group '/%s' has neither 'labels' nor 'targets'", path,
                          g);
            goto done;
        }
        st = pp_h5_open_dataset(f, name, 2, ldims, &l, path);
        if (st.code) goto done;
        pp_h5_close(t);
        t = H5Dget_type(l);
        st = pp_h5_check_type(l, 0, name, path);
        if (st.code) goto done;
        if (ldims[1] == 0 || (info->k && ldims[1] != info->k)) {
            st = pp_error(PP_ERR_INPUT, "%s: dataset '%s' has %llu columns, expected %zu", path,
                          name, (unsigned long long)ldims[1], info->k);
            goto done;
        }
        info->k = ldims[1];
    }
    if (strcmp(g, "train") == 0)
        info->labelled = labelled;
    else if (info->labelled != labelled) {
        st = pp_error(PP_ERR_INPUT, "%s: /%s uses %s but /train uses %s", path, g,
                      labelled ? "labels" : "targets", info->labelled ? "labels" : "targets");
        goto done;
    }
    if (ldims[0] != dims[0]) {
        st = pp_error(PP_ERR_INPUT, "%s: '/%s/inputs' has %llu samples but '%s' has %llu", path, g,
                      (unsigned long long)dims[0], name, (unsigned long long)ldims[0]);
        goto done;
    }
    if (dims[1] > ((hsize_t)1 << 31) || dims[0] > ((hsize_t)1 << 32) - 1) {
        st = pp_error(PP_ERR_INPUT,
                      "%s: '/%s/inputs' is %llu × %llu; paraprop reads at most 2^32 "
                      "samples of at most 2^31 inputs",
                      path, g, (unsigned long long)dims[0], (unsigned long long)dims[1]);
        goto done;
    }
    st = pp_ok();
done:
    pp_h5_close(t);
    pp_h5_close(l);
    pp_h5_close(d);
    return st;
}

pp_status pp_dataset_probe(const char *path, pp_dataset_info *info)
{
    memset(info, 0, sizeof *info);
    info->scale = 1.0;
    hid_t f;
    PP_TRY(pp_h5_open_readonly(path, "dataset file", &f));
    char fmt[64];
    int64_t ver = 0, classes = 0;
    pp_status st = pp_h5_attr_string(f, "format", fmt, sizeof fmt, path);
    if (!st.code && strcmp(fmt, FORMAT) != 0)
        st = pp_error(PP_ERR_INPUT, "%s: attribute 'format' is '%s', expected '%s'", path, fmt,
                      FORMAT);
    if (!st.code) st = pp_h5_attr_i64(f, "format_version", &ver, path);
    if (!st.code && ver != FORMAT_VERSION)
        st = pp_error(PP_ERR_INPUT,
                      "%s: format_version %lld is not supported (this paraprop "
                      "reads version %d)",
                      path, (long long)ver, FORMAT_VERSION);
    if (!st.code) st = pp_h5_attr_i64(f, "classes", &classes, path);
    if (!st.code && pp_h5_attr_string(f, "source", info->source, sizeof info->source, path).code)
        snprintf(info->source, sizeof info->source, "unknown");
    if (!st.code && (classes < 0 || classes > (1 << 24)))
        st = pp_error(PP_ERR_INPUT, "%s: attribute 'classes' is %lld, expected 0…2^24", path,
                      (long long)classes);
    if (!st.code && !pp_h5_exists(f, "/train"))
        st = pp_error(PP_ERR_INPUT, "%s: group '/train' is missing", path);
    if (!st.code) {
        info->k = (size_t)classes; /* targets override */
        st = probe_group(f, path, "train", info, &info->n_train);
        if (!st.code && info->labelled && classes < 2)
            st = pp_error(PP_ERR_INPUT,
                          "%s: labelled data needs attribute 'classes' ≥ 2, found "
                          "%lld",
                          path, (long long)classes);
    }
    if (!st.code && pp_h5_exists(f, "/test")) {
        info->has_test = 1;
        st = probe_group(f, path, "test", info, &info->n_test);
    }
    if (!st.code && pp_h5_exists(f, "/validation")) {
        info->has_val = 1;
        st = probe_group(f, path, "validation", info, &info->n_val);
    }
    if (!st.code && info->n_train == 0)
        st = pp_error(PP_ERR_INPUT, "%s: '/train/inputs' holds no sample", path);
    pp_h5_close(f);
    return st;
}

static pp_status agree(const pp_dataset_coll *coll, pp_status st)
{
    return coll ? coll->agree(coll->ctx, st) : st;
}

/* own: allocate out (pp_dataset_read), else fill the caller's buffers (pp_dataset_read_into) */
static pp_status read_rows(const char *path, const char *group, const pp_dataset_coll *coll,
                           size_t lo, size_t hi, pp_data *out, int own)
{
    if (own) memset(out, 0, sizeof *out);
    const int me = coll ? coll->rank : 0;
    hid_t fapl = -1, xfer = -1, f = -1, d = -1, fs = -1, ms = -1;
    /* what one rank can fail alone comes first and is agreed: the MPI-IO set-up and H5Fopen
     * are collective */
    pp_dataset_info info;
    memset(&info, 0, sizeof info);
    pp_status st = pp_fault("dataset-probe", me)
                       ? pp_error(PP_ERR_INPUT, "%s: probing failed (injected fault)", path)
                       : pp_dataset_probe(path, &info);
    size_t n = 0;
    if (!st.code)
        n = strcmp(group, "test") == 0         ? info.n_test
            : strcmp(group, "validation") == 0 ? info.n_val
                                               : info.n_train;
    if (!st.code && (lo > hi || hi > n))
        st = pp_error(PP_ERR_RUNTIME, "%s: slice [%zu, %zu) of /%s is out of range", path, lo, hi,
                      group);
    if (!st.code && own)
        st = pp_data_alloc(out, hi - lo, info.d, info.k, info.bytes, info.labelled);
    else if (!st.code && (out->n != hi - lo || out->d != info.d || out->k != info.k ||
                          !out->u8 != !info.bytes || !out->labels != !info.labelled ||
                          (info.bytes ? !out->u8 : !out->f32) ||
                          (info.labelled ? !out->labels : !out->targets)))
        st = pp_error(PP_ERR_RUNTIME, "%s: the buffers for rows %zu…%zu of /%s do not fit the file",
                      path, lo, hi, group);
    if (!st.code && own && pp_fault("dataset-alloc", me)) {
        pp_data_free(out);
        st = pp_error(PP_ERR_NOMEM, "%s: cannot allocate rows %zu…%zu of /%s (injected fault)",
                      path, lo, hi, group);
    }
    if (!st.code) {
        out->scale = info.scale;
        fapl = H5Pcreate(H5P_FILE_ACCESS);
        xfer = H5Pcreate(H5P_DATASET_XFER);
        if (fapl < 0 || xfer < 0) st = pp_error(PP_ERR_RUNTIME, "%s: HDF5 property lists", path);
    }
    st = agree(coll, st);
    if (st.code) goto done;
#ifdef H5_HAVE_PARALLEL
    /* collective too (it duplicates the communicator), so it waits for the agreement */
    if (coll && coll->mpi_comm) {
        H5Pset_fapl_mpio(fapl, *(const MPI_Comm *)coll->mpi_comm, MPI_INFO_NULL);
        H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE);
    }
#endif
    f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (f < 0) st = pp_error(PP_ERR_INPUT, "%s: cannot open for reading", path);
    /* before any rank opens a dataset: H5Dclose is collective for the ranks that opened it */
    st = agree(coll, st);
    if (st.code) goto done;
    const char *names[2] = {"inputs", info.labelled ? "labels" : "targets"};
    for (int which = 0; which < 2; which++) {
        char name[64];
        snprintf(name, sizeof name, "/%s/%s", group, names[which]);
        int rank = which == 1 && info.labelled ? 1 : 2;
        hsize_t start[2] = {lo, 0};
        hsize_t count[2] = {hi - lo, which == 0 ? info.d : info.k};
        d = H5Dopen2(f, name, H5P_DEFAULT);
        fs = d >= 0 ? H5Dget_space(d) : -1;
        ms = H5Screate_simple(rank, count, NULL);
        if (d < 0 || fs < 0 || ms < 0)
            st = pp_error(PP_ERR_INPUT,
                          "%s: reading '%s' rows %zu…%zu failed (truncated or "
                          "damaged file?)",
                          path, name, lo, hi);
        else if (hi > lo)
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        else {
            H5Sselect_none(fs);
            H5Sselect_none(ms);
        }
        st = agree(coll, st); /* H5Dread is collective */
        if (st.code) goto done;
        hid_t mt;
        void *buf;
        if (which == 0) {
            mt = info.bytes ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT;
            buf = info.bytes ? (void *)out->u8 : (void *)out->f32;
        } else {
            mt = info.labelled ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT;
            buf = info.labelled ? (void *)out->labels : (void *)out->targets;
        }
        if (which == 0) pp_fault_kill("dataset-read"); /* the others are in this collective read */
        if (H5Dread(d, mt, ms, fs, xfer, buf) < 0 || (which == 0 && pp_fault("dataset-read", me)))
            st = pp_error(PP_ERR_INPUT,
                          "%s: reading '%s' rows %zu…%zu failed (truncated or "
                          "damaged file?)",
                          path, name, lo, hi);
        pp_h5_close(ms);
        pp_h5_close(fs);
        pp_h5_close(d);
        ms = fs = d = -1;
        /* every rank closed this dataset; the next open and read wait for this read's verdict */
        st = agree(coll, st);
        if (st.code) goto done;
    }
    /* past the last collective read: every rank reaches the close below whatever happens */
    {
        char what[512];
        snprintf(what, sizeof what, "%s: /%s", path, group);
        st = pp_data_validate(out, what);
        /* report sample numbers in the file, not in the slice */
        if (st.code && lo) st = pp_status_wrap(st, "(slice starting at sample %zu)", lo);
    }
done:
    pp_h5_close(ms);
    pp_h5_close(fs);
    pp_h5_close(d);
    pp_h5_close(f);
    pp_h5_close(xfer);
    pp_h5_close(fapl);
    if (st.code && own) pp_data_free(out);
    return st;
}

pp_status pp_dataset_read(const char *path, const char *group, const pp_dataset_coll *coll,
                          size_t lo, size_t hi, pp_data *out)
{
    return read_rows(path, group, coll, lo, hi, out, 1);
}

pp_status pp_dataset_read_into(const char *path, const char *group, const pp_dataset_coll *coll,
                               size_t lo, size_t hi, pp_data *dst)
{
    return read_rows(path, group, coll, lo, hi, dst, 0);
}

/* Every array chunked with fletcher32 (pp_h5_create_checksummed): HDF5 refuses a damaged chunk
 * even after the file lost its seal (h5py edits, h5repack). */
static int write_group(hid_t f, const char *g, const pp_data *x)
{
    hid_t grp = H5Gcreate2(f, g, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (grp < 0) return -1;
    int rc = 0;
    hsize_t dims[2] = {x->n, x->d};
    hid_t d =
        pp_h5_create_checksummed(grp, "inputs", x->u8 ? H5T_STD_U8LE : H5T_IEEE_F32LE, 2, dims);
    if (d < 0 || H5Dwrite(d, x->u8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL,
                          H5P_DEFAULT, x->u8 ? (const void *)x->u8 : (const void *)x->f32) < 0)
        rc = -1;
    if (!rc && x->u8 && pp_h5_write_attr_double(d, "scale", x->scale) < 0) rc = -1;
    pp_h5_close(d);
    if (x->labels) {
        hsize_t ld[1] = {x->n};
        d = pp_h5_create_checksummed(grp, "labels", H5T_STD_I32LE, 1, ld);
        if (d < 0 || H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, x->labels) < 0)
            rc = -1;
    } else {
        hsize_t td[2] = {x->n, x->k};
        d = pp_h5_create_checksummed(grp, "targets", H5T_IEEE_F32LE, 2, td);
        if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x->targets) < 0)
            rc = -1;
    }
    pp_h5_close(d);
    pp_h5_close(grp);
    return rc;
}

pp_status pp_dataset_write(const char *path, const pp_data *train, const pp_data *test,
                           const char *source)
{
    return pp_dataset_write_splits(path, train, test, NULL, source);
}

pp_status pp_dataset_write_splits(const char *path, const pp_data *train, const pp_data *test,
                                  const pp_data *val, const char *source)
{
    pp_h5_quiet();
    if (test && (test->d != train->d || test->k != train->k || !test->labels != !train->labels))
        return pp_error(PP_ERR_INPUT, "test set has %zu inputs and %zu outputs, train %zu and %zu",
                        test->d, test->k, train->d, train->k);
    if (val && (val->d != train->d || val->k != train->k || !val->labels != !train->labels))
        return pp_error(PP_ERR_INPUT,
                        "validation set has %zu inputs and %zu outputs, train %zu and %zu", val->d,
                        val->k, train->d, train->k);
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return pp_error(PP_ERR_USAGE, "output path is too long");
    hid_t f = pp_h5_create_in_memory(tmp);
    if (f < 0) return pp_error(PP_ERR_WRITE, "%s: cannot create the file", tmp);
    int rc = 0;
    rc |= pp_h5_write_attr_string(f, "format", FORMAT);
    rc |= pp_h5_write_attr_i64(f, "format_version", FORMAT_VERSION);
    rc |= pp_h5_write_attr_i64(f, "classes", train->labels ? (int64_t)train->k : 0);
    rc |= pp_h5_write_attr_string(f, "source", source ? source : "unknown");
    rc |= write_group(f, "train", train);
    if (test) rc |= write_group(f, "test", test);
    if (val) rc |= write_group(f, "validation", val);
    if (rc) {
        H5Fclose(f);
        return pp_error(PP_ERR_NOMEM, "%s: building the file in memory failed", tmp);
    }
    errno = 0;
    if (pp_h5_save_image(f, tmp) != 0) {
        int e = errno;
        remove(tmp);
        return pp_error(PP_ERR_WRITE, "%s: writing failed (%s)", tmp,
                        e ? strerror(e) : "HDF5 error");
    }
    if (rename(tmp, path) != 0) {
        remove(tmp);
        return pp_error(PP_ERR_WRITE, "%s: cannot rename into place", path);
    }
    /* the rename itself is durable only once the directory is: else a crash soon after can
     * leave the old file, or none, although convert reported success */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    if (pp_fsync_path(dirname(dir), 1) != 0)
        return pp_error(PP_ERR_WRITE, "%s: fsync of the directory failed (%s)", path,
                        strerror(errno));
    return pp_ok();
}
