/* CSV input: one sample per line, numeric columns, an integer class label column or float
 * target columns. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paraprop/dataset.h"

/* Splits a line in place at commas; returns the number of fields (≤ max). */
static size_t split_fields(char *line, char **f, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        if (n == max) return max + 1;
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

/* strtod's result for the plain decimals CSVs are made of ([+-]digits[.digits][e[+-]digits]),
 * without strtod: half of a conversion's time was strtod (73 MB/s over a 28-column CSV). When
 * the significant digits form an integer w <= 2^53 and the power of ten p has |p| <= 22, both
 * are exact doubles, so w * 10^p (or w / 10^-p) is one correctly rounded operation: the double
 * strtod returns (Clinger's fast path), bit for bit. Anything else (more digits, larger
 * exponents, inf, nan, hex) returns NULL and goes to strtod. */
static const char *parse_plain(const char *s, double *v)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    uint64_t w = 0;
    int digits = 0, seen = 0, dot = 0; /* significant digits in w; any digit; past the '.' */
    long exp10 = 0;
    for (;; p++) {
        if (*p == '.' && !dot) {
            dot = 1;
            continue;
        }
        if (*p < '0' || *p > '9') break;
        seen = 1;
        exp10 -= dot;                      /* a fraction digit scales w by 10 */
        if (w == 0 && *p == '0') continue; /* leading zeros */
        if (++digits > 19) return NULL;
        w = w * 10 + (uint64_t)(*p - '0');
    }
    if (!seen) return NULL;
    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1;
        int eneg = 0;
        if (*q == '+' || *q == '-') eneg = *q++ == '-';
        if (!(*q >= '0' && *q <= '9')) return NULL; /* "1e": strtod's business */
        long e = 0;
        for (; *q >= '0' && *q <= '9'; q++)
            if (e < 100000) e = e * 10 + (*q - '0');
        exp10 += eneg ? -e : e;
        p = q;
    }
    if (w > ((uint64_t)1 << 53) || exp10 < -22 || exp10 > 22)
        return w ? NULL : (*v = neg ? -0.0 : 0.0, p);
    double d = (double)w;
    d = exp10 < 0 ? d / pow10[-exp10] : d * pow10[exp10];
    *v = neg ? -d : d;
    return p;
}

static int parse_double(const char *s, double *v)
{
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return -1;
    errno = 0;
    const char *end = parse_plain(s, v);
    if (!end || !(*end == '\0' || *end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')) {
        char *e; /* not plain, or more follows ("0x1p3"): strtod decides, as it always did */
        *v = strtod(s, &e);
        end = e;
    }
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n') end++;
    /* values are stored as float32: beyond its range they would become inf */
    return (*end || errno == ERANGE || !isfinite(*v) || !isfinite((float)*v)) ? -1 : 0;
}

/* The next non-empty data line of fp into *line, without its line end: its length, 0 at the
 * end of the file, or -1 with *st set (a NUL byte: not a text CSV). Skips the header line. */
static ssize_t next_row(FILE *fp, char **line, size_t *cap, int header, size_t *lineno,
                        const char *path, pp_status *st)
{
    ssize_t len;
    while ((len = getline(line, cap, fp)) >= 0) {
        ++*lineno;
        if (header && *lineno == 1) continue;
        char *l = *line;
        while (len > 0 && (l[len - 1] == '\n' || l[len - 1] == '\r')) l[--len] = '\0';
        if (strlen(l) != (size_t)len) {
            *st = pp_error(PP_ERR_INPUT, "%s:%zu: the line contains a NUL byte (not a text CSV?)",
                           path, *lineno);
            return -1;
        }
        if (len > 0) return len;
    }
    return 0;
}

/* The rows so far as a block for the sink (block mode): rows [first, first + n). */
static pp_status flush_block(const pp_csv_sink *sink, size_t *first, size_t *n, size_t d, size_t k,
                             float *vals, int32_t *labs, float *tgts)
{
    if (!*n) return pp_ok();
    pp_data b;
    memset(&b, 0, sizeof b);
    b.n = *n;
    b.d = d;
    b.k = k;
    b.scale = 1.0;
    b.f32 = vals;
    b.labels = labs;
    b.targets = tgts;
    pp_status st = sink->rows(sink->ctx, &b, *first);
    *first += *n;
    *n = 0;
    return st;
}

/* Rows a block of sink mode holds: its bytes, at least one row. */
static size_t block_rows(const pp_csv_sink *sink, size_t row_bytes)
{
    size_t r = sink->block_bytes / (row_bytes ? row_bytes : 1);
    return r ? r : 1;
}

static pp_status csv_labels(const char *path, int label_col, int header, size_t classes,
                            pp_data *out, const pp_csv_sink *sink)
{
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "r");
    if (!fp) return pp_error(PP_ERR_INPUT, "%s: cannot open the CSV file", path);
    pp_status st = pp_ok();
    char *line = NULL;
    size_t cap = 0, ncols = 0, n = 0, rows_cap = 0, lineno = 0;
    float *vals = NULL;
    int32_t *labs = NULL;
    char **f = NULL;
    ssize_t len;
    int maxl = 1;
    size_t first = 0, block = 0; /* block mode: rows handed to the sink, rows per block */
    while ((len = next_row(fp, &line, &cap, header, &lineno, path, &st)) > 0) {
        if (!f) {
            size_t commas = 0;
            for (char *p = line; *p; p++) commas += *p == ',';
            ncols = commas + 1;
            if (ncols < 2) {
                st = pp_error(PP_ERR_INPUT, "%s:%zu: need at least 2 columns (inputs and a label)",
                              path, lineno);
                goto done;
            }
            f = malloc(ncols * sizeof *f);
            if (!f) {
                st = pp_error(PP_ERR_NOMEM, "out of memory");
                goto done;
            }
            if (sink) block = block_rows(sink, ncols * sizeof(float));
        }
        size_t nf = split_fields(line, f, ncols);
        if (nf != ncols) {
            st = pp_error(PP_ERR_INPUT, "%s:%zu: %s columns; the first row has %zu", path, lineno,
                          nf > ncols ? "more" : "fewer", ncols);
            goto done;
        }
        size_t lc = label_col < 0 ? ncols - (size_t)(-label_col) : (size_t)label_col;
        if ((label_col < 0 && (size_t)(-label_col) > ncols) || lc >= ncols) {
            st = pp_error(PP_ERR_USAGE, "%s: --label-column %d is outside the %zu columns", path,
                          label_col, ncols);
            goto done;
        }
        if (n == rows_cap) {
            rows_cap = rows_cap ? 2 * rows_cap : 1024;
            if (block && rows_cap > block) rows_cap = block;
            float *nv = realloc(vals, rows_cap * (ncols - 1) * sizeof *vals);
            int32_t *nl = realloc(labs, rows_cap * sizeof *labs);
            if (nv) vals = nv;
            if (nl) labs = nl;
            if (!nv || !nl) {
                st = pp_error(PP_ERR_NOMEM, "out of memory reading %s", path);
                goto done;
            }
        }
        size_t k = 0;
        for (size_t c = 0; c < ncols; c++) {
            double v;
            if (parse_double(f[c], &v) != 0) {
                st = pp_error(
                    PP_ERR_INPUT,
                    "%s:%zu: column %zu ('%.40s') is not a number within the float32 range", path,
                    lineno, c, f[c]);
                goto done;
            }
            if (c == lc) {
                if (v != floor(v) || v < 0 || v > 1e7) {
                    st = pp_error(PP_ERR_INPUT,
                                  "%s:%zu: label '%.40s' should be a class number 0, 1, 2, …", path,
                                  lineno, f[c]);
                    goto done;
                }
                labs[n] = (int32_t)v;
                if (labs[n] > maxl) maxl = labs[n];
            } else {
                vals[n * (ncols - 1) + k++] = (float)v;
            }
        }
        n++;
        if (block && n == block) {
            st = flush_block(sink, &first, &n, ncols - 1, 0, vals, labs, NULL);
            if (st.code) goto done;
        }
    }
    if (st.code) goto done; /* next_row met a NUL byte */
    if (sink) {
        st = flush_block(sink, &first, &n, ncols - 1, 0, vals, labs, NULL);
        if (st.code) goto done;
        n = first;
    }
    if (n == 0) {
        st = pp_error(PP_ERR_INPUT, "%s: no data rows", path);
        goto done;
    }
    size_t k = classes ? classes : (size_t)maxl + 1;
    if ((size_t)maxl >= k) {
        st = pp_error(PP_ERR_INPUT, "%s: label %d is out of range for %zu classes", path, maxl, k);
        goto done;
    }
    memset(out, 0, sizeof *out);
    out->n = n;
    out->d = ncols - 1;
    out->k = k;
    out->scale = 1.0;
    if (!sink) {
        out->f32 = vals;
        out->labels = labs;
        vals = NULL;
        labs = NULL;
    }
done:
    free(line);
    free(f);
    free(vals);
    free(labs);
    fclose(fp);
    return st;
}

/* Parses "3,-1" into indices; returns the count or -1. */
static int parse_columns(const char *s, long *cols, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < -1000000 || v > 1000000 || n == max) return -1;
        cols[n++] = v;
        if (*end == ',')
            p = end + 1;
        else if (*end == '\0')
            p = end;
        else
            return -1;
        if (*end == ',' && !*p) return -1;
    }
    return n;
}

static pp_status csv_targets(const char *path, const char *target_columns, int header, pp_data *out,
                             const pp_csv_sink *sink)
{
    enum { MAXT = 4096 };
    memset(out, 0, sizeof *out);
    long *spec = malloc(MAXT * sizeof *spec);
    if (!spec) return pp_error(PP_ERR_NOMEM, "out of memory");
    int nspec = target_columns ? parse_columns(target_columns, spec, MAXT) : 0;
    if (nspec < 0) {
        free(spec);
        return pp_error(PP_ERR_USAGE,
                        "--target-columns: expected column numbers separated by commas (0-based, "
                        "negative from the end), got '%s'",
                        target_columns);
    }
    FILE *fp = fopen(path, "r");
    if (!fp) {
        free(spec);
        return pp_error(PP_ERR_INPUT, "%s: cannot open the CSV file", path);
    }
    pp_status st = pp_ok();
    char *line = NULL;
    size_t cap = 0, ncols = 0, n = 0, rows_cap = 0, lineno = 0, nt = (size_t)nspec, ni = 0;
    float *vals = NULL, *tgts = NULL;
    char **f = NULL;
    unsigned char *is_target = NULL;
    ssize_t len;
    size_t first = 0, block = 0; /* block mode: rows handed to the sink, rows per block */
    while ((len = next_row(fp, &line, &cap, header, &lineno, path, &st)) > 0) {
        if (!f) {
            size_t commas = 0;
            for (char *p = line; *p; p++) commas += *p == ',';
            ncols = commas + 1;
            f = malloc(ncols * sizeof *f);
            is_target = calloc(ncols, 1);
            if (!f || !is_target) {
                st = pp_error(PP_ERR_NOMEM, "out of memory");
                goto done;
            }
            for (size_t i = 0; i < nt; i++) {
                long c = spec[i] < 0 ? (long)ncols + spec[i] : spec[i];
                if (c < 0 || (size_t)c >= ncols) {
                    st = pp_error(PP_ERR_USAGE,
                                  "%s: --target-columns %ld is outside the %zu columns", path,
                                  spec[i], ncols);
                    goto done;
                }
                if (is_target[c]) {
                    st = pp_error(PP_ERR_USAGE, "%s: --target-columns names column %ld twice", path,
                                  c);
                    goto done;
                }
                is_target[c] = 1;
            }
            ni = ncols - nt;
            if (ni == 0) {
                st = pp_error(PP_ERR_USAGE,
                              "%s: every one of the %zu columns is a target: no inputs", path,
                              ncols);
                goto done;
            }
            if (sink) block = block_rows(sink, ncols * sizeof(float));
        }
        size_t nf = split_fields(line, f, ncols);
        if (nf != ncols) {
            st = pp_error(PP_ERR_INPUT, "%s:%zu: %s columns; the first row has %zu", path, lineno,
                          nf > ncols ? "more" : "fewer", ncols);
            goto done;
        }
        if (n == rows_cap) {
            rows_cap = rows_cap ? 2 * rows_cap : 1024;
            if (block && rows_cap > block) rows_cap = block;
            float *nv = realloc(vals, rows_cap * ni * sizeof *vals);
            if (nv) vals = nv;
            float *ntg = nv ? realloc(tgts, rows_cap * (nt ? nt : 1) * sizeof *tgts) : NULL;
            if (ntg) tgts = ntg;
            if (!nv || !ntg) {
                st = pp_error(PP_ERR_NOMEM, "out of memory reading %s", path);
                goto done;
            }
        }
        size_t ki = 0, kt = 0;
        for (size_t c = 0; c < ncols; c++) {
            double v;
            if (parse_double(f[c], &v) != 0) {
                st = pp_error(
                    PP_ERR_INPUT,
                    "%s:%zu: column %zu ('%.40s') is not a number within the float32 range", path,
                    lineno, c, f[c]);
                goto done;
            }
            if (is_target[c])
                tgts[n * nt + kt++] = (float)v;
            else
                vals[n * ni + ki++] = (float)v;
        }
        n++;
        if (block && n == block) {
            st = flush_block(sink, &first, &n, ni, nt, vals, NULL, tgts);
            if (st.code) goto done;
        }
    }
    if (st.code) goto done; /* next_row met a NUL byte */
    if (sink) {
        st = flush_block(sink, &first, &n, ni, nt, vals, NULL, tgts);
        if (st.code) goto done;
        n = first;
    }
    if (n == 0) {
        st = pp_error(PP_ERR_INPUT, "%s: no data rows", path);
        goto done;
    }
    out->n = n;
    out->d = ni;
    out->k = nt;
    out->scale = 1.0;
    if (!sink) {
        out->f32 = vals;
        out->targets = tgts;
        vals = NULL;
        tgts = NULL;
    }
done:
    free(line);
    free(f);
    free(is_target);
    free(vals);
    free(tgts);
    free(spec);
    fclose(fp);
    return st;
}

pp_status pp_csv_read(const char *path, int label_col, int header, size_t classes, pp_data *out)
{
    return csv_labels(path, label_col, header, classes, out, NULL);
}

pp_status pp_csv_read_targets(const char *path, const char *target_columns, int header,
                              pp_data *out)
{
    return csv_targets(path, target_columns, header, out, NULL);
}

pp_status pp_csv_scan(const char *path, int label_col, const char *target_columns, int header,
                      size_t classes, const pp_csv_sink *sink, pp_data *shape)
{
    return target_columns ? csv_targets(path, target_columns, header, shape, sink)
                          : csv_labels(path, label_col, header, classes, shape, sink);
}

pp_status pp_csv_count_rows(const char *path, int header, size_t *rows)
{
    *rows = 0;
    FILE *fp = fopen(path, "r");
    if (!fp) return pp_error(PP_ERR_INPUT, "%s: cannot open the CSV file", path);
    /* a row is a line with something besides its line end (next_row skips the others) */
    enum { BUF = 1 << 16 };
    char *buf = malloc(BUF);
    if (!buf) {
        fclose(fp);
        return pp_error(PP_ERR_NOMEM, "out of memory");
    }
    size_t n = 0, lines = 0, got;
    int content = 0;
    while ((got = fread(buf, 1, BUF, fp)) > 0)
        for (size_t i = 0; i < got; i++) {
            char c = buf[i];
            if (c == '\n') {
                if (content && !(header && lines == 0)) n++;
                lines++;
                content = 0;
            } else if (c != '\r') {
                content = 1;
            }
        }
    if (content && !(header && lines == 0)) n++;
    int bad = ferror(fp);
    free(buf);
    fclose(fp);
    if (bad) return pp_error(PP_ERR_INPUT, "%s: read error", path);
    *rows = n;
    return pp_ok();
}
