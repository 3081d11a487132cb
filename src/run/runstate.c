/* Run directory bookkeeping: checkpoint discovery and retention, metrics.jsonl. */
#include "runstate.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"

pp_status runstate_mkdirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return pp_error(PP_ERR_USAGE, "path too long: %s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return pp_error(PP_ERR_WRITE, "cannot create directory %s: %s", buf,
                                strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return pp_error(PP_ERR_WRITE, "%s is not a directory", path);
    return pp_ok();
}

void runstate_ckpt_name(const char *dir, int64_t global_step, char *out, size_t n)
{
    snprintf(out, n, "%s/step-%012lld.h5", dir, (long long)global_step);
}

static int is_ckpt(const char *name)
{
    size_t l = strlen(name);
    return l == 5 + 12 + 3 && strncmp(name, "step-", 5) == 0 && strcmp(name + l - 3, ".h5") == 0;
}

static int cmp_desc(const void *a, const void *b)
{
    return strcmp(*(char *const *)b, *(char *const *)a);
}

/* Sorted newest first; returns count, *names malloc'd. */
static size_t list_ckpts(const char *dir, char ***names)
{
    *names = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_ckpt(e->d_name)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = realloc(*names, cap * sizeof *nn);
            if (!nn) break;
            *names = nn;
        }
        (*names)[n] = strdup(e->d_name);
        if ((*names)[n]) n++;
    }
    closedir(d);
    if (n) qsort(*names, n, sizeof **names, cmp_desc);
    return n;
}

pp_status runstate_find_latest(const char *dir, int allow_unsealed, char *path, size_t n, FILE *log)
{
    path[0] = '\0';
    char **names;
    size_t cnt = list_ckpts(dir, &names);
    pp_status st = pp_ok();
    /* The newest is the valid checkpoint furthest into training, by the position it stores: a
     * name can lie (files renamed by hand, or written by versions that restarted the global step
     * on resume). Ties keep the first in name order. Every file is read, one at a time. */
    int64_t best = -1;
    size_t valid = 0;
    for (size_t i = 0; i < cnt; i++) {
        char full[4200];
        snprintf(full, sizeof full, "%s/%s", dir, names[i]);
        pp_checkpoint ck;
        pp_status r = pp_checkpoint_read(full, allow_unsealed, &ck);
        int64_t pos = ck.global_step;
        pp_checkpoint_free(&ck);
        if (r.code) {
            if (log) fprintf(log, "paraprop: skipping checkpoint %s\n", r.msg);
            continue;
        }
        valid++;
        if (pos > best) {
            best = pos;
            snprintf(path, n, "%s", full);
        }
    }
    if (cnt && !valid)
        st = pp_error(PP_ERR_INPUT,
                      "%s holds %zu checkpoint(s) but none is valid (newest: %s); move them "
                      "away to start afresh",
                      dir, cnt, names[0]);
    for (size_t i = 0; i < cnt; i++) free(names[i]);
    free(names);
    return st;
}

int64_t runstate_newest_step(const char *dir)
{
    char **names;
    size_t cnt = list_ckpts(dir, &names);
    int64_t newest = cnt ? strtoll(names[0] + 5, NULL, 10) : -1;
    for (size_t i = 0; i < cnt; i++) free(names[i]);
    free(names);
    return newest;
}

void runstate_prune(const char *dir, int64_t keep, const char *keep_path)
{
    char **names;
    size_t cnt = list_ckpts(dir, &names);
    const char *base = keep_path ? strrchr(keep_path, '/') : NULL;
    base = base ? base + 1 : keep_path;
    /* the file just written always survives and counts as one of the kept */
    int64_t kept = 0, protect = 0;
    for (size_t i = 0; i < cnt; i++)
        if (base && strcmp(names[i], base) == 0) protect = 1;
    for (size_t i = 0; i < cnt; i++) {
        int mine = base && strcmp(names[i], base) == 0;
        if (mine || kept < keep - protect) {
            if (!mine) kept++;
        } else {
            char full[4200];
            snprintf(full, sizeof full, "%s/%s", dir, names[i]);
            unlink(full);
        }
        free(names[i]);
    }
    free(names);
    /* temporary files of writes that a kill interrupted; no write is in progress now */
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "step-", 5) == 0 && l > 7 &&
            strcmp(e->d_name + l - 7, ".h5.tmp") == 0) {
            char full[4200];
            snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
            unlink(full);
        }
    }
    closedir(d);
}

static void json_num(FILE *f, const char *key, double v)
{
    if (isfinite(v))
        fprintf(f, ", \"%s\": %.10g", key, v);
    else
        fprintf(f, ", \"%s\": null", key);
}

static void write_row(FILE *f, const pp_metrics_row *r, const char *fp, int64_t samples)
{
    fprintf(f, "{\"event\": \"epoch\", \"epoch\": %lld", (long long)r->epoch);
    json_num(f, "train_loss", r->train_loss);
    if (r->test_accuracy >= 0) {
        json_num(f, "test_loss", r->test_loss);
        json_num(f, "test_accuracy", r->test_accuracy);
    }
    if (r->val_accuracy >= 0) {
        json_num(f, "val_loss", r->val_loss);
        json_num(f, "val_accuracy", r->val_accuracy);
    }
    if (r->lr >= 0) json_num(f, "lr", r->lr);
    json_num(f, "samples_per_s", r->samples_per_s);
    json_num(f, "elapsed_s", r->seconds);
    if (samples >= 0) fprintf(f, ", \"samples_seen\": %lld", (long long)samples);
    if (fp && *fp) {
        char q[JSON_QUOTED_MAX(64)];
        json_quote(q, sizeof q, fp);
        fprintf(f, ", \"fingerprint\": %s", q);
    }
    fprintf(f, "}\n");
}

pp_status runstate_metrics_rewrite(const char *path, const pp_metrics_row *rows, size_t n,
                                   const char *const *fingerprints)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return pp_error(PP_ERR_WRITE, "cannot write %s", tmp);
    for (size_t i = 0; i < n; i++)
        write_row(f, &rows[i], fingerprints ? fingerprints[i] : NULL, -1);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        remove(tmp);
        return pp_error(PP_ERR_WRITE, "cannot write %s", path);
    }
    return pp_ok();
}

pp_status runstate_metrics_append(const char *path, const pp_metrics_row *row,
                                  const char *fingerprint, int64_t samples_seen)
{
    FILE *f = fopen(path, "a");
    if (!f) return pp_error(PP_ERR_WRITE, "cannot append to %s", path);
    write_row(f, row, fingerprint, samples_seen);
    if (fclose(f) != 0) return pp_error(PP_ERR_WRITE, "cannot append to %s", path);
    return pp_ok();
}

void runstate_event(const char *path, const char *event, const char *detail)
{
    FILE *f = fopen(path, "a");
    if (!f) return;
    time_t now = time(NULL);
    struct tm tmv;
    char ts[32];
    gmtime_r(&now, &tmv);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    char q[JSON_QUOTED_MAX(32)], qt[JSON_QUOTED_MAX(sizeof ts)];
    json_quote(q, sizeof q, event);
    json_quote(qt, sizeof qt, ts);
    fprintf(f, "{\"event\": %s, \"time\": %s%s%s}\n", q, qt, *detail ? ", " : "", detail);
    fclose(f);
}

pp_status runstate_metrics_truncate(const char *path, int64_t max_epoch, int64_t max_gstep,
                                    const pp_metrics_row *rows, size_t n)
{
    FILE *in = fopen(path, "r");
    if (!in) return runstate_metrics_rewrite(path, rows, n, NULL);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fclose(in);
        return pp_error(PP_ERR_WRITE, "cannot write %s", tmp);
    }
    char line[8192];
    while (fgets(line, sizeof line, in)) {
        const char *e = strstr(line, "\"event\": \"epoch\", \"epoch\": ");
        if (e && strtoll(e + 27, NULL, 10) > max_epoch) continue;
        const char *g =
            strstr(line, "{\"event\": \"step\", ") ? strstr(line, "\"global_step\": ") : NULL;
        if (g && strtoll(g + 15, NULL, 10) > max_gstep) continue;
        fputs(line, out);
    }
    fclose(in);
    int bad = ferror(out);
    if (fclose(out) != 0 || bad || rename(tmp, path) != 0) {
        remove(tmp);
        return pp_error(PP_ERR_WRITE, "cannot rewrite %s", path);
    }
    return pp_ok();
}
