/* Learning-rate schedules and the early-stopping rule (docs/TRAINING.md), on stored state only. */
#include "schedule.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "paraprop/config.h"

/* Reads a number and the ':' (or end) after it. */
static int num(const char **p, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(*p, &end);
    if (end == *p || errno || !isfinite(*v) || (*end && *end != ':')) return 0;
    *p = *end ? end + 1 : end;
    return 1;
}

static int whole(double v)
{
    return v >= 1 && v <= 1e9 && v == floor(v);
}

pp_status schedule_parse(const char *text, schedule *s)
{
    memset(s, 0, sizeof *s);
    const char *p = strchr(text, ':');
    size_t kl = p ? (size_t)(p - text) : strlen(text);
    p = p ? p + 1 : text + kl;
    double a = 0, b = 0, c = 0;
    if (kl == 8 && strncmp(text, "constant", 8) == 0 && !*p && text[kl] == '\0') {
        s->kind = SCHED_CONSTANT;
        return pp_ok();
    }
    if (kl == 4 && strncmp(text, "step", 4) == 0) {
        if (num(&p, &a) && num(&p, &b) && !*p && whole(a) && b > 0 && b <= 1) {
            s->kind = SCHED_STEP;
            s->every = (int64_t)a;
            s->gamma = b;
            return pp_ok();
        }
        return pp_error(PP_ERR_USAGE,
                        "--lr-schedule: expected step:EVERY:GAMMA (EVERY whole epochs ≥ 1, GAMMA "
                        "in (0, 1]), e.g. step:10:0.5, got '%s'",
                        text);
    }
    if (kl == 6 && strncmp(text, "cosine", 6) == 0) {
        if (text[kl] == '\0') {
            s->kind = SCHED_COSINE;
            return pp_ok();
        }
        if (num(&p, &a) && !*p && whole(a)) {
            s->kind = SCHED_COSINE;
            s->warmup = (int64_t)a;
            return pp_ok();
        }
        return pp_error(PP_ERR_USAGE,
                        "--lr-schedule: expected cosine or cosine:WARMUP (whole warm-up epochs ≥ "
                        "1), got '%s'",
                        text);
    }
    if (kl == 7 && strncmp(text, "plateau", 7) == 0) {
        if (num(&p, &a) && num(&p, &b) && num(&p, &c) && !*p && whole(a) && b > 0 && b < 1 &&
            c >= 0) {
            s->kind = SCHED_PLATEAU;
            s->patience = (int64_t)a;
            s->factor = b;
            s->min = c;
            return pp_ok();
        }
        return pp_error(PP_ERR_USAGE,
                        "--lr-schedule: expected plateau:PATIENCE:FACTOR:MIN (whole epochs ≥ 1, "
                        "FACTOR in (0, 1), MIN ≥ 0), e.g. plateau:10:0.5:0.00078125, got '%s'",
                        text);
    }
    return pp_error(PP_ERR_USAGE,
                    "--lr-schedule: unknown schedule '%s' (constant, step:EVERY:GAMMA, "
                    "cosine[:WARMUP], plateau:PATIENCE:FACTOR:MIN)",
                    text);
}

double schedule_eta(const schedule *s, double eta0, int64_t epochs, int64_t S, int64_t g,
                    const pp_train_state *state)
{
    switch (s->kind) {
    case SCHED_STEP:
        return eta0 * pow(s->gamma, (double)((g / S) / s->every));
    case SCHED_COSINE: {
        /* per step over the whole run; the warm-up rises linearly and reaches η0 at its end */
        const int64_t W = s->warmup * S, G = epochs * S;
        if (g < W) return eta0 * (double)(g + 1) / (double)W;
        if (G <= W) return eta0;
        return eta0 * 0.5 * (1 + cos(3.14159265358979323846 * (double)(g - W) / (double)(G - W)));
    }
    case SCHED_PLATEAU:
        return state->lr;
    default:
        return eta0;
    }
}

void schedule_state_init(pp_train_state *st, double eta0, int monitor)
{
    memset(st, 0, sizeof *st);
    st->lr = eta0;
    st->best_metric = monitor == PP_MONITOR_VAL_ACCURACY ? -HUGE_VAL : HUGE_VAL;
}

int schedule_improves(int monitor, double m, double best)
{
    return monitor == PP_MONITOR_VAL_ACCURACY ? m > best : m < best;
}

void schedule_epoch_end(const schedule *s, int monitor, int64_t patience, int64_t epoch, double m,
                        pp_train_state *st, int *improved, int *stop)
{
    *improved = schedule_improves(monitor, m, st->best_metric);
    *stop = 0;
    if (*improved) {
        st->best_metric = m;
        st->best_epoch = epoch;
        st->patience_count = 0;
        st->plateau_count = 0;
    } else {
        st->patience_count++;
        st->plateau_count++;
    }
    if (s->kind == SCHED_PLATEAU && st->plateau_count >= s->patience) {
        if (st->lr <= s->min)
            *stop = 2;
        else {
            double cut = st->lr * s->factor;
            st->lr = cut > s->min ? cut : s->min;
            st->plateau_count = 0;
        }
    }
    if (patience > 0 && st->patience_count >= patience) *stop = 1;
    if (*stop) st->stopped = *stop;
}
