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
    "train' then validates on (early stopping, --monitor, the plateau schedule).\n";

typedef struct conv_args {
    const char *ti, *tl, *si, *sl, *train, *test, *out, *targets;
    int label_col, header, label_given;
    long classes;
    long long train_count, val_count; /* 0: not given */
} conv_args;

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
    pp_data train, test;
    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    int has_test = 0;
    char source[2048];
    if (is_idx) {
        if (!a.ti || !a.tl)
            return cli_fail(NULL, pp_error(PP_ERR_USAGE, "convert idx: --train-images and "
                                                         "--train-labels are required"));
        if (!a.si != !a.sl)
            return cli_fail(NULL, pp_error(PP_ERR_USAGE, "convert idx: give both --test-images "
                                                         "and --test-labels, or neither"));
        st = pp_idx_read(a.ti, a.tl, &train);
        if (!st.code && a.si) {
            has_test = 1;
            st = pp_idx_read(a.si, a.sl, &test);
        }
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
        if (a.targets)
            st = pp_csv_read_targets(a.train, a.targets, a.header, &train);
        else
            st = pp_csv_read(a.train, a.label_col, a.header, (size_t)a.classes, &train);
        if (!st.code && a.test) {
            has_test = 1;
            if (a.targets)
                st = pp_csv_read_targets(a.test, a.targets, a.header, &test);
            else
                st = pp_csv_read(a.test, a.label_col, a.header, (size_t)a.classes, &test);
        }
        if (!st.code && has_test && a.targets && train.k != test.k)
            st = pp_error(PP_ERR_INPUT, "%s has %zu targets per row but %s has %zu", a.train,
                          train.k, a.test, test.k);
        if (!st.code && has_test) {
            size_t k = train.k > test.k ? train.k : test.k;
            train.k = test.k = k;
            if (train.d != test.d)
                st = pp_error(PP_ERR_INPUT, "%s has %zu inputs per row but %s has %zu", a.train,
                              train.d, a.test, test.d);
        }
        snprintf(source, sizeof source, "csv: %s", a.train);
    }
    pp_data val;
    memset(&val, 0, sizeof val);
    if (!st.code && a.train_count) {
        if ((size_t)a.train_count > train.n)
            st =
                pp_error(PP_ERR_USAGE, "--train-count %lld: the training file has only %zu samples",
                         a.train_count, train.n);
        else
            train.n = (size_t)a.train_count; /* the first N rows; the rest is never written */
    }
    if (!st.code && a.val_count) {
        if ((size_t)a.val_count >= train.n)
            st = pp_error(PP_ERR_USAGE,
                          "--validation-count %lld must leave training samples: there are %zu",
                          a.val_count, train.n);
        if (!st.code)
            st = pp_data_alloc(&val, (size_t)a.val_count, train.d, train.k, train.u8 != NULL,
                               train.labels != NULL);
        if (!st.code) {
            /* the last N, in order, as Nielsen's validation set is MNIST's last 10,000 */
            size_t lo = train.n - val.n;
            val.scale = train.scale;
            if (train.u8) memcpy(val.u8, train.u8 + lo * train.d, val.n * train.d);
            if (train.f32) memcpy(val.f32, train.f32 + lo * train.d, val.n * train.d * 4);
            if (train.labels) memcpy(val.labels, train.labels + lo, val.n * sizeof *val.labels);
            if (train.targets)
                memcpy(val.targets, train.targets + lo * train.k, val.n * train.k * 4);
            train.n = lo;
        }
    }
    if (!st.code)
        st = pp_dataset_write_splits(a.out, &train, has_test ? &test : NULL,
                                     a.val_count ? &val : NULL, source);
    if (!st.code) {
        char tests[96] = "";
        if (has_test) snprintf(tests, sizeof tests, ", %zu test samples", test.n);
        if (a.val_count)
            snprintf(tests + strlen(tests), sizeof tests - strlen(tests),
                     ", %zu validation samples", val.n);
        printf("wrote %s: %zu training samples%s, %zu inputs, %zu %s\n", a.out, train.n, tests,
               train.d, train.k, train.labels ? "classes" : "targets");
    }
    pp_data_free(&train);
    pp_data_free(&test);
    pp_data_free(&val);
    return st.code ? cli_fail(NULL, st) : 0;
}
