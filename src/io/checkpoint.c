/* The checkpoint file: atomic write (tmp, fsync, rename, directory fsync) and validated read.
 * Handles start invalid and close in one cleanup block (netCDF-C style). */
#include "paraprop/checkpoint.h"

#include <errno.h>
#include <limits.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fault.h"
#include "h5util.h"
#include "paraprop/fingerprint.h"
#include "paraprop/optim.h"
#include "paraprop/seal.h"

#if PP_DOUBLE
#define H5_REAL_MEM H5T_NATIVE_DOUBLE
#define H5_REAL_FILE H5T_IEEE_F64LE
#define PRECISION "float64"
#else
#define H5_REAL_MEM H5T_NATIVE_FLOAT
#define H5_REAL_FILE H5T_IEEE_F32LE
#define PRECISION "float32"
#endif

void pp_params_fingerprint(const pp_real *params, size_t n, char hex[65])
{
    pp_sha256_hex(params, n * sizeof *params, hex);
}

void pp_checkpoint_free(pp_checkpoint *ck)
{
    if (!ck) return;
    free(ck->params);
    free(ck->velocity);
    free(ck->adam_m);
    free(ck->adam_v);
    free(ck->config);
    free(ck->metrics);
    memset(ck, 0, sizeof *ck);
}

/* A chunked, fletcher32-checksummed dataset of rank 1 or 2. */
static int write_array(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank,
                       const hsize_t *dims, const void *data)
{
    hsize_t total = 1;
    for (int i = 0; i < rank; i++) total *= dims[i];
    hid_t d = pp_h5_create_checksummed(loc, name, ftype, rank, dims);
    int rc =
        (d >= 0 && (total == 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0))
            ? 0
            : -1;
    pp_h5_close(d);
    return rc;
}

static int write_string_dataset(hid_t loc, const char *name, const char *const *v, size_t n,
                                int scalar)
{
    size_t w = 1;
    for (size_t i = 0; i < n; i++) w = strlen(v[i]) + 1 > w ? strlen(v[i]) + 1 : w;
    char *buf = calloc(n ? n : 1, w);
    if (!buf) return -1;
    for (size_t i = 0; i < n; i++) memcpy(buf + i * w, v[i], strlen(v[i]));
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, w);
    hsize_t dims[1] = {n};
    hid_t s = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (d >= 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) ? 0 : -1;
    pp_h5_close(d);
    pp_h5_close(s);
    pp_h5_close(t);
    free(buf);
    return rc;
}

static int write_layers(hid_t f, const char *group, const pp_arch *a, const pp_real *v)
{
    hid_t g = H5Lexists(f, group, H5P_DEFAULT) > 0
                  ? H5Gopen2(f, group, H5P_DEFAULT)
                  : H5Gcreate2(f, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return -1;
    int rc = 0;
    for (int l = 1; l <= a->L && !rc; l++) {
        char name[32];
        snprintf(name, sizeof name, "layer_%d", l);
        hid_t lg = H5Gcreate2(g, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t wd[2] = {a->n[l], a->n[l - 1]}, bd[1] = {a->n[l]};
        rc = lg < 0 ||
             write_array(lg, "weights", H5_REAL_FILE, H5_REAL_MEM, 2, wd, v + a->w_off[l]) ||
             write_array(lg, "biases", H5_REAL_FILE, H5_REAL_MEM, 1, bd, v + a->b_off[l]);
        pp_h5_close(lg);
    }
    pp_h5_close(g);
    return rc;
}

static int write_file(const char *tmp, pp_checkpoint *ck)
{
    const pp_arch *a = &ck->arch;
    hid_t f = pp_h5_create_in_memory(tmp);
    if (f < 0) return -1;
    int rc = 0;
    rc |= pp_h5_write_attr_string(f, "format", PP_CHECKPOINT_FORMAT);
    rc |= pp_h5_write_attr_i64(f, "format_version", PP_CHECKPOINT_VERSION);
    rc |= pp_h5_write_attr_string(f, "paraprop_version", ck->paraprop_version);
    rc |= pp_h5_write_attr_string(f, "created_utc", ck->created_utc);
    rc |= pp_h5_write_attr_string(f, "config", ck->config ? ck->config : "");
    rc |= pp_h5_write_attr_i64(f, "seed", (int64_t)ck->seed);
    rc |= pp_h5_write_attr_i64(f, "epoch", ck->epoch);
    rc |= pp_h5_write_attr_i64(f, "step", ck->step);
    rc |= pp_h5_write_attr_i64(f, "global_step", ck->global_step);
    rc |= pp_h5_write_attr_i64(f, "samples_seen", ck->samples_seen);
    rc |= pp_h5_write_attr_i64(f, "batch_size", ck->batch_size);
    rc |= pp_h5_write_attr_string(f, "reduction", ck->reduction);
    rc |= pp_h5_write_attr_i64(f, "ranks", ck->ranks);
    rc |= pp_h5_write_attr_i64(f, "threads", ck->threads);
    rc |= pp_h5_write_attr_double(f, "epoch_loss_sum", ck->loss_sum);
    rc |= pp_h5_write_attr_i64(f, "epoch_loss_count", ck->loss_count);
    rc |= pp_h5_write_attr_double(f, "elapsed_seconds", ck->elapsed);
    rc |= pp_h5_write_attr_i64(f, "data_samples", ck->data_samples);
    rc |= pp_h5_write_attr_i64(f, "data_inputs", ck->data_inputs);
    rc |= pp_h5_write_attr_i64(f, "data_outputs", ck->data_outputs);
    rc |= pp_h5_write_attr_string(f, "data_path", ck->data_path);
    rc |= pp_h5_write_attr_string(f, "fingerprint", ck->fingerprint);
    rc |= pp_h5_write_attr_string(f, "precision", PRECISION);

    hid_t m = H5Gcreate2(f, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (m < 0) rc = -1;
    int sizes[PP_MAX_LAYERS + 1];
    const char *acts[PP_MAX_LAYERS];
    for (int l = 0; l <= a->L; l++) sizes[l] = (int)a->n[l];
    for (int l = 1; l <= a->L; l++)
        acts[l - 1] = pp_activation_name(l == a->L ? a->output : a->hidden);
    hsize_t ld[1] = {(hsize_t)a->L + 1};
    const char *cost = pp_cost_name(a->cost);
    if (!rc) rc |= write_array(m, "layer_sizes", H5T_STD_I32LE, H5T_NATIVE_INT, 1, ld, sizes);
    if (!rc) rc |= write_string_dataset(m, "activations", acts, (size_t)a->L, 0);
    if (!rc) rc |= write_string_dataset(m, "cost", &cost, 1, 1);
    pp_h5_close(m);
    if (!rc) rc |= write_layers(f, "/model", a, ck->params) ? -1 : 0;
    /* /optimizer always, so that a reader knows the optimizer even when it keeps no state; the
     * velocity stays at /optimizer/layer_<l>, where files before Adam keep it */
    hid_t og = rc ? -1 : H5Gcreate2(f, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (og < 0) rc = -1;
    if (!rc) rc |= pp_h5_write_attr_string(og, "name", *ck->optimizer ? ck->optimizer : "sgd");
    if (!rc) rc |= pp_h5_write_attr_i64(og, "t", ck->optimizer_t);
    pp_h5_close(og);
    if (!rc && ck->velocity) rc |= write_layers(f, "/optimizer", a, ck->velocity);
    if (!rc && ck->adam_m) rc |= write_layers(f, "/optimizer/m", a, ck->adam_m);
    if (!rc && ck->adam_v) rc |= write_layers(f, "/optimizer/v", a, ck->adam_v);

    hid_t mg = H5Gcreate2(f, "metrics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (mg < 0) rc = -1;
    size_t n = ck->nmetrics;
    double *col = malloc((n ? n : 1) * sizeof *col);
    int64_t *ecol = malloc((n ? n : 1) * sizeof *ecol);
    if (!col || !ecol) rc = -1;
    hsize_t md[1] = {n};
    if (!rc) {
        for (size_t i = 0; i < n; i++) ecol[i] = ck->metrics[i].epoch;
        rc |= write_array(mg, "epoch", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, md, ecol);
        const char *names[8] = {"train_loss",    "test_loss", "test_accuracy", "seconds",
                                "samples_per_s", "val_loss",  "val_accuracy",  "learning_rate"};
        for (int c = 0; c < 8 && !rc; c++) {
            for (size_t i = 0; i < n; i++) {
                const pp_metrics_row *r = &ck->metrics[i];
                const double v[8] = {r->train_loss,    r->test_loss, r->test_accuracy, r->seconds,
                                     r->samples_per_s, r->val_loss,  r->val_accuracy,  r->lr};
                col[i] = v[c];
            }
            rc |= write_array(mg, names[c], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, md, col);
        }
    }
    free(col);
    free(ecol);
    pp_h5_close(mg);
    if (!rc && ck->has_state) {
        /* what the schedule and early stopping decide from (pp_train_state) */
        const pp_train_state *ts = &ck->state;
        hid_t sg = H5Gcreate2(f, "training_state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (sg < 0) rc = -1;
        if (!rc) rc |= pp_h5_write_attr_double(sg, "learning_rate", ts->lr);
        if (!rc) rc |= pp_h5_write_attr_double(sg, "best_metric", ts->best_metric);
        if (!rc) rc |= pp_h5_write_attr_i64(sg, "best_epoch", ts->best_epoch);
        if (!rc) rc |= pp_h5_write_attr_i64(sg, "patience_count", ts->patience_count);
        if (!rc) rc |= pp_h5_write_attr_i64(sg, "plateau_count", ts->plateau_count);
        if (!rc) rc |= pp_h5_write_attr_i64(sg, "stopped", ts->stopped);
        pp_h5_close(sg);
    }
    /* `complete` last: a file without it was interrupted while being written */
    if (!rc) rc |= pp_h5_write_attr_i64(f, "complete", 1);
    if (rc) {
        H5Fclose(f);
        return rc;
    }
    return pp_h5_save_image(f, tmp); /* writes and fsyncs the bytes */
}

pp_status pp_checkpoint_write(const char *path, pp_checkpoint *ck)
{
    pp_h5_quiet();
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(ck->created_utc, sizeof ck->created_utc, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    snprintf(ck->paraprop_version, sizeof ck->paraprop_version, "%s", PARAPROP_VERSION);
    snprintf(ck->precision, sizeof ck->precision, "%s", PRECISION);
    pp_params_fingerprint(ck->params, ck->arch.nparams, ck->fingerprint);
    ck->complete = 1;
    char tmp[4200], dir[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return pp_error(PP_ERR_USAGE, "checkpoint path is too long: %s", path);
    remove(tmp);
    errno = 0;
    if (write_file(tmp, ck) != 0) {
        int e = errno;
        remove(tmp);
        return pp_error(PP_ERR_WRITE,
                        "%s: writing the checkpoint failed (%s); the previous checkpoint is "
                        "untouched",
                        tmp, e ? strerror(e) : "HDF5 error");
    }
    /* a kill between the written temporary file and its rename (tests/robust/kill_sites.sh) */
    pp_fault_kill("checkpoint-write");
    if (rename(tmp, path) != 0) {
        remove(tmp);
        return pp_error(PP_ERR_WRITE, "%s: rename into place failed", path);
    }
    snprintf(dir, sizeof dir, "%s", path);
    if (pp_fsync_path(dirname(dir), 1) != 0)
        return pp_error(PP_ERR_WRITE, "%s: fsync of the directory failed", path);
    return pp_ok();
}

/* Reads a real-valued dataset of the expected shape; checksum failures surface as read errors. */
static pp_status read_array(hid_t f, const char *path, const char *name, int rank,
                            const hsize_t *want, hid_t mtype, void *buf, size_t *unchecksummed)
{
    hsize_t dims[2] = {0, 0};
    hid_t d = -1;
    PP_TRY(pp_h5_open_dataset(f, name, rank, dims, &d, path));
    pp_status st = pp_ok();
    for (int i = 0; i < rank; i++)
        if (dims[i] != want[i]) {
            if (rank == 2)
                st = pp_error(PP_ERR_INPUT, "%s: '%s' is %llu × %llu, expected %llu × %llu", path,
                              name, (unsigned long long)dims[0], (unsigned long long)dims[1],
                              (unsigned long long)want[0], (unsigned long long)want[1]);
            else
                st = pp_error(PP_ERR_INPUT, "%s: '%s' has %llu entries, expected %llu", path, name,
                              (unsigned long long)dims[0], (unsigned long long)want[0]);
            break;
        }
    if (!st.code)
        st = pp_h5_check_type(d, mtype == H5T_NATIVE_INT || mtype == H5T_NATIVE_INT64, name, path);
    if (!st.code) st = pp_h5_check_chunks(d, name, path);
    hsize_t total = 1;
    for (int i = 0; i < rank; i++) total *= want[i];
    if (!st.code && total && unchecksummed && !pp_h5_has_fletcher32(d)) (*unchecksummed)++;
    if (!st.code && total && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        st = pp_error(PP_ERR_INPUT, "%s: reading '%s' failed: checksum mismatch or damaged data",
                      path, name);
    pp_h5_close(d);
    return st;
}

static pp_status read_strings(hid_t f, const char *path, const char *name, size_t n, char out[][32])
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return pp_error(PP_ERR_INPUT, "%s: dataset '%s' is missing", path, name);
    pp_status st = pp_ok();
    hid_t t = H5Dget_type(d), s = H5Dget_space(d);
    size_t w = t >= 0 ? H5Tget_size(t) : 0;
    hssize_t np = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    if (H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t) > 0 || w == 0 || w > 4096 ||
        np != (hssize_t)n) {
        st = pp_error(PP_ERR_INPUT, "%s: '%s' should hold %zu fixed-length strings", path, name, n);
    } else {
        char *buf = calloc(n, w + 1);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, w);
        if (!buf || H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
            st = pp_error(PP_ERR_INPUT, "%s: reading '%s' failed", path, name);
        for (size_t i = 0; buf && !st.code && i < n; i++)
            snprintf(out[i], 32, "%.*s", (int)w, buf + i * w);
        pp_h5_close(mt);
        free(buf);
    }
    pp_h5_close(s);
    pp_h5_close(t);
    pp_h5_close(d);
    return st;
}

static pp_status read_layers(hid_t f, const char *path, const char *group, const pp_arch *a,
                             pp_real *v, size_t *nochk)
{
    for (int l = 1; l <= a->L; l++) {
        char name[96];
        hsize_t wd[2] = {a->n[l], a->n[l - 1]}, bd[1] = {a->n[l]};
        snprintf(name, sizeof name, "%s/layer_%d/weights", group, l);
        PP_TRY(read_array(f, path, name, 2, wd, H5_REAL_MEM, v + a->w_off[l], nochk));
        snprintf(name, sizeof name, "%s/layer_%d/biases", group, l);
        PP_TRY(read_array(f, path, name, 1, bd, H5_REAL_MEM, v + a->b_off[l], nochk));
    }
    return pp_ok();
}

/* The optimizer's name, step count and Adam moments. Files from before they were stored hold
 * at most a velocity at /optimizer/layer_<l>: they were written by SGD. */
static pp_status read_optimizer(hid_t f, const char *path, pp_checkpoint *ck)
{
    snprintf(ck->optimizer, sizeof ck->optimizer, "sgd");
    ck->optimizer_t = -1; /* absent: every step was an SGD step (read_body) */
    if (!pp_h5_exists(f, "/optimizer")) return pp_ok();
    hid_t g = H5Gopen2(f, "/optimizer", H5P_DEFAULT);
    if (g < 0) return pp_error(PP_ERR_INPUT, "%s: '/optimizer' is not a group", path);
    pp_status st = pp_ok();
    if (H5Aexists(g, "name") > 0)
        st = pp_h5_attr_string(g, "name", ck->optimizer, sizeof ck->optimizer, path);
    const int has_t = H5Aexists(g, "t") > 0;
    if (!st.code && has_t) st = pp_h5_attr_i64(g, "t", &ck->optimizer_t, path);
    pp_h5_close(g);
    PP_TRY(st);
    if (has_t && ck->optimizer_t < 0)
        return pp_error(PP_ERR_INPUT, "%s: /optimizer: step count t = %lld is negative", path,
                        (long long)ck->optimizer_t);
    const int kind = pp_optimizer_parse(ck->optimizer);
    if (kind < 0)
        return pp_error(PP_ERR_INPUT,
                        "%s: /optimizer: unknown optimizer '%s' (sgd, nesterov, adam, adamw)", path,
                        ck->optimizer);
    if (kind == PP_OPT_NESTEROV && !ck->velocity)
        return pp_error(PP_ERR_INPUT,
                        "%s: /optimizer: nesterov without its velocity "
                        "(/optimizer/layer_<l>): damaged file",
                        path);
    if (kind != PP_OPT_ADAM && kind != PP_OPT_ADAMW) return pp_ok();
    if (!pp_h5_exists(f, "/optimizer/m/layer_1") || !pp_h5_exists(f, "/optimizer/v/layer_1"))
        return pp_error(PP_ERR_INPUT,
                        "%s: /optimizer: %s without its moments (/optimizer/m, /optimizer/v): "
                        "damaged file",
                        path, ck->optimizer);
    ck->adam_m = malloc(ck->arch.nparams * sizeof *ck->adam_m);
    ck->adam_v = malloc(ck->arch.nparams * sizeof *ck->adam_v);
    if (!ck->adam_m || !ck->adam_v)
        return pp_error(PP_ERR_NOMEM, "%s: cannot allocate the Adam moments", path);
    PP_TRY(read_layers(f, path, "/optimizer/m", &ck->arch, ck->adam_m, &ck->unchecksummed));
    PP_TRY(read_layers(f, path, "/optimizer/v", &ck->arch, ck->adam_v, &ck->unchecksummed));
    return pp_ok();
}

/* The global step, checked against the position it must equal. Checkpoints written before it
 * was stored get it from that position. */
static pp_status read_global_step(hid_t f, const char *path, pp_checkpoint *ck)
{
    int64_t per_epoch = 0;
    if (ck->batch_size > 0 && ck->data_samples > 0)
        per_epoch = (ck->data_samples + ck->batch_size - 1) / ck->batch_size;
    if (ck->step > per_epoch || (per_epoch && ck->epoch > INT64_MAX / per_epoch - 1))
        return pp_error(PP_ERR_INPUT, "%s: step %lld of an epoch of %lld steps is impossible", path,
                        (long long)ck->step, (long long)per_epoch);
    int64_t want = ck->epoch * per_epoch + ck->step;
    if (H5Aexists(f, "global_step") <= 0) {
        ck->global_step = want;
        return pp_ok();
    }
    PP_TRY(pp_h5_attr_i64(f, "global_step", &ck->global_step, path));
    if (ck->global_step != want)
        return pp_error(PP_ERR_INPUT,
                        "%s: global_step %lld disagrees with epoch %lld, step %lld at %lld steps "
                        "per epoch: damaged file",
                        path, (long long)ck->global_step, (long long)ck->epoch, (long long)ck->step,
                        (long long)per_epoch);
    return pp_ok();
}

static pp_status read_body(hid_t f, const char *path, pp_checkpoint *ck)
{
    char fmt[64];
    int64_t v = 0;
    PP_TRY(pp_h5_attr_string(f, "format", fmt, sizeof fmt, path));
    if (strcmp(fmt, PP_CHECKPOINT_FORMAT) != 0)
        return pp_error(PP_ERR_INPUT, "%s: attribute 'format' is '%s', expected '%s'", path, fmt,
                        PP_CHECKPOINT_FORMAT);
    PP_TRY(pp_h5_attr_i64(f, "format_version", &v, path));
    if (v != PP_CHECKPOINT_VERSION)
        return pp_error(PP_ERR_INPUT, "%s: format_version %lld is not supported (expected %d)",
                        path, (long long)v, PP_CHECKPOINT_VERSION);
    if (H5Aexists(f, "complete") <= 0)
        return pp_error(PP_ERR_INPUT,
                        "%s: attribute 'complete' is missing: the write was "
                        "interrupted",
                        path);
    PP_TRY(pp_h5_attr_i64(f, "complete", &v, path));
    if (v != 1) return pp_error(PP_ERR_INPUT, "%s: 'complete' is %lld, not 1", path, (long long)v);
    ck->complete = 1;
    /* before any parameter is read: HDF5 would convert another precision silently, and the
     * converted bytes could only fail the fingerprint as if the file were damaged */
    PP_TRY(pp_h5_attr_string(f, "precision", ck->precision, sizeof ck->precision, path));
    if (strcmp(ck->precision, PRECISION) != 0)
        return pp_error(PP_ERR_INPUT,
                        "%s: its parameters are %s but this paraprop is a %s build (%s); read it "
                        "with a paraprop built with the same precision",
                        path, ck->precision, PRECISION,
                        PP_DOUBLE ? "PARAPROP_DOUBLE=ON" : "PARAPROP_DOUBLE=OFF");

    /* architecture */
    hsize_t dims[1] = {0};
    hid_t d = -1;
    PP_TRY(pp_h5_open_dataset(f, "/model/layer_sizes", 1, dims, &d, path));
    pp_h5_close(d);
    if (dims[0] < 2 || dims[0] > PP_MAX_LAYERS + 1)
        return pp_error(PP_ERR_INPUT, "%s: '/model/layer_sizes' has %llu entries, expected 2…%d",
                        path, (unsigned long long)dims[0], PP_MAX_LAYERS + 1);
    int64_t sizes[PP_MAX_LAYERS + 1];
    PP_TRY(read_array(f, path, "/model/layer_sizes", 1, dims, H5T_NATIVE_INT64, sizes,
                      &ck->unchecksummed));
    int L = (int)dims[0] - 1;
    size_t sz[PP_MAX_LAYERS + 1];
    for (int l = 0; l <= L; l++) {
        if (sizes[l] < 1 || sizes[l] > INT_MAX)
            return pp_error(PP_ERR_INPUT, "%s: layer %d has %lld neurons (expected 1…%d)", path, l,
                            (long long)sizes[l], INT_MAX);
        sz[l] = (size_t)sizes[l];
    }
    /* the stored shapes must agree with layer_sizes before anything is allocated from them */
    for (int l = 1; l <= L; l++) {
        char name[64];
        hsize_t wd[2] = {0, 0};
        hid_t wdset = -1;
        snprintf(name, sizeof name, "/model/layer_%d/weights", l);
        PP_TRY(pp_h5_open_dataset(f, name, 2, wd, &wdset, path));
        pp_h5_close(wdset);
        if (wd[0] != sz[l] || wd[1] != sz[l - 1])
            return pp_error(PP_ERR_INPUT, "%s: '%s' is %llu × %llu but layer_sizes says %zu × %zu",
                            path, name, (unsigned long long)wd[0], (unsigned long long)wd[1], sz[l],
                            sz[l - 1]);
    }
    char acts[PP_MAX_LAYERS][32], cost[1][32];
    PP_TRY(read_strings(f, path, "/model/activations", (size_t)L, acts));
    PP_TRY(read_strings(f, path, "/model/cost", 1, cost));
    int out = pp_activation_parse(acts[L - 1]), hid = L > 1 ? pp_activation_parse(acts[0]) : 0;
    int c = pp_cost_parse(cost[0]);
    for (int l = 1; l < L - 1; l++)
        if (strcmp(acts[l], acts[0]) != 0) hid = -1;
    if (out < 0 || hid < 0 || c < 0)
        return pp_error(PP_ERR_INPUT, "%s: unknown or mixed activations/cost ('%s', '%s', '%s')",
                        path, acts[0], acts[L - 1], cost[0]);
    pp_status st =
        pp_arch_init(&ck->arch, L, sz, (pp_activation)hid, (pp_activation)out, (pp_cost)c);
    if (st.code) return pp_error(PP_ERR_INPUT, "%s: %s", path, st.msg);
    /* size check before allocating: a damaged file must not ask for absurd memory */
    if (ck->arch.nparams > ((size_t)1 << 34))
        return pp_error(PP_ERR_INPUT, "%s: %zu parameters is implausible", path, ck->arch.nparams);
    ck->params = malloc(ck->arch.nparams * sizeof *ck->params);
    if (!ck->params) return pp_error(PP_ERR_NOMEM, "%s: cannot allocate the parameters", path);
    PP_TRY(read_layers(f, path, "/model", &ck->arch, ck->params, &ck->unchecksummed));
    if (pp_h5_exists(f, "/optimizer/layer_1")) {
        ck->velocity = malloc(ck->arch.nparams * sizeof *ck->velocity);
        if (!ck->velocity) return pp_error(PP_ERR_NOMEM, "%s: cannot allocate the velocity", path);
        PP_TRY(read_layers(f, path, "/optimizer", &ck->arch, ck->velocity, &ck->unchecksummed));
    }
    PP_TRY(read_optimizer(f, path, ck));

    /* position and provenance */
    PP_TRY(pp_h5_attr_i64(f, "seed", &v, path));
    ck->seed = (uint64_t)v;
    PP_TRY(pp_h5_attr_i64(f, "epoch", &ck->epoch, path));
    PP_TRY(pp_h5_attr_i64(f, "step", &ck->step, path));
    PP_TRY(pp_h5_attr_i64(f, "samples_seen", &ck->samples_seen, path));
    PP_TRY(pp_h5_attr_i64(f, "batch_size", &ck->batch_size, path));
    PP_TRY(pp_h5_attr_i64(f, "ranks", &ck->ranks, path));
    PP_TRY(pp_h5_attr_i64(f, "threads", &ck->threads, path));
    PP_TRY(pp_h5_attr_string(f, "reduction", ck->reduction, sizeof ck->reduction, path));
    PP_TRY(pp_h5_attr_double(f, "epoch_loss_sum", &ck->loss_sum, path));
    PP_TRY(pp_h5_attr_i64(f, "epoch_loss_count", &ck->loss_count, path));
    PP_TRY(pp_h5_attr_double(f, "elapsed_seconds", &ck->elapsed, path));
    PP_TRY(pp_h5_attr_i64(f, "data_samples", &ck->data_samples, path));
    PP_TRY(pp_h5_attr_i64(f, "data_inputs", &ck->data_inputs, path));
    PP_TRY(pp_h5_attr_i64(f, "data_outputs", &ck->data_outputs, path));
    PP_TRY(pp_h5_attr_string(f, "data_path", ck->data_path, sizeof ck->data_path, path));
    PP_TRY(pp_h5_attr_string(f, "fingerprint", ck->fingerprint, sizeof ck->fingerprint, path));
    PP_TRY(pp_h5_attr_string(f, "created_utc", ck->created_utc, sizeof ck->created_utc, path));
    PP_TRY(pp_h5_attr_string(f, "paraprop_version", ck->paraprop_version,
                             sizeof ck->paraprop_version, path));
    if (ck->epoch < 0 || ck->step < 0 || ck->samples_seen < 0 || ck->batch_size < 0 ||
        ck->loss_count < 0)
        return pp_error(PP_ERR_INPUT, "%s: negative epoch/step/samples_seen/batch_size", path);
    PP_TRY(read_global_step(f, path, ck));
    if (ck->optimizer_t < 0) ck->optimizer_t = ck->global_step;
    char fp[65];
    pp_params_fingerprint(ck->params, ck->arch.nparams, fp);
    if (strcmp(fp, ck->fingerprint) != 0)
        return pp_error(PP_ERR_INPUT,
                        "%s: parameter fingerprint mismatch (stored %.16s…, "
                        "computed %.16s…): damaged file",
                        path, ck->fingerprint, fp);
    static char cfg[65536];
    PP_TRY(pp_h5_attr_string(f, "config", cfg, sizeof cfg, path));
    ck->config = strdup(cfg);
    if (!ck->config) return pp_error(PP_ERR_NOMEM, "out of memory");

    /* metrics history */
    hsize_t md[1] = {0};
    PP_TRY(pp_h5_open_dataset(f, "/metrics/epoch", 1, md, &d, path));
    pp_h5_close(d);
    if (md[0] > 10000000)
        return pp_error(PP_ERR_INPUT, "%s: implausible metrics history length", path);
    ck->nmetrics = md[0];
    ck->metrics = calloc(md[0] ? md[0] : 1, sizeof *ck->metrics);
    double *col = malloc((md[0] ? md[0] : 1) * sizeof *col);
    int64_t *ecol = malloc((md[0] ? md[0] : 1) * sizeof *ecol);
    pp_status rs = pp_ok();
    if (!ck->metrics || !col || !ecol) rs = pp_error(PP_ERR_NOMEM, "out of memory");
    if (!rs.code)
        rs = read_array(f, path, "/metrics/epoch", 1, md, H5T_NATIVE_INT64, ecol,
                        &ck->unchecksummed);
    const char *names[8] = {"train_loss",    "test_loss", "test_accuracy", "seconds",
                            "samples_per_s", "val_loss",  "val_accuracy",  "learning_rate"};
    for (int k = 0; k < 8 && !rs.code; k++) {
        char name[64];
        snprintf(name, sizeof name, "/metrics/%s", names[k]);
        /* the last three came with validation and schedules: older files lack them */
        int have = k < 5 || pp_h5_exists(f, name);
        if (have) rs = read_array(f, path, name, 1, md, H5T_NATIVE_DOUBLE, col, &ck->unchecksummed);
        for (size_t i = 0; !rs.code && i < md[0]; i++) {
            pp_metrics_row *r = &ck->metrics[i];
            r->epoch = ecol[i];
            double *dst[8] = {&r->train_loss,    &r->test_loss, &r->test_accuracy, &r->seconds,
                              &r->samples_per_s, &r->val_loss,  &r->val_accuracy,  &r->lr};
            *dst[k] = have ? col[i] : -1;
        }
    }
    free(col);
    free(ecol);
    if (!rs.code && pp_h5_exists(f, "/training_state")) {
        hid_t sg = H5Gopen2(f, "/training_state", H5P_DEFAULT);
        pp_train_state *ts = &ck->state;
        if (sg < 0) rs = pp_error(PP_ERR_INPUT, "%s: cannot open /training_state", path);
        if (!rs.code) rs = pp_h5_attr_double(sg, "learning_rate", &ts->lr, path);
        if (!rs.code) rs = pp_h5_attr_double(sg, "best_metric", &ts->best_metric, path);
        if (!rs.code) rs = pp_h5_attr_i64(sg, "best_epoch", &ts->best_epoch, path);
        if (!rs.code) rs = pp_h5_attr_i64(sg, "patience_count", &ts->patience_count, path);
        if (!rs.code) rs = pp_h5_attr_i64(sg, "plateau_count", &ts->plateau_count, path);
        if (!rs.code) rs = pp_h5_attr_i64(sg, "stopped", &ts->stopped, path);
        if (sg >= 0) pp_h5_close(sg);
        if (!rs.code &&
            (!(ts->lr >= 0) || isnan(ts->best_metric) || ts->best_epoch < 0 ||
             ts->patience_count < 0 || ts->plateau_count < 0 || ts->stopped < 0 || ts->stopped > 2))
            rs = pp_error(PP_ERR_INPUT, "%s: /training_state holds values out of range", path);
        ck->has_state = !rs.code;
    }
    return rs;
}

pp_status pp_checkpoint_read(const char *path, int allow_unsealed, pp_checkpoint *ck)
{
    memset(ck, 0, sizeof *ck);
    /* every byte is verified before HDF5 parses anything (paraprop/seal.h) */
    pp_seal_info seal;
    PP_TRY(pp_seal_check(path, 0, 1, &seal));
    /* paraprop seals every checkpoint it writes, so one without a seal was rewritten by another
     * tool or is not paraprop's: only trusted on request */
    if (!seal.sealed && !allow_unsealed)
        return pp_error(PP_ERR_INPUT,
                        "%s: this checkpoint carries no seal (no HDF5 user block), so paraprop "
                        "cannot verify that it holds the bytes paraprop wrote (its checkpoints "
                        "and final.h5 are sealed; h5repack and other tools drop the seal). "
                        "Read it unchecked with --allow-unsealed on, or, if you trust it, give "
                        "it a 4096-byte user block (h5jam -u) and run 'paraprop seal %s'",
                        path, path);
    hid_t f;
    PP_TRY(pp_h5_open_readonly(path, "checkpoint", &f));
    ck->sealed = seal.sealed;
    pp_status st = read_body(f, path, ck);
    if (H5Fclose(f) < 0 && !st.code) st = pp_error(PP_ERR_INPUT, "%s: damaged file", path);
    if (st.code) pp_checkpoint_free(ck);
    return st;
}
