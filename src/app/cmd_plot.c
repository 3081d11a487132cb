/* `paraprop plot RUN_DIR`: the training curves of metrics.jsonl as one SVG file, written in C
 * so that it works wherever paraprop runs (no gnuplot, no Python). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *const USAGE =
    "usage: paraprop plot RUN_DIR [-o|--output FILE.svg]\n"
    "Draws the per-epoch curves of RUN_DIR/metrics.jsonl into an SVG image (default\n"
    "RUN_DIR/curves.svg): loss (train, test, validation), accuracy (test, validation) and the\n"
    "learning rate η, one panel each, epochs on the x axis. Open it in any browser.\n";

enum { C_TRAIN, C_TEST, C_VAL, C_TEST_ACC, C_VAL_ACC, C_LR, NCOL };
static const char *const KEYS[NCOL] = {"train_loss",    "test_loss",    "val_loss",
                                       "test_accuracy", "val_accuracy", "lr"};
static const char *const LABELS[NCOL] = {"train loss",    "test loss",           "validation loss",
                                         "test accuracy", "validation accuracy", "learning rate"};
static const char *const COLOURS[NCOL] = {"#1f77b4", "#d62728", "#2ca02c",
                                          "#d62728", "#2ca02c", "#9467bd"};

typedef struct series {
    double *epoch, *v[NCOL]; /* NaN: absent on that line */
    size_t n, cap;
} series;

/* The number after "key": on a JSON line, or NaN (absent or null). */
static double field(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(line, pat);
    if (!p) return NAN;
    char *end;
    double v = strtod(p + strlen(pat), &end);
    return end == p + strlen(pat) ? NAN : v;
}

static int push(series *s, const char *line)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        double *e = realloc(s->epoch, cap * sizeof *e);
        if (!e) return -1;
        s->epoch = e;
        for (int c = 0; c < NCOL; c++) {
            double *v = realloc(s->v[c], cap * sizeof *v);
            if (!v) return -1;
            s->v[c] = v;
        }
        s->cap = cap;
    }
    s->epoch[s->n] = field(line, "epoch");
    for (int c = 0; c < NCOL; c++) s->v[c][s->n] = field(line, KEYS[c]);
    s->n++;
    return 0;
}

/* One panel: the columns cols[0…nc) against the epoch, in the box (x0, y0, w, h). */
static void panel(FILE *f, const series *s, const int *cols, int nc, double x0, double y0, double w,
                  double h, const char *title)
{
    double lo = HUGE_VAL, hi = -HUGE_VAL, e0 = s->epoch[0], e1 = s->epoch[s->n - 1];
    for (int i = 0; i < nc; i++)
        for (size_t j = 0; j < s->n; j++) {
            double v = s->v[cols[i]][j];
            if (isfinite(v)) lo = v < lo ? v : lo, hi = v > hi ? v : hi;
        }
    fprintf(f, "<g class=\"panel\" id=\"%s\">\n", title);
    fprintf(f,
            "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#888\"/>\n",
            x0, y0, w, h);
    fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"14\" font-weight=\"bold\">%s</text>\n", x0,
            y0 - 8, title);
    if (!(lo <= hi)) {
        fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"12\">no data</text>\n</g>\n", x0 + 10,
                y0 + h / 2);
        return;
    }
    if (hi - lo < 1e-12 * (fabs(hi) + 1))
        lo -= 0.5 * (fabs(lo) + 1e-3), hi += 0.5 * (fabs(hi) + 1e-3);
    if (e1 <= e0) e1 = e0 + 1;
    /* axis labels: the range of each axis */
    fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"11\" text-anchor=\"end\">%.4g</text>\n", x0 - 4,
            y0 + 10, hi);
    fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"11\" text-anchor=\"end\">%.4g</text>\n", x0 - 4,
            y0 + h, lo);
    fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"11\">epoch %.0f</text>\n", x0, y0 + h + 14, e0);
    fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"11\" text-anchor=\"end\">epoch %.0f</text>\n",
            x0 + w, y0 + h + 14, e1);
    for (int i = 0; i < nc; i++) {
        const int c = cols[i];
        size_t have = 0;
        for (size_t j = 0; j < s->n; j++) have += isfinite(s->v[c][j]) != 0;
        if (!have) continue;
        fprintf(f,
                "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
                KEYS[c], COLOURS[c]);
        for (size_t j = 0; j < s->n; j++) {
            double v = s->v[c][j];
            if (!isfinite(v)) continue;
            fprintf(f, "%.2f,%.2f ", x0 + w * (s->epoch[j] - e0) / (e1 - e0),
                    y0 + h - h * (v - lo) / (hi - lo));
        }
        fprintf(f, "\"/>\n");
        fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"12\" fill=\"%s\">%s</text>\n", x0 + w + 10,
                y0 + 14 + 16 * i, COLOURS[c], LABELS[c]);
    }
    fprintf(f, "</g>\n");
}

int cmd_plot(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "paraprop: error: %s needs a file name\n%s", argv[i], USAGE);
                return 2;
            }
            out = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "paraprop: error: unknown option '%s' (see paraprop plot --help)\n",
                    argv[i]);
            return 2;
        } else if (dir) {
            fprintf(stderr, "paraprop: error: plot takes one RUN_DIR, got '%s' too\n", argv[i]);
            return 2;
        } else
            dir = argv[i];
    }
    if (!dir) {
        fputs(USAGE, stderr);
        return 2;
    }
    char in[4200], def[4200];
    snprintf(in, sizeof in, "%s/metrics.jsonl", dir);
    snprintf(def, sizeof def, "%s/curves.svg", dir);
    if (!out) out = def;
    FILE *f = fopen(in, "r");
    if (!f) {
        fprintf(stderr, "paraprop: error: cannot read %s (is %s a run directory?)\n", in, dir);
        return 3;
    }
    series s;
    memset(&s, 0, sizeof s);
    char line[16384];
    int rc = 0;
    while (!rc && fgets(line, sizeof line, f))
        if (strstr(line, "\"event\": \"epoch\"") && push(&s, line)) rc = 6;
    fclose(f);
    if (!rc && s.n == 0) {
        fprintf(stderr, "paraprop: error: %s holds no epoch yet: nothing to plot\n", in);
        rc = 3;
    }
    FILE *o = rc ? NULL : fopen(out, "w");
    if (!rc && !o) {
        fprintf(stderr, "paraprop: error: cannot write %s\n", out);
        rc = 5;
    }
    if (o) {
        const double W = 900, PW = 640, PH = 200, X0 = 80, GAP = 60;
        fprintf(o,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/"
                "svg\" width=\"%g\" height=\"%g\" font-family=\"sans-serif\">\n<title>paraprop: "
                "%s</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                W, 3 * (PH + GAP) + 30, "training curves");
        const int loss[3] = {C_TRAIN, C_TEST, C_VAL}, acc[2] = {C_TEST_ACC, C_VAL_ACC},
                  lr[1] = {C_LR};
        panel(o, &s, loss, 3, X0, 40, PW, PH, "loss");
        panel(o, &s, acc, 2, X0, 40 + PH + GAP, PW, PH, "accuracy");
        panel(o, &s, lr, 1, X0, 40 + 2 * (PH + GAP), PW, PH, "learning rate");
        fprintf(o, "</svg>\n");
        if (ferror(o) | (fclose(o) != 0)) {
            fprintf(stderr, "paraprop: error: cannot write %s\n", out);
            rc = 5;
        } else
            printf("wrote %s: %zu epoch(s)\n", out, s.n);
    }
    free(s.epoch);
    for (int c = 0; c < NCOL; c++) free(s.v[c]);
    return rc;
}
