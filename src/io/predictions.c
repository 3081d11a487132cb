/* Prediction files (paraprop/predictions.h): one HDF5 file built in memory, sealed, renamed. */
#include "paraprop/predictions.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "h5util.h"

static int write_array(hid_t f, const char *name, int rank, const hsize_t *dims, hid_t file_type,
                       hid_t mem_type, const void *data)
{
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t d = s < 0 ? -1 : H5Dcreate2(f, name, file_type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d < 0 || H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0 ? -1 : 0;
    pp_h5_close(d);
    pp_h5_close(s);
    return rc;
}

pp_status pp_predictions_write(const char *path, size_t n, size_t k, const float *outputs,
                               const int32_t *classes, const float *probability, const char *model,
                               const char *fingerprint)
{
    pp_h5_quiet();
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return pp_error(PP_ERR_USAGE, "output path is too long");
    hid_t f = pp_h5_create_in_memory(tmp);
    if (f < 0) return pp_error(PP_ERR_WRITE, "%s: cannot create the file", tmp);
    int rc = 0;
    rc |= pp_h5_write_attr_string(f, "format", PP_PREDICTIONS_FORMAT);
    rc |= pp_h5_write_attr_i64(f, "format_version", PP_PREDICTIONS_VERSION);
    rc |= pp_h5_write_attr_string(f, "model", model ? model : "");
    rc |= pp_h5_write_attr_string(f, "fingerprint", fingerprint ? fingerprint : "");
    hsize_t dims[2] = {n, k};
    rc |= write_array(f, "outputs", 2, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, outputs);
    if (classes) {
        rc |= write_array(f, "class", 1, dims, H5T_STD_I32LE, H5T_NATIVE_INT32, classes);
        rc |= write_array(f, "probability", 1, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, probability);
    }
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
        int e = errno;
        remove(tmp);
        return pp_error(PP_ERR_WRITE, "%s: cannot rename into place (%s)", path, strerror(e));
    }
    return pp_ok();
}
