/* `paraprop predict`: a model's outputs for every row of a dataset split or a CSV file, through
 * the inference API (paraprop/model.h), so they are the bits a program calling it would get.
 * Serial: no MPI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "paraprop/dataset.h"
#include "paraprop/model.h"
#include "paraprop/precision.h"
#include "paraprop/predictions.h"

static const char *const USAGE =
    "usage: paraprop predict --model FILE.h5 (--data D.h5 [--split test|train] |\n"
    "                        --csv F.csv [--header] [--target-columns LIST])\n"
    "                        -o|--output OUT.csv|OUT.h5 [--classes]\n"
    "Writes the model's outputs for every row (any checkpoint or final.h5 is a model; it is\n"
    "verified first). --data reads a dataset split (default test) and feeds the network what\n"
    "training does (uint8 inputs × scale); --csv reads rows of numbers, all of them inputs except\n"
    "the --target-columns (as in 'convert csv', so the same file works for both). --classes adds\n"
    "the predicted class (the largest output) and its value (the probability with softmax).\n"
    "OUT.csv: a header line, then one line per row, floats with %.9g (they read back exactly);\n"
    "OUT.h5: /outputs [N, K] float32, /class, /probability (docs/INFERENCE.md).\n";

typedef struct pred_args {
    const char *model, *data, *split, *csv, *targets, *out;
    int header, classes;
} pred_args;

static int parse(int argc, char **argv, pred_args *a, pp_status *st)
{
    memset(a, 0, sizeof *a);
    a->split = "test";
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i];
        if (strcmp(k, "--help") == 0 || strcmp(k, "-h") == 0) return 1;
        if (strcmp(k, "--header") == 0) {
            a->header = 1;
            continue;
        }
        if (strcmp(k, "--classes") == 0) {
            a->classes = 1;
            continue;
        }
        const char **dst = strcmp(k, "--model") == 0                            ? &a->model
                           : strcmp(k, "--data") == 0                           ? &a->data
                           : strcmp(k, "--split") == 0                          ? &a->split
                           : strcmp(k, "--csv") == 0                            ? &a->csv
                           : strcmp(k, "--target-columns") == 0                 ? &a->targets
                           : strcmp(k, "-o") == 0 || strcmp(k, "--output") == 0 ? &a->out
                                                                                : NULL;
        if (!dst) {
            *st = pp_error(PP_ERR_USAGE, "predict: unknown option '%s' (see --help)", k);
            return -1;
        }
        if (i + 1 >= argc) {
            *st = pp_error(PP_ERR_USAGE, "%s needs a value", k);
            return -1;
        }
        *dst = argv[++i];
    }
    const char *why = !a->model             ? "--model FILE is required"
                      : !a->data == !a->csv ? "give --data or --csv"
                      : !a->out             ? "-o OUT.csv|OUT.h5 is required"
                      : strcmp(a->split, "test") && strcmp(a->split, "train")
                          ? "--split must be test or train"
                      : a->data && (a->header || a->targets) ? "--header and --target-columns go "
                                                               "with --csv"
                                                             : NULL;
    if (why) {
        *st = pp_error(PP_ERR_USAGE, "predict: %s", why);
        return -1;
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The network's input rows as pp_model_predict takes them: float32 as stored, or uint8 × scale
 * computed exactly as the minibatch assembly does (pp_data_gather). */
static pp_status load_inputs(const pred_args *a, size_t *n, size_t *d, float **x)
{
    pp_data data;
    pp_status st;
    if (a->csv) {
        st = pp_csv_read_targets(a->csv, a->targets, a->header, &data);
    } else {
        pp_dataset_info info;
        PP_TRY(pp_dataset_probe(a->data, &info));
        int train = strcmp(a->split, "train") == 0;
        if (!train && !info.has_test)
            return pp_error(PP_ERR_INPUT, "%s has no /test group; use --split train", a->data);
        st = pp_dataset_read(a->data, a->split, NULL, 0, train ? info.n_train : info.n_test, &data);
    }
    if (st.code) return st;
    *n = data.n;
    *d = data.d;
    if (data.f32) {
        *x = data.f32;
        data.f32 = NULL;
    } else {
        const size_t cnt = data.n * data.d;
        *x = malloc((cnt ? cnt : 1) * sizeof **x);
        if (!*x) st = pp_error(PP_ERR_NOMEM, "out of memory for %zu inputs", data.n * data.d);
        const pp_real scale = (pp_real)data.scale;
        for (size_t i = 0; !st.code && i < data.n * data.d; i++)
            (*x)[i] = (float)((pp_real)data.u8[i] * scale);
    }
    pp_data_free(&data);
    return st;
}

static pp_status write_csv(const char *path, const pp_model *m, size_t n, const float *y,
                           int classes)
{
    const size_t k = pp_model_outputs(m);
    FILE *f = fopen(path, "w");
    if (!f) return pp_error(PP_ERR_WRITE, "%s: cannot create the file", path);
    for (size_t j = 0; j < k; j++) fprintf(f, "%soutput_%zu", j ? "," : "", j);
    fputs(classes ? ",class,probability\n" : "\n", f);
    for (size_t i = 0; i < n; i++) {
        const float *row = y + i * k;
        for (size_t j = 0; j < k; j++) fprintf(f, "%s%.9g", j ? "," : "", (double)row[j]);
        if (classes) {
            size_t c = pp_model_argmax(m, row);
            fprintf(f, ",%zu,%.9g", c, (double)row[c]);
        }
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (bad) {
        remove(path);
        return pp_error(PP_ERR_WRITE, "%s: writing failed", path);
    }
    return pp_ok();
}

static pp_status write_h5(const char *path, const pred_args *a, const pp_model *m, size_t n,
                          const float *y)
{
    const size_t k = pp_model_outputs(m);
    int32_t *cls = NULL;
    float *prob = NULL;
    if (a->classes) {
        cls = malloc((n ? n : 1) * sizeof *cls);
        prob = malloc((n ? n : 1) * sizeof *prob);
        if (!cls || !prob) {
            free(cls);
            free(prob);
            return pp_error(PP_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            size_t c = pp_model_argmax(m, y + i * k);
            cls[i] = (int32_t)c;
            prob[i] = y[i * k + c];
        }
    }
    pp_status st =
        pp_predictions_write(path, n, k, y, cls, prob, a->model, pp_model_fingerprint(m));
    free(cls);
    free(prob);
    return st;
}

int cmd_predict(int argc, char **argv)
{
    pred_args a;
    pp_status st = pp_ok();
    int r = parse(argc, argv, &a, &st);
    if (r > 0) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (r < 0) return cli_fail(NULL, st);
    int h5 = ends_with(a.out, ".h5");
    if (!h5 && !ends_with(a.out, ".csv"))
        return cli_fail(NULL, pp_error(PP_ERR_USAGE,
                                       "predict: -o must end in .csv or .h5, got "
                                       "'%s'",
                                       a.out));
    pp_model *m = NULL;
    float *x = NULL, *y = NULL;
    size_t n = 0, d = 0;
    st = pp_model_load(a.model, &m);
    if (!st.code) st = load_inputs(&a, &n, &d, &x);
    if (!st.code && d != pp_model_inputs(m))
        st = pp_error(PP_ERR_INPUT, "%s has %zu inputs per row but the model %s takes %zu",
                      a.csv ? a.csv : a.data, d, a.model, pp_model_inputs(m));
    if (!st.code) {
        y = malloc((n ? n : 1) * pp_model_outputs(m) * sizeof *y);
        if (!y) st = pp_error(PP_ERR_NOMEM, "out of memory for %zu outputs", n);
    }
    if (!st.code) st = pp_model_predict(m, x, n, y);
    if (!st.code) st = h5 ? write_h5(a.out, &a, m, n, y) : write_csv(a.out, m, n, y, a.classes);
    if (!st.code)
        printf("wrote %s: %zu rows × %zu outputs (model %s, fingerprint %s)\n", a.out, n,
               pp_model_outputs(m), a.model, pp_model_fingerprint(m));
    free(x);
    free(y);
    pp_model_free(m);
    return st.code ? cli_fail(NULL, st) : 0;
}
