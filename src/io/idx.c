/* IDX files (MNIST, Fashion-MNIST), gzip'd or plain, read through zlib's gzread. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "paraprop/dataset.h"

/* Reads the header: magic (0, 0, type, ndims) then ndims big-endian uint32 extents. */
static pp_status read_header(gzFile g, const char *path, int want_dims, uint32_t *dims)
{
    unsigned char h[4];
    if (gzread(g, h, 4) != 4)
        return pp_error(PP_ERR_INPUT, "%s: too short for an IDX header (truncated?)", path);
    if (h[0] != 0 || h[1] != 0 || h[2] != 0x08 || h[3] != want_dims)
        return pp_error(PP_ERR_INPUT,
                        "%s: wrong magic number 0x%02x%02x%02x%02x; expected 0x000008%02x (IDX, "
                        "unsigned bytes, %d dimensions)",
                        path, h[0], h[1], h[2], h[3], want_dims, want_dims);
    for (int i = 0; i < want_dims; i++) {
        unsigned char b[4];
        if (gzread(g, b, 4) != 4)
            return pp_error(PP_ERR_INPUT, "%s: header ends early (truncated?)", path);
        dims[i] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    }
    return pp_ok();
}

static pp_status read_body(gzFile g, const char *path, void *buf, size_t bytes)
{
    size_t got = 0;
    while (got < bytes) {
        unsigned want = bytes - got > (1u << 30) ? (1u << 30) : (unsigned)(bytes - got);
        int r = gzread(g, (char *)buf + got, want);
        if (r <= 0) {
            int err = 0;
            const char *m = gzerror(g, &err);
            return pp_error(PP_ERR_INPUT, "%s: data ends after %zu of %zu bytes (%s)", path, got,
                            bytes, err ? m : "truncated");
        }
        got += (size_t)r;
    }
    return pp_ok();
}

pp_status pp_idx_read(const char *images, const char *labels, pp_data *out)
{
    memset(out, 0, sizeof *out);
    gzFile gi = gzopen(images, "rb"), gl = gzopen(labels, "rb");
    pp_status st = pp_ok();
    uint32_t di[3] = {0, 0, 0}, dl[1] = {0};
    if (!gi) {
        st = pp_error(PP_ERR_INPUT, "%s: cannot open the image file", images);
        goto done;
    }
    if (!gl) {
        st = pp_error(PP_ERR_INPUT, "%s: cannot open the label file", labels);
        goto done;
    }
    st = read_header(gi, images, 3, di);
    if (!st.code) st = read_header(gl, labels, 1, dl);
    if (st.code) goto done;
    if (di[0] != dl[0]) {
        st = pp_error(PP_ERR_INPUT, "%s has %u images but %s has %u labels", images, di[0], labels,
                      dl[0]);
        goto done;
    }
    if (di[0] == 0 || di[1] == 0 || di[2] == 0 || (uint64_t)di[1] * di[2] > (1u << 24)) {
        st = pp_error(PP_ERR_INPUT, "%s: implausible image dimensions %u × %u × %u", images, di[0],
                      di[1], di[2]);
        goto done;
    }
    size_t n = di[0], d = (size_t)di[1] * di[2];
    st = pp_data_alloc(out, n, d, 0, 1, 1);
    if (st.code) goto done;
    out->scale = 1.0 / 255.0;
    st = read_body(gi, images, out->u8, n * d);
    if (st.code) goto done;
    unsigned char *lb = malloc(n);
    if (!lb) {
        st = pp_error(PP_ERR_NOMEM, "cannot allocate %zu labels", n);
        goto done;
    }
    st = read_body(gl, labels, lb, n);
    int maxl = 1;
    for (size_t i = 0; !st.code && i < n; i++) {
        out->labels[i] = lb[i];
        if (lb[i] > maxl) maxl = lb[i];
    }
    free(lb);
    out->k = (size_t)maxl + 1;
    /* trailing bytes mean the header and the body disagree */
    char extra;
    if (!st.code && (gzread(gi, &extra, 1) > 0 || gzread(gl, &extra, 1) > 0))
        st = pp_error(PP_ERR_INPUT, "%s / %s: more data than the header announces", images, labels);
done:
    if (gi) gzclose(gi);
    if (gl) gzclose(gl);
    if (st.code) pp_data_free(out);
    return st;
}

/* Both files open, headers read and checked against each other: n samples of d bytes. */
static pp_status open_pair(const char *images, const char *labels, gzFile *gi, gzFile *gl,
                           size_t *n, size_t *d)
{
    uint32_t di[3] = {0, 0, 0}, dl[1] = {0};
    *gi = gzopen(images, "rb");
    *gl = gzopen(labels, "rb");
    if (!*gi) return pp_error(PP_ERR_INPUT, "%s: cannot open the image file", images);
    if (!*gl) return pp_error(PP_ERR_INPUT, "%s: cannot open the label file", labels);
    pp_status st = read_header(*gi, images, 3, di);
    if (!st.code) st = read_header(*gl, labels, 1, dl);
    if (st.code) return st;
    if (di[0] != dl[0])
        return pp_error(PP_ERR_INPUT, "%s has %u images but %s has %u labels", images, di[0],
                        labels, dl[0]);
    if (di[0] == 0 || di[1] == 0 || di[2] == 0 || (uint64_t)di[1] * di[2] > (1u << 24))
        return pp_error(PP_ERR_INPUT, "%s: implausible image dimensions %u × %u × %u", images,
                        di[0], di[1], di[2]);
    *n = di[0];
    *d = (size_t)di[1] * di[2];
    return pp_ok();
}

pp_status pp_idx_shape(const char *images, const char *labels, size_t *n, size_t *d)
{
    gzFile gi, gl;
    pp_status st = open_pair(images, labels, &gi, &gl, n, d);
    if (gi) gzclose(gi);
    if (gl) gzclose(gl);
    return st;
}

pp_status pp_idx_scan(const char *images, const char *labels, const pp_csv_sink *sink,
                      pp_data *shape)
{
    memset(shape, 0, sizeof *shape);
    gzFile gi, gl;
    size_t n = 0, d = 0;
    pp_status st = open_pair(images, labels, &gi, &gl, &n, &d);
    pp_data b;
    memset(&b, 0, sizeof b);
    size_t rows = sink->block_bytes / d ? sink->block_bytes / d : 1;
    if (rows > n) rows = n;
    if (!st.code) st = pp_data_alloc(&b, rows, d, 0, 1, 1);
    unsigned char *lb = st.code ? NULL : malloc(rows);
    if (!st.code && !lb) st = pp_error(PP_ERR_NOMEM, "cannot allocate %zu labels", rows);
    int maxl = 1;
    for (size_t first = 0; !st.code && first < n; first += b.n) {
        b.n = n - first < rows ? n - first : rows;
        b.scale = 1.0 / 255.0;
        st = read_body(gi, images, b.u8, b.n * d);
        if (!st.code) st = read_body(gl, labels, lb, b.n);
        for (size_t i = 0; !st.code && i < b.n; i++) {
            b.labels[i] = lb[i];
            if (lb[i] > maxl) maxl = lb[i];
        }
        if (!st.code) st = sink->rows(sink->ctx, &b, first);
    }
    char extra;
    if (!st.code && (gzread(gi, &extra, 1) > 0 || gzread(gl, &extra, 1) > 0))
        st = pp_error(PP_ERR_INPUT, "%s / %s: more data than the header announces", images, labels);
    if (!st.code) {
        shape->n = n;
        shape->d = d;
        shape->k = (size_t)maxl + 1;
        shape->scale = 1.0 / 255.0;
    }
    free(lb);
    pp_data_free(&b);
    if (gi) gzclose(gi);
    if (gl) gzclose(gl);
    return st;
}
