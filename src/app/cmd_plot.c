/* `paraprop plot RUN_DIR`: the training curves of metrics.jsonl as one SVG file, written in C
 * so that it works wherever paraprop runs (no gnuplot, no Python); or as PNG through gnuplot,
 * when the output name ends in .png. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"

static const char *const USAGE =
    "usage: paraprop plot RUN_DIR [-o|--output FILE.svg|FILE.png]\n"
    "Draws the per-epoch curves of RUN_DIR/metrics.jsonl into an SVG image (default\n"
    "RUN_DIR/curves.svg): loss (train, test, validation), accuracy (test, validation) and the\n"
    "learning rate η, one panel each, epochs on the x axis. Open it in any browser.\n"
    "A name ending in .png draws the same panels as PNG with gnuplot (Debian: gnuplot-nox).\n";

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

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* The panels as PNG: the series to a data file beside the output, a gnuplot script on a pipe.
 * Returns the exit status (0, or 2 without gnuplot, 5 when the image was not written). */
static int write_png(const series *s, const char *out)
{
    /* the names go into gnuplot's single-quoted strings, which cannot hold a quote */
    if (strchr(out, '\'') || strchr(out, '\n')) {
        fprintf(stderr, "paraprop: error: %s: a PNG name must not contain ' or a newline\n", out);
        return 2;
    }
    char dat[4300];
    snprintf(dat, sizeof dat, "%s.data.tmp", out);
    FILE *d = fopen(dat, "w");
    if (!d) {
        fprintf(stderr, "paraprop: error: cannot write %s\n", dat);
        return 5;
    }
    int have[NCOL] = {0};
    for (size_t i = 0; i < s->n; i++) {
        fprintf(d, "%.17g", s->epoch[i]);
        for (int c = 0; c < NCOL; c++) {
            if (isfinite(s->v[c][i])) have[c] = 1;
            fprintf(d, isfinite(s->v[c][i]) ? " %.17g" : " NaN", s->v[c][i]);
        }
        fputc('\n', d);
    }
    int bad = ferror(d) | (fclose(d) != 0);
    remove(out); /* so that a gnuplot that fails leaves no stale image */
    /* a gnuplot that is missing or dies closes the pipe: the writes below must then fail with
     * EPIPE, not kill paraprop with SIGPIPE before pclose can tell why (seen under ASan, where
     * the shell had exited before the script was written) */
    struct sigaction ign, old_pipe;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    const int ignored = sigaction(SIGPIPE, &ign, &old_pipe) == 0;
    FILE *g = bad ? NULL : popen("gnuplot", "w");
    if (!g) {
        if (ignored) sigaction(SIGPIPE, &old_pipe, NULL);
        remove(dat);
        fprintf(stderr, "paraprop: error: cannot %s\n",
                bad ? "write the plot data" : "run gnuplot");
        return 5;
    }
    fprintf(g,
            "set terminal png size 900,810\nset output '%s'\nset datafile missing 'NaN'\n"
            "set multiplot layout 3,1 title 'paraprop: training curves'\nset xlabel 'epoch'\n"
            "set key outside right\nset grid\n",
            out);
    const int panels[3][3] = {
        {C_TRAIN, C_TEST, C_VAL}, {C_TEST_ACC, C_VAL_ACC, -1}, {C_LR, -1, -1}};
    const char *const titles[3] = {"loss", "accuracy", "learning rate"};
    for (int p = 0; p < 3; p++) {
        fprintf(g, "set ylabel '%s'\n", titles[p]);
        int any = 0;
        for (int j = 0; j < 3; j++) {
            const int c = panels[p][j];
            if (c < 0 || !have[c]) continue;
            fprintf(g, "%s '%s' using 1:%d with linespoints title '%s' lc rgb '%s'",
                    any ? "," : "plot", dat, c + 2, LABELS[c], COLOURS[c]);
            any = 1;
        }
        if (!any) /* an empty panel keeps the layout: nothing logged for it */
            fprintf(g, "set label 1 'not logged' at graph 0.5,0.5 center\nplot [0:1] NaN notitle\n"
                       "unset label 1");
        fputc('\n', g);
    }
    fprintf(g, "unset multiplot\nset output\n");
    const int st = pclose(g);
    if (ignored) sigaction(SIGPIPE, &old_pipe, NULL);
    remove(dat);
    FILE *chk = fopen(out, "rb");
    unsigned char magic[8] = {0};
    const int png =
        chk && fread(magic, 1, 8, chk) == 8 && memcmp(magic, "\x89PNG\r\n\x1a\n", 8) == 0;
    if (chk) fclose(chk);
    if (st != 0 || !png) {
        if (!png) remove(out);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
            fprintf(stderr,
                    "paraprop: error: %s: PNG needs gnuplot, which is not installed "
                    "(Debian: apt-get install gnuplot-nox); -o FILE.svg needs nothing\n",
                    out);
            return 2;
        }
        fprintf(stderr, "paraprop: error: gnuplot did not write %s (status %d)\n", out, st);
        return 5;
    }
    printf("wrote %s: %zu epoch(s)\n", out, s->n);
    return 0;
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
    if (!rc && ends_with(out, ".png")) {
        rc = write_png(&s, out);
        free(s.epoch);
        for (int c = 0; c < NCOL; c++) free(s.v[c]);
        return rc;
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
