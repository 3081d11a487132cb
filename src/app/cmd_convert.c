/* `paraprop convert idx|csv`: writes the dataset format of docs/FORMATS.md. Serial. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "paraprop/dataset.h"

static const char *const USAGE =
    "usage: paraprop convert idx --train-images F --train-labels F [--test-images F\n"
    "                            --test-labels F] [--train-count N] [--validation-count N]\n"
    "                            -o|--output OUT.h5\n"
    "       paraprop convert csv --train F.csv [--test F.csv] [--label-column N] [--header]\n"
    "                            [--classes K | --target-columns LIST] [--train-count N]\n"
    "                            [--validation-count N] -o|--output OUT.h5\n"
    "IDX files may be gzip'd (MNIST, Fashion-MNIST); pixels are stored as uint8 with scale\n"
    "1/255 (values in [0, 1]). CSV: numbers separated by commas, one integer class label\n"
    "column (default 0; negative counts from the end), --header skips the first line.\n"
    "--target-columns LIST (e.g. 3 or -2,-1) makes a regression dataset instead: those\n"
    "columns are float targets (/train/targets), all the others inputs; no label column.\n"
    "Both: --train-count N keeps the first N training samples; --validation-count N moves\n"
    "the last N of them (after --train-count) into a /validation group, which 'paraprop\n"
    "train' then validates on (early stopping, --monitor, the plateau schedule).\n"
    "Rows are converted in blocks of 8 MiB: memory stays small whatever the input size.\n";

typedef struct conv_args {
    const char *ti, *tl, *si, *sl, *train, *test, *out, *targets;
    int label_col, header, label_given;
    long classes;
    long long train_count, val_count; /* 0: not given */
} conv_args;

/* Rows are read and written in blocks of about this many input bytes: convert's memory is a
 * few blocks and HDF5's chunk caches, whatever the size of its inputs (docs/DATA.md). */
#define BLOCK_BYTES ((size_t)8 << 20)

/* Where one input file's rows go: the first `keep` of its n rows (counted before) to group
 * `group` of the output, the next val->n to val's group (--validation-count), the rest nowhere
 * (--train-count). */
typedef struct block_sink {
    pp_dataset_writer *w;
    const char *group, *path;
    size_t n, keep, d, k;
    int started, targets;
    const struct block_sink *train; /* for the test set: the train set's shape */
    struct block_sink *val;         /* the validation rows' sink, or NULL */
} block_sink;

/* Rows [off, off + cnt) of block b, as a block of their own. */
static pp_data rows_of(const pp_data *b, size_t off, size_t cnt)
{
    pp_data v = *b;
    v.n = cnt;
    if (v.u8) v.u8 += off * b->d;
    if (v.f32) v.f32 += off * b->d;
    if (v.labels) v.labels += off;
    if (v.targets) v.targets += off * b->k;
    return v;
}

static pp_status sink_group(block_sink *s, const pp_data *b, size_t first);

static pp_status sink_rows(void *ctx, const pp_data *b, size_t first)
{
    block_sink *s = ctx;
    if (first + b->n > s->n)
        return pp_error(PP_ERR_INPUT,
                        "%s: more rows than the %zu counted at first (did it change "
                        "while being converted?)",
                        s->path, s->n);
    const size_t end = first + b->n;
    if (first < s->keep) {
        const size_t cnt = (end < s->keep ? end : s->keep) - first;
        pp_data part = rows_of(b, 0, cnt);
        PP_TRY(sink_group(s, &part, first));
    }
    if (s->val && end > s->keep && first < s->keep + s->val->n) {
        const size_t lo = first > s->keep ? first : s->keep;
        const size_t hi = end < s->keep + s->val->n ? end : s->keep + s->val->n;
        pp_data part = rows_of(b, lo - first, hi - lo);
        PP_TRY(sink_group(s->val, &part, lo - s->keep));
    }
    return pp_ok();
}

/* Rows of s's own group, opened on its first rows (after the group before it is complete: the
 * rows come in file order). */
static pp_status sink_group(block_sink *s, const pp_data *b, size_t first)
{
    if (!s->started) {
        const block_sink *t = s->train;
        if (t && s->targets && b->k != t->k)
            return pp_error(PP_ERR_INPUT, "%s has %zu targets per row but %s has %zu", t->path,
                            t->k, s->path, b->k);
        if (t && b->d != t->d)
            return pp_error(PP_ERR_INPUT, "%s has %zu inputs per row but %s has %zu", t->path, t->d,
                            s->path, b->d);
        s->d = b->d;
        s->k = b->k;
        PP_TRY(pp_dataset_writer_group(s->w, s->group, s->keep, b));
        s->started = 1;
    }
    return pp_dataset_writer_rows(s->w, first, b);
}

/* --train-count and --validation-count on the counted training rows: how many go where. */
static pp_status split_counts(const conv_args *a, block_sink *bs, block_sink *vs)
{
    bs->keep = bs->n;
    if (a->train_count) {
        if ((size_t)a->train_count > bs->n)
            return pp_error(PP_ERR_USAGE,
                            "--train-count %lld: the training file has only %zu samples",
                            a->train_count, bs->n);
        bs->keep = (size_t)a->train_count; /* the first N rows; the rest is never written */
    }
    if (a->val_count) {
        if ((size_t)a->val_count >= bs->keep)
            return pp_error(PP_ERR_USAGE,
                            "--validation-count %lld must leave training samples: there are %zu",
                            a->val_count, bs->keep);
        /* the last N, in order, as Nielsen's validation set is MNIST's last 10,000 */
        vs->n = vs->keep = (size_t)a->val_count;
        bs->keep -= vs->n;
        bs->val = vs;
    }
    return pp_ok();
}

/* After the scan: every counted row came. */
static pp_status scanned(const block_sink *s, size_t n)
{
    if (n != s->n)
        return pp_error(PP_ERR_INPUT,
                        "%s: %zu rows, but %zu were counted at first (did it change "
                        "while being converted?)",
                        s->path, n, s->n);
    return pp_ok();
}

static int parse(int argc, char **argv, int is_idx, conv_args *a, pp_status *st)
{
    static const char *const idx_only[] = {"--train-images", "--train-labels", "--test-images",
                                           "--test-labels"};
    static const char *const csv_only[] = {"--train",  "--test",    "--label-column",
                                           "--header", "--classes", "--target-columns"};
    memset(a, 0, sizeof *a);
    for (int i = 3; i < argc; i++) {
        const char *const *other = is_idx ? csv_only : idx_only;
        size_t n = is_idx ? 6 : 4;
        for (size_t j = 0; j < n; j++)
            if (strcmp(argv[i], other[j]) == 0) {
                *st = pp_error(PP_ERR_USAGE, "convert %s: option %s belongs to 'convert %s'",
                               is_idx ? "idx" : "csv", argv[i], is_idx ? "csv" : "idx");
                return -1;
            }
    }
    for (int i = 3; i < argc; i++) {
        const char *k = argv[i];
        if (strcmp(k, "--help") == 0) return 1;
        if (strcmp(k, "--header") == 0) {
            a->header = 1;
            continue;
        }
        if (i + 1 >= argc) {
            *st = pp_error(PP_ERR_USAGE, "%s needs a value", k);
            return -1;
        }
        const char *v = argv[++i];
        char *end;
        if (strcmp(k, "--train-images") == 0)
            a->ti = v;
        else if (strcmp(k, "--train-labels") == 0)
            a->tl = v;
        else if (strcmp(k, "--test-images") == 0)
            a->si = v;
        else if (strcmp(k, "--test-labels") == 0)
            a->sl = v;
        else if (strcmp(k, "--train") == 0)
            a->train = v;
        else if (strcmp(k, "--test") == 0)
            a->test = v;
        else if (strcmp(k, "-o") == 0 || strcmp(k, "--output") == 0)
            a->out = v;
        else if (strcmp(k, "--target-columns") == 0)
            a->targets = v;
        else if (strcmp(k, "--label-column") == 0) {
            a->label_given = 1;
            long x = strtol(v, &end, 10);
            if (*end || end == v || x < -100000 || x > 100000) {
                *st = pp_error(PP_ERR_USAGE, "--label-column: expected an integer, got '%s'", v);
                return -1;
            }
            a->label_col = (int)x;
        } else if (strcmp(k, "--train-count") == 0 || strcmp(k, "--validation-count") == 0) {
            long long x = strtoll(v, &end, 10);
            if (*end || end == v || x < 1) {
                *st = pp_error(PP_ERR_USAGE, "%s: expected a sample count ≥ 1, got '%s'", k, v);
                return -1;
            }
            *(k[2] == 't' ? &a->train_count : &a->val_count) = x;
        } else if (strcmp(k, "--classes") == 0) {
            a->classes = strtol(v, &end, 10);
            if (*end || end == v || a->classes < 2 || a->classes > (1 << 24)) {
                *st = pp_error(PP_ERR_USAGE, "--classes: expected an integer ≥ 2, got '%s'", v);
                return -1;
            }
        } else {
            *st = pp_error(PP_ERR_USAGE, "convert: unknown option '%s' (see --help)", k);
            return -1;
        }
    }
    return 0;
}

/* With the rows counted (bs->n, ts->n): where they go, and the output file opened. */
static pp_status open_sinks(const conv_args *a, const char *train_path, const char *test_path,
                            block_sink *bs, block_sink *ts, block_sink *vs, pp_dataset_writer **w)
{
    ts->keep = ts->n;
    PP_TRY(split_counts(a, bs, vs));
    PP_TRY(pp_dataset_writer_open(a->out, w));
    bs->w = ts->w = vs->w = *w;
    bs->group = "train";
    ts->group = "test";
    vs->group = "validation";
    bs->path = vs->path = train_path;
    ts->path = test_path;
    ts->train = bs;
    return pp_ok();
}

int cmd_convert(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[2], "idx") && strcmp(argv[2], "csv"))) {
        if (argc >= 3 && strcmp(argv[2], "--help") == 0) {
            fputs(USAGE, stdout);
            return 0;
        }
        fprintf(stderr, "paraprop: error: convert needs a format, 'idx' or 'csv'\n%s", USAGE);
        return 2;
    }
    int is_idx = strcmp(argv[2], "idx") == 0;
    conv_args a;
    pp_status st = pp_ok();
    int r = parse(argc, argv, is_idx, &a, &st);
    if (r > 0) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (r < 0) return cli_fail(NULL, st);
    if (!a.out) return cli_fail(NULL, pp_error(PP_ERR_USAGE, "convert: -o OUT.h5 is required"));
    pp_data train, test; /* shapes only: the rows go to the file block by block */
    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    int has_test = 0;
    char source[2048];
    pp_dataset_writer *w = NULL;
    block_sink bs = {0}, ts = {0}, vs = {0};
    const pp_csv_sink sink = {sink_rows, &bs, BLOCK_BYTES}, tsink = {sink_rows, &ts, BLOCK_BYTES};
    if (is_idx) {
        if (!a.ti || !a.tl)
            return cli_fail(NULL, pp_error(PP_ERR_USAGE, "convert idx: --train-images and "
                                                         "--train-labels are required"));
        if (!a.si != !a.sl)
            return cli_fail(NULL, pp_error(PP_ERR_USAGE, "convert idx: give both --test-images "
                                                         "and --test-labels, or neither"));
        has_test = a.si != NULL;
        size_t d = 0;
        st = pp_idx_shape(a.ti, a.tl, &bs.n, &d);
        if (!st.code && has_test) st = pp_idx_shape(a.si, a.sl, &ts.n, &d);
        if (!st.code) st = open_sinks(&a, a.ti, a.si, &bs, &ts, &vs, &w);
        if (!st.code) st = pp_idx_scan(a.ti, a.tl, &sink, &train);
        if (!st.code) st = scanned(&bs, train.n);
        if (!st.code && has_test) st = pp_idx_scan(a.si, a.sl, &tsink, &test);
        if (!st.code && has_test) st = scanned(&ts, test.n);
        if (!st.code && has_test) {
            /* both sets share the class count: the larger label range */
            size_t k = train.k > test.k ? train.k : test.k;
            train.k = test.k = k;
        }
        snprintf(source, sizeof source, "idx: %s", a.ti);
    } else {
        if (!a.train)
            return cli_fail(NULL, pp_error(PP_ERR_USAGE, "convert csv: --train FILE is required"));
        if (a.targets && (a.label_given || a.classes))
            return cli_fail(NULL, pp_error(PP_ERR_USAGE, "convert csv: --target-columns makes "
                                                         "targets instead of labels; it cannot "
                                                         "go with --label-column or --classes"));
        if (a.targets && !*a.targets)
            return cli_fail(NULL, pp_error(PP_ERR_USAGE, "--target-columns: the list is empty"));
        has_test = a.test != NULL;
        st = pp_csv_count_rows(a.train, a.header, &bs.n);
        if (!st.code && has_test) st = pp_csv_count_rows(a.test, a.header, &ts.n);
        if (!st.code) st = open_sinks(&a, a.train, a.test, &bs, &ts, &vs, &w);
        ts.targets = bs.targets = a.targets != NULL;
        if (!st.code)
            st = pp_csv_scan(a.train, a.label_col, a.targets, a.header, (size_t)a.classes, &sink,
                             &train);
        if (!st.code) st = scanned(&bs, train.n);
        if (!st.code && has_test)
            st = pp_csv_scan(a.test, a.label_col, a.targets, a.header, (size_t)a.classes, &tsink,
                             &test);
        if (!st.code && has_test) st = scanned(&ts, test.n);
        if (!st.code && has_test) {
            size_t k = train.k > test.k ? train.k : test.k;
            train.k = test.k = k;
        }
        snprintf(source, sizeof source, "csv: %s", a.train);
    }
    if (!st.code) {
        st = pp_dataset_writer_finish(w, bs.targets ? 0 : (int64_t)train.k, source);
        w = NULL;
    }
    pp_dataset_writer_discard(w);
    if (!st.code) {
        char tests[96] = "";
        if (has_test) snprintf(tests, sizeof tests, ", %zu test samples", test.n);
        if (a.val_count)
            snprintf(tests + strlen(tests), sizeof tests - strlen(tests),
                     ", %zu validation samples", vs.n);
        printf("wrote %s: %zu training samples%s, %zu inputs, %zu %s\n", a.out, bs.keep, tests,
               train.d, train.k, bs.targets ? "targets" : "classes");
    }
    return st.code ? cli_fail(NULL, st) : 0;
}
