/* HDF5 helpers: quiet errors, attributes, dataset opening with shape checks, fsync. */
#include "h5util.h"

#include "paraprop/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void pp_h5_quiet(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

pp_status pp_h5_open_readonly(const char *path, const char *what, hid_t *out)
{
    *out = -1;
    pp_h5_quiet();
    FILE *fp = fopen(path, "rb");
    if (!fp) return pp_error(PP_ERR_INPUT, "%s: cannot open the %s", path, what);
    fclose(fp);
    /* a truncated or extended sealed file is refused before HDF5 reads its metadata */
    pp_seal_info seal;
    PP_TRY(pp_seal_check(path, 0, 0, &seal));
    if (H5Fis_hdf5(path) <= 0)
        return pp_error(PP_ERR_INPUT, "%s: not an HDF5 file (truncated or damaged?)", path);
    *out = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*out < 0) return pp_error(PP_ERR_INPUT, "%s: cannot open as HDF5 (damaged?)", path);
    return pp_ok();
}

void pp_h5_close(hid_t h)
{
    if (h < 0) return;
    switch (H5Iget_type(h)) {
    case H5I_FILE:
        H5Fclose(h);
        break;
    case H5I_GROUP:
        H5Gclose(h);
        break;
    case H5I_DATASET:
        H5Dclose(h);
        break;
    case H5I_DATASPACE:
        H5Sclose(h);
        break;
    case H5I_DATATYPE:
        H5Tclose(h);
        break;
    case H5I_ATTR:
        H5Aclose(h);
        break;
    case H5I_GENPROP_LST:
        H5Pclose(h);
        break;
    default:
        break;
    }
}

int pp_h5_exists(hid_t file, const char *name)
{
    /* check each prefix: H5Lexists fails on a missing intermediate group */
    char buf[256];
    size_t n = strlen(name);
    if (n >= sizeof buf) return 0;
    memcpy(buf, name, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (H5Lexists(file, buf, H5P_DEFAULT) <= 0) return 0;
            buf[i] = c;
        }
    }
    return 1;
}

pp_status pp_h5_attr_string(hid_t obj, const char *name, char *buf, size_t bufsz, const char *path)
{
    pp_status st = pp_ok();
    hid_t a = -1, t = -1, mt = -1;
    if (H5Aexists(obj, name) <= 0) {
        st = pp_error(PP_ERR_INPUT, "%s: attribute '%s' is missing", path, name);
        goto done;
    }
    a = H5Aopen(obj, name, H5P_DEFAULT);
    t = a >= 0 ? H5Aget_type(a) : -1;
    if (t < 0 || H5Tget_class(t) != H5T_STRING) {
        st = pp_error(PP_ERR_INPUT, "%s: attribute '%s' should be a string", path, name);
        goto done;
    }
    if (H5Tis_variable_str(t) > 0) {
        char *s = NULL;
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t)); /* h5py writes UTF-8 */
        if (H5Aread(a, mt, &s) < 0 || !s) {
            st = pp_error(PP_ERR_INPUT, "%s: cannot read attribute '%s'", path, name);
            goto done;
        }
        size_t len = strlen(s);
        if (len >= bufsz)
            st = pp_error(PP_ERR_INPUT, "%s: attribute '%s' is too long (%zu bytes, at most %zu)",
                          path, name, len, bufsz - 1);
        else
            memcpy(buf, s, len + 1);
        H5free_memory(s);
    } else {
        size_t sz = H5Tget_size(t);
        char *tmp = sz > 0 && sz < (1u << 24) ? calloc(sz + 2, 1) : NULL;
        if (!tmp) {
            st = pp_error(PP_ERR_INPUT, "%s: attribute '%s' has an implausible size (%zu bytes)",
                          path, name, sz);
            goto done;
        }
        /* one byte more than stored: a null-padded string of exactly sz characters keeps its
         * last one when converted to null-terminated */
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, sz + 1);
        H5Tset_cset(mt, H5Tget_cset(t));
        if (H5Aread(a, mt, tmp) < 0) {
            free(tmp);
            st = pp_error(PP_ERR_INPUT, "%s: cannot read attribute '%s'", path, name);
            goto done;
        }
        size_t len = strnlen(tmp, sz + 1);
        if (len >= bufsz) {
            free(tmp);
            st = pp_error(PP_ERR_INPUT, "%s: attribute '%s' is too long (%zu bytes, at most %zu)",
                          path, name, len, bufsz - 1);
            goto done;
        }
        memcpy(buf, tmp, len);
        buf[len] = '\0';
        free(tmp);
    }
done:
    pp_h5_close(mt);
    pp_h5_close(t);
    pp_h5_close(a);
    return st;
}

static pp_status attr_num(hid_t obj, const char *name, hid_t memtype, void *v, const char *path)
{
    pp_status st = pp_ok();
    hid_t a = -1, s = -1, t = -1;
    if (H5Aexists(obj, name) <= 0)
        return pp_error(PP_ERR_INPUT, "%s: attribute '%s' is missing", path, name);
    a = H5Aopen(obj, name, H5P_DEFAULT);
    s = a >= 0 ? H5Aget_space(a) : -1;
    t = a >= 0 ? H5Aget_type(a) : -1;
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    if (a < 0 || s < 0 || H5Sget_simple_extent_npoints(s) != 1 ||
        (cls != H5T_INTEGER && cls != H5T_FLOAT)) {
        st = pp_error(PP_ERR_INPUT, "%s: attribute '%s' should be one number", path, name);
    } else if (H5Aread(a, memtype, v) < 0) {
        st = pp_error(PP_ERR_INPUT, "%s: cannot read attribute '%s' as a number", path, name);
    }
    pp_h5_close(t);
    pp_h5_close(s);
    pp_h5_close(a);
    return st;
}

pp_status pp_h5_attr_i64(hid_t obj, const char *name, int64_t *v, const char *path)
{
    return attr_num(obj, name, H5T_NATIVE_INT64, v, path);
}

pp_status pp_h5_attr_double(hid_t obj, const char *name, double *v, const char *path)
{
    return attr_num(obj, name, H5T_NATIVE_DOUBLE, v, path);
}

static int write_attr(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *v)
{
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, mtype, v) >= 0) ? 0 : -1;
    pp_h5_close(a);
    pp_h5_close(s);
    return rc;
}

int pp_h5_write_attr_string(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(value) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    int rc = write_attr(obj, name, t, t, value);
    H5Tclose(t);
    return rc;
}

int pp_h5_write_attr_i64(hid_t obj, const char *name, int64_t v)
{
    return write_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

int pp_h5_write_attr_double(hid_t obj, const char *name, double v)
{
    return write_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

pp_status pp_h5_open_dataset(hid_t file, const char *name, int rank, hsize_t *dims, hid_t *out,
                             const char *path)
{
    *out = -1;
    if (!pp_h5_exists(file, name))
        return pp_error(PP_ERR_INPUT, "%s: dataset '%s' is missing", path, name);
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0) return pp_error(PP_ERR_INPUT, "%s: '%s' is not a readable dataset", path, name);
    hid_t s = H5Dget_space(d);
    int r = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    if (r != rank) {
        pp_h5_close(s);
        pp_h5_close(d);
        return pp_error(PP_ERR_INPUT, "%s: dataset '%s' should have rank %d, found rank %d", path,
                        name, rank, r);
    }
    H5Sget_simple_extent_dims(s, dims, NULL);
    pp_h5_close(s);
    *out = d;
    return pp_ok();
}

int pp_fsync_path(const char *path, int is_dir)
{
    int fd = open(path, is_dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

hid_t pp_h5_create_in_memory(const char *name)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return -1;
    H5Pset_fapl_core(fapl, (size_t)1 << 20, 0);
    /* room for the seal (paraprop/seal.h) in front of the HDF5 superblock */
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    hid_t f = fcpl >= 0 && H5Pset_userblock(fcpl, PP_SEAL_BLOCK) >= 0
                  ? H5Fcreate(name, H5F_ACC_TRUNC, fcpl, fapl)
                  : -1;
    if (fcpl >= 0) H5Pclose(fcpl);
    H5Pclose(fapl);
    return f;
}

int pp_h5_save_image(hid_t file, const char *path)
{
    int rc = -1, saved = EIO;
    char *img = NULL;
    ssize_t image = -1;
    if (H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0) image = H5Fget_file_image(file, NULL, 0);
    /* the image starts at the superblock; the user block that holds the seal goes in front */
    ssize_t size = image > 0 ? image + PP_SEAL_BLOCK : -1;
    if (size > 0) img = calloc(1, (size_t)size);
    if (img && (H5Fget_file_image(file, img + PP_SEAL_BLOCK, (size_t)image) != image ||
                pp_seal_image((unsigned char *)img, (size_t)size) != 0)) {
        free(img);
        img = NULL;
    }
    if (H5Fclose(file) < 0 || !img) {
        free(img);
        errno = img ? EIO : ENOMEM;
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd >= 0) {
        size_t done = 0;
        while (done < (size_t)size) {
            ssize_t w = write(fd, img + done, (size_t)size - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) break;
            done += (size_t)w;
        }
        saved = errno;
        if (done == (size_t)size && fsync(fd) == 0)
            rc = 0;
        else if (done == (size_t)size)
            saved = errno;
        if (close(fd) != 0 && rc == 0) {
            rc = -1;
            saved = errno;
        }
    } else {
        saved = errno;
    }
    free(img);
    errno = saved;
    return rc;
}

pp_status pp_h5_check_type(hid_t d, int want_int, const char *name, const char *path)
{
    hid_t t = H5Dget_type(d);
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    size_t sz = t >= 0 ? H5Tget_size(t) : 0;
    pp_h5_close(t);
    if (want_int) {
        if (cls != H5T_INTEGER || !(sz == 1 || sz == 2 || sz == 4 || sz == 8))
            return pp_error(PP_ERR_INPUT,
                            "%s: '%s' should hold 1-8 byte integers (found class %d, "
                            "%zu bytes)",
                            path, name, (int)cls, sz);
    } else if (cls != H5T_FLOAT || !(sz == 4 || sz == 8)) {
        return pp_error(PP_ERR_INPUT,
                        "%s: '%s' should hold 4- or 8-byte floating-point values "
                        "(found class %d, %zu bytes)",
                        path, name, (int)cls, sz);
    }
    return pp_ok();
}

hid_t pp_h5_create_checksummed(hid_t loc, const char *name, hid_t ftype, int rank,
                               const hsize_t *dims)
{
    hid_t s = H5Screate_simple(rank, dims, NULL), p = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t total = 1;
    for (int i = 0; i < rank; i++) total *= dims[i];
    int rc = s >= 0 && p >= 0 ? 0 : -1;
    if (!rc && total > 0) {
        hsize_t chunk[2] = {dims[0], rank > 1 ? dims[1] : 1};
        while (chunk[0] > 1 && chunk[0] * chunk[1] > ((hsize_t)1 << 20))
            chunk[0] = (chunk[0] + 1) / 2;
        if (H5Pset_chunk(p, rank, chunk) < 0 || H5Pset_fletcher32(p) < 0) rc = -1;
    }
    hid_t d = rc ? -1 : H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, p, H5P_DEFAULT);
    pp_h5_close(p);
    pp_h5_close(s);
    return d;
}

int pp_h5_has_fletcher32(hid_t d)
{
    hid_t p = H5Dget_create_plist(d);
    if (p < 0) return 0;
    unsigned flags = 0;
    size_t nelem = 0;
    unsigned cfg = 0;
    int has =
        H5Pget_filter_by_id2(p, H5Z_FILTER_FLETCHER32, &flags, &nelem, NULL, 0, NULL, &cfg) >= 0;
    H5Pclose(p);
    return has;
}

pp_status pp_h5_check_chunks(hid_t d, const char *name, const char *path)
{
    pp_status st = pp_ok();
    hid_t p = H5Dget_create_plist(d), s = H5Dget_space(d);
    if (p < 0 || s < 0) {
        st = pp_error(PP_ERR_INPUT, "%s: '%s': cannot read its layout (damaged?)", path, name);
    } else if (H5Pget_layout(p) == H5D_CHUNKED) {
        hsize_t chunk[H5S_MAX_RANK], maxd[H5S_MAX_RANK];
        int rank = H5Pget_chunk(p, H5S_MAX_RANK, chunk);
        int srank = H5Sget_simple_extent_dims(s, NULL, maxd);
        if (rank < 1 || rank != srank)
            st = pp_error(PP_ERR_INPUT, "%s: '%s': damaged chunk layout (rank %d, dataset rank %d)",
                          path, name, rank, srank);
        for (int i = 0; !st.code && i < rank; i++)
            if (chunk[i] == 0 || (maxd[i] != H5S_UNLIMITED && chunk[i] > maxd[i]))
                st = pp_error(PP_ERR_INPUT,
                              "%s: '%s': damaged chunk layout (chunk extent %llu in dimension %d "
                              "of at most %llu)",
                              path, name, (unsigned long long)chunk[i], i,
                              (unsigned long long)maxd[i]);
    }
    pp_h5_close(s);
    pp_h5_close(p);
    return st;
}
