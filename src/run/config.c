/* The option table and its parsers: command line, config files, help and config.txt all come
 * from the one table below, so they cannot disagree. */
#include "paraprop/config.h"
#include "paraprop/optim.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schedule.h"

typedef enum {
    T_STR,
    T_INT,
    T_U64,
    T_DBL,
    T_ACT,
    T_COST,
    T_INIT,
    T_ONOFF,
    T_RED,
    T_EVERY,
    T_STOP,
    T_PROG,
    T_VSPLIT,
    T_MONITOR,
    T_SCHED,
    T_DMODE,
    T_BYTES,
    T_OPT,  /* optimizer name */
    T_PROB, /* a number in [0, 1) */
    T_DROP  /* P or P1,P2,…: each in [0, 1) */
} otype;

typedef struct opt {
    const char *name;
    otype type;
    size_t off;
    int cmds;
    const char *def;
    const char *help;
    double lo, hi; /* range for numbers */
} opt;

#define O(f) offsetof(pp_config, f)
#define MODEL (PP_CMD_TRAIN | PP_CMD_BENCH | PP_CMD_GRADCHECK)
#define TRAINLIKE (PP_CMD_TRAIN | PP_CMD_BENCH)

static const opt OPTS[] = {
    {"data", T_STR, O(data), TRAINLIKE | PP_CMD_EVAL, "",
     "dataset file (HDF5, from 'paraprop convert')", 0, 0},
    {"layers", T_STR, O(layers), MODEL, "", "layer sizes, input to output, e.g. 784,100,10", 0, 0},
    {"hidden-activation", T_ACT, O(hidden), MODEL, "sigmoid", "sigmoid | tanh | relu | identity", 0,
     0},
    {"output-activation", T_ACT, O(output), MODEL, "softmax",
     "sigmoid | softmax | identity | tanh | relu", 0, 0},
    {"cost", T_COST, O(cost), MODEL, "log-likelihood", "quadratic | cross-entropy | log-likelihood",
     0, 0},
    {"epochs", T_INT, O(epochs), PP_CMD_TRAIN, "30", "epochs to train (0: write the initial model)",
     0, 1e9},
    {"batch-size", T_INT, O(batch_size), TRAINLIKE, "10",
     "global minibatch size, split over the ranks", 1, 1e9},
    {"learning-rate", T_DBL, O(eta), TRAINLIKE, "0.1", "learning rate η", 0, 1e9},
    {"l2", T_DBL, O(l2), MODEL, "0", "L2 strength λ (weight decay ηλ/N, N = training samples)", 0,
     1e12},
    {"momentum", T_DBL, O(momentum), TRAINLIKE, "0", "momentum μ in [0, 1)", 0, 0.999999},
    {"optimizer", T_OPT, O(optimizer), TRAINLIKE, "sgd",
     "sgd | nesterov | adam | adamw: sgd is plain or, with --momentum, momentum SGD; nesterov "
     "needs --momentum > 0; adam has L2 in its gradient, adamw decays the weights by ηλ/N beside "
     "the adaptive step (both with bias correction)",
     0, 0},
    {"beta1", T_PROB, O(beta1), TRAINLIKE, "0.9",
     "adam, adamw: decay β₁ of the first moment, in [0, 1)", 0, 0},
    {"beta2", T_PROB, O(beta2), TRAINLIKE, "0.999",
     "adam, adamw: decay β₂ of the second moment, in [0, 1)", 0, 0},
    {"adam-epsilon", T_DBL, O(adam_eps), TRAINLIKE, "1e-8",
     "adam, adamw: ε > 0 in the step's denominator √v̂ + ε", 0, 1},
    {"l1", T_DBL, O(l1), MODEL, "0",
     "L1 strength λ₁ (subgradient (λ₁/N)·sign(w) on the weights, N = training samples)", 0, 1e12},
    {"clip-norm", T_DBL, O(clip_norm), MODEL, "0",
     "C > 0: scale each step's mean gradient down to 2-norm C when it is larger (0: no clipping)",
     0, 1e30},
    {"dropout", T_DROP, O(dropout), MODEL, "0",
     "P | P1,…,P(L-1): drop probability in [0, 1) of the units of every hidden layer (one value) "
     "or of each (inverted dropout, masks keyed by seed, step, sample and unit; training only)",
     0, 0},
    {"seed", T_U64, O(seed), MODEL, "1",
     "seed of the initialisation, the shuffle and the dropout masks", 0, 0},
    {"init", T_INIT, O(init), MODEL, "normalized",
     "normalized: N(0,1/n_in) weights, N(0,1) biases | large: N(0,1) both | he: N(0,2/n_in) "
     "weights, zero biases (for ReLU)",
     0, 0},
    {"shuffle", T_ONOFF, O(shuffle), TRAINLIKE, "on",
     "on | off: reshuffle the training set every epoch", 0, 0},
    {"init-from", T_STR, O(init_from), TRAINLIKE, "",
     "take the initial weights from a checkpoint (nothing else)", 0, 0},
    {"run-dir", T_STR, O(run_dir), PP_CMD_TRAIN, "run",
     "run directory: checkpoints/, metrics.jsonl, config.txt, final.h5; resumes if it holds "
     "checkpoints",
     0, 0},
    {"threads", T_INT, O(threads), MODEL | PP_CMD_EVAL, "0",
     "OpenMP threads per rank (0: OMP_NUM_THREADS, else cores / ranks)", 0, 1024},
    {"reduction", T_RED, O(exact), TRAINLIKE, "fast",
     "fast: float allreduce | exact: same bits for any ranks × threads", 0, 0},
    {"data-mode", T_DMODE, O(data_mode), TRAINLIKE | PP_CMD_EVAL, "auto",
     "auto | rank | node | stream: where the training set lives (docs/DATA.md); auto: rank "
     "with one rank per node, node when the set fits --memory-budget, else stream",
     0, 0},
    {"memory-budget", T_BYTES, O(memory_budget), TRAINLIKE | PP_CMD_EVAL, "auto",
     "bytes of a node's memory the training set may take (e.g. 512MiB, 8GiB); auto: half of the "
     "node's memory",
     0, 0},
    {"checkpoint-every", T_EVERY, O(ckpt_every), PP_CMD_TRAIN, "1epoch",
     "checkpoint interval: Nsteps | Nepochs | none", 0, 0},
    {"keep", T_INT, O(keep), PP_CMD_TRAIN, "3", "checkpoints kept (newest)", 1, 1e6},
    {"checkpoint-dir", T_STR, O(ckpt_dir), PP_CMD_TRAIN, "",
     "where checkpoints go (default RUN_DIR/checkpoints)", 0, 0},
    {"resume", T_STR, O(resume), PP_CMD_TRAIN, "", "resume from this checkpoint file", 0, 0},
    {"stop-after", T_STOP, O(stop_after), PP_CMD_TRAIN, "none",
     "Nsteps | Ns | Nm | Nh | none: after N steps or that much wall time of this run (counted "
     "from its start or resume), checkpoint and exit 75, as on SIGUSR1",
     0, 0},
    {"allow-unsealed", T_ONOFF, O(allow_unsealed), TRAINLIKE | PP_CMD_EVAL, "off",
     "on | off: on reads checkpoints and models without a seal too (--resume, --init-from, "
     "--model, the run directory's), trusting HDF5's own checks",
     0, 0},
    {"progress", T_PROG, O(progress), PP_CMD_TRAIN, "auto",
     "auto | on | off: live progress line within an epoch", 0, 0},
    {"steps", T_INT, O(steps), PP_CMD_BENCH, "100", "timed steps", 1, 1e12},
    {"warmup", T_INT, O(warmup), PP_CMD_BENCH, "5", "untimed warm-up steps", 0, 1e12},
    {"json", T_STR, O(json), PP_CMD_BENCH, "",
     "append the JSON result line to this file (always printed)", 0, 0},
    {"samples", T_INT, O(gc_samples), PP_CMD_GRADCHECK, "4", "random samples in the check", 1,
     100000},
    {"epsilon", T_DBL, O(gc_eps), PP_CMD_GRADCHECK, "0",
     "finite-difference step h (0: 1e-6 in double, 1e-2 in float builds)", 0, 1},
    {"model", T_STR, O(model), PP_CMD_EVAL, "", "model or checkpoint file to evaluate", 0, 0},
    {"split", T_STR, O(split), PP_CMD_EVAL, "test", "test | train | validation", 0, 0},
    {"validation-split", T_VSPLIT, O(val_split), PP_CMD_TRAIN, "none",
     "N | F | none: hold out N samples, or the fraction F in (0, 1), of the training set for "
     "validation (seeded, the same for any ranks × threads); none uses the dataset's /validation "
     "group when it has one",
     0, 0},
    {"early-stop", T_INT, O(early_stop), PP_CMD_TRAIN, "0",
     "PATIENCE: end the run (status 0) after that many epochs without a better --monitor value; "
     "needs validation data; 0: off",
     0, 1e9},
    {"monitor", T_MONITOR, O(monitor), PP_CMD_TRAIN, "auto",
     "val_loss | val_accuracy: what early stopping, the plateau schedule and RUN_DIR/best.h5 "
     "follow (auto: val_loss when there is validation data)",
     0, 0},
    {"lr-schedule", T_SCHED, O(lr_schedule), PP_CMD_TRAIN, "constant",
     "constant | step:EVERY:GAMMA (×GAMMA every EVERY epochs) | cosine[:WARMUP] (per step, "
     "after WARMUP epochs of linear warm-up) | plateau:PATIENCE:FACTOR:MIN (×FACTOR after "
     "PATIENCE epochs without a better --monitor value, not below MIN; needs validation data)",
     0, 0},
    {"log-every", T_INT, O(log_every), PP_CMD_TRAIN, "0",
     "N: every N steps a line with loss, η, samples/s and phase times (min/mean/max over ranks) "
     "in metrics.jsonl, and on stderr when it is not a terminal; 0: off",
     0, 1e12},
};
#define NOPTS (sizeof OPTS / sizeof OPTS[0])

/* ---- the data mode and the memory budget (issue 11) ---- */
static const char *const DATA_MODES[] = {"auto", "rank", "node", "stream"};

int pp_data_mode_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, DATA_MODES[i]) == 0) return i;
    return -1;
}

const char *pp_data_mode_name(int mode)
{
    return mode >= 0 && mode < 4 ? DATA_MODES[mode] : "?";
}

int64_t pp_config_default_budget(void)
{
    const double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    /* half: the other half is the ranks' model state, the OS and the page cache */
    return phys > 0 ? (int64_t)(phys / 2) : (int64_t)1 << 32;
}

pp_status pp_config_parse_bytes(const char *name, const char *s, int64_t *out)
{
    if (strcmp(s, "auto") == 0) {
        *out = 0;
        return pp_ok();
    }
    static const struct {
        const char *suffix;
        double mul;
    } units[] = {{"", 1},
                 {"B", 1},
                 {"K", 1024.0},
                 {"KiB", 1024.0},
                 {"M", 1048576.0},
                 {"MiB", 1048576.0},
                 {"G", 1073741824.0},
                 {"GiB", 1073741824.0},
                 {"T", 1099511627776.0},
                 {"TiB", 1099511627776.0}};
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    int known = 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0] && end != s; i++)
        if (strcmp(end, units[i].suffix) == 0) {
            v *= units[i].mul;
            known = 1;
            break;
        }
    if (end == s || errno || !known || !isfinite(v) || v < 1 || v > 9.0e18)
        return pp_error(PP_ERR_USAGE,
                        "--%s: expected auto or a positive size such as 800MiB, 16GiB or 1e9 "
                        "(bytes), got '%s'",
                        name, s);
    *out = (int64_t)v;
    return pp_ok();
}

static const opt *find_opt(const char *name)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(OPTS[i].name, name) == 0) return &OPTS[i];
    return NULL;
}

pp_status pp_config_parse_every(const char *s, int64_t *n, int *unit)
{
    if (strcmp(s, "none") == 0 || strcmp(s, "0") == 0) {
        *n = 0;
        *unit = PP_EVERY_NONE;
        return pp_ok();
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0 || errno)
        return pp_error(PP_ERR_USAGE,
                        "--checkpoint-every: expected Nsteps, Nepochs or none, got '%s'", s);
    if (strcmp(end, "step") == 0 || strcmp(end, "steps") == 0)
        *unit = PP_EVERY_STEPS;
    else if (strcmp(end, "epoch") == 0 || strcmp(end, "epochs") == 0 || *end == '\0')
        *unit = PP_EVERY_EPOCHS;
    else
        return pp_error(
            PP_ERR_USAGE,
            "--checkpoint-every: unit '%s' is not 'steps' or 'epochs' (e.g. 500steps, 1epoch)",
            end);
    *n = v;
    return pp_ok();
}

pp_status pp_config_parse_stop(const char *s, int64_t *n, int *unit)
{
    if (strcmp(s, "none") == 0 || strcmp(s, "0") == 0) {
        *n = 0;
        *unit = PP_STOP_NONE;
        return pp_ok();
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0 || errno || !isdigit((unsigned char)*s))
        return pp_error(PP_ERR_USAGE, "--stop-after: expected Nsteps, Ns, Nm, Nh or none, got '%s'",
                        s);
    long long mult = 0;
    if (strcmp(end, "step") == 0 || strcmp(end, "steps") == 0)
        *unit = PP_STOP_STEPS;
    else if (strcmp(end, "s") == 0)
        *unit = PP_STOP_SECONDS, mult = 1;
    else if (strcmp(end, "m") == 0)
        *unit = PP_STOP_SECONDS, mult = 60;
    else if (strcmp(end, "h") == 0)
        *unit = PP_STOP_SECONDS, mult = 3600;
    else
        return pp_error(PP_ERR_USAGE,
                        "--stop-after: unit '%s' is not steps, s, m or h (e.g. 500steps, 90m)",
                        end);
    if (mult && v > (long long)(INT64_MAX / mult))
        return pp_error(PP_ERR_USAGE, "--stop-after: '%s' is too long", s);
    *n = mult ? v * mult : v;
    return pp_ok();
}

static pp_status parse_layers(pp_config *c);

/* One number in [0, 1): probabilities and Adam's decays. */
static int parse_prob(const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(x) || x < 0 || x >= 1) return 0;
    *out = x;
    return 1;
}

static pp_status parse_dropout(pp_config *c, const char *v)
{
    char buf[512], norm[512];
    if (strlen(v) >= sizeof buf)
        return pp_error(PP_ERR_USAGE, "--dropout: value is longer than %zu characters",
                        sizeof buf - 1);
    snprintf(buf, sizeof buf, "%s", v);
    double p[PP_MAX_LAYERS + 1];
    int n = 0;
    size_t len = 0;
    norm[0] = '\0';
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == PP_MAX_LAYERS - 1)
            return pp_error(PP_ERR_USAGE, "--dropout: at most %d values (one per hidden layer)",
                            PP_MAX_LAYERS - 1);
        if (!parse_prob(tok, &p[n]))
            return pp_error(PP_ERR_USAGE,
                            "--dropout: expected drop probabilities in [0, 1) separated by "
                            "commas, got '%s'",
                            v);
        len += (size_t)snprintf(norm + len, sizeof norm - len, "%s%.17g", n ? "," : "", p[n]);
        n++;
    }
    /* strtok_r skips empty fields: ",0.5" or "0.5,,0.2" would pass silently */
    if (n == 0 || v[0] == ',' || v[strlen(v) - 1] == ',' || strstr(v, ",,"))
        return pp_error(PP_ERR_USAGE,
                        "--dropout: expected drop probabilities in [0, 1) separated by commas, got "
                        "'%s'",
                        v);
    c->ndrop = n;
    memcpy(c->drop_p, p, (size_t)n * sizeof *p);
    snprintf(c->dropout, sizeof c->dropout, "%s", norm);
    return pp_ok();
}

double pp_config_dropout(const pp_config *c, int l)
{
    if (l < 1 || l >= c->L || c->ndrop < 1) return 0;
    return c->ndrop == 1 ? c->drop_p[0] : l - 1 < c->ndrop ? c->drop_p[l - 1] : 0;
}

static pp_status set_opt(pp_config *c, const opt *o, const char *v)
{
    char *base = (char *)c + o->off;
    char *end;
    switch (o->type) {
    case T_STR: {
        size_t cap = strcmp(o->name, "split") == 0    ? sizeof c->split
                     : strcmp(o->name, "layers") == 0 ? sizeof c->layers
                                                      : sizeof c->data;
        if (strlen(v) >= cap)
            return pp_error(PP_ERR_USAGE, "--%s: value is longer than %zu characters", o->name,
                            cap - 1);
        memcpy(base, v, strlen(v) + 1);
        /* check the list when it is given, so a config file's line is named */
        if (strcmp(o->name, "layers") == 0 && *v) return parse_layers(c);
        return pp_ok();
    }
    case T_INT: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (end == v || *end || errno || x < o->lo || x > o->hi)
            return pp_error(PP_ERR_USAGE, "--%s: expected an integer in [%.0f, %.0f], got '%s'",
                            o->name, o->lo, o->hi, v);
        *(int64_t *)base = x;
        return pp_ok();
    }
    case T_U64: {
        errno = 0;
        if (*v == '-')
            return pp_error(PP_ERR_USAGE, "--%s: expected a non-negative integer, got '%s'",
                            o->name, v);
        unsigned long long x = strtoull(v, &end, 10);
        if (end == v || *end || errno)
            return pp_error(PP_ERR_USAGE, "--%s: expected a non-negative integer, got '%s'",
                            o->name, v);
        *(uint64_t *)base = x;
        return pp_ok();
    }
    case T_DBL: {
        errno = 0;
        double x = strtod(v, &end);
        if (end == v || *end || errno || !isfinite(x) || x < o->lo || x > o->hi)
            return pp_error(PP_ERR_USAGE, "--%s: expected a number in [%g, %g], got '%s'", o->name,
                            o->lo, o->hi, v);
        *(double *)base = x;
        return pp_ok();
    }
    case T_ACT: {
        int a = pp_activation_parse(v);
        if (a < 0)
            return pp_error(
                PP_ERR_USAGE,
                "--%s: unknown activation '%s' (sigmoid, tanh, relu, identity, softmax)", o->name,
                v);
        *(pp_activation *)base = (pp_activation)a;
        return pp_ok();
    }
    case T_COST: {
        int a = pp_cost_parse(v);
        if (a < 0)
            return pp_error(PP_ERR_USAGE,
                            "--cost: unknown cost '%s' (quadratic, cross-entropy, log-likelihood)",
                            v);
        *(pp_cost *)base = (pp_cost)a;
        return pp_ok();
    }
    case T_INIT: {
        int a = pp_init_parse(v);
        if (a < 0)
            return pp_error(PP_ERR_USAGE,
                            "--init: unknown initialisation '%s' (normalized, large, he)", v);
        *(pp_init *)base = (pp_init)a;
        return pp_ok();
    }
    case T_ONOFF:
        if (strcmp(v, "on") && strcmp(v, "off"))
            return pp_error(PP_ERR_USAGE, "--%s: expected on or off, got '%s'", o->name, v);
        *(int *)base = strcmp(v, "on") == 0;
        return pp_ok();
    case T_PROG:
        if (strcmp(v, "on") && strcmp(v, "off") && strcmp(v, "auto"))
            return pp_error(PP_ERR_USAGE, "--progress: expected auto, on or off, got '%s'", v);
        *(int *)base = strcmp(v, "auto") == 0 ? -1 : strcmp(v, "on") == 0;
        return pp_ok();
    case T_RED:
        if (strcmp(v, "fast") && strcmp(v, "exact"))
            return pp_error(PP_ERR_USAGE, "--reduction: expected fast or exact, got '%s'", v);
        *(int *)base = strcmp(v, "exact") == 0;
        return pp_ok();
    case T_DMODE: {
        int m = pp_data_mode_parse(v);
        if (m < 0)
            return pp_error(PP_ERR_USAGE,
                            "--data-mode: expected auto, rank, node or stream, got '%s'", v);
        *(int *)base = m;
        return pp_ok();
    }
    case T_BYTES:
        return pp_config_parse_bytes(o->name, v, (int64_t *)base);
    case T_OPT: {
        int k = pp_optimizer_parse(v);
        if (k < 0)
            return pp_error(PP_ERR_USAGE,
                            "--optimizer: unknown optimizer '%s' (sgd, nesterov, adam, adamw)", v);
        *(int *)base = k;
        return pp_ok();
    }
    case T_PROB:
        if (!parse_prob(v, (double *)base))
            return pp_error(PP_ERR_USAGE, "--%s: expected a number in [0, 1), got '%s'", o->name,
                            v);
        return pp_ok();
    case T_DROP:
        return parse_dropout(c, v);
    case T_EVERY:
        return pp_config_parse_every(v, &c->ckpt_every, &c->ckpt_unit);
    case T_STOP:
        return pp_config_parse_stop(v, &c->stop_after, &c->stop_unit);
    case T_VSPLIT: {
        c->val_count = 0;
        c->val_frac = 0;
        if (strlen(v) >= sizeof c->val_split)
            return pp_error(PP_ERR_USAGE, "--validation-split: '%.40s…' is too long", v);
        errno = 0;
        if (strcmp(v, "none") == 0 || strcmp(v, "0") == 0) {
            snprintf(c->val_split, sizeof c->val_split, "none");
            return pp_ok();
        }
        if (*v && strspn(v, "0123456789") == strlen(v)) {
            long long x = strtoll(v, &end, 10);
            if (errno || x < 1)
                return pp_error(PP_ERR_USAGE,
                                "--validation-split: expected a sample count N ≥ 1, a fraction F "
                                "in (0, 1) or none, got '%s'",
                                v);
            c->val_count = x;
        } else {
            double x = strtod(v, &end);
            if (end == v || *end || errno || !(x > 0 && x < 1))
                return pp_error(PP_ERR_USAGE,
                                "--validation-split: expected a sample count N ≥ 1, a fraction F "
                                "in (0, 1) or none, got '%s'",
                                v);
            c->val_frac = x;
        }
        memcpy(base, v, strlen(v) + 1);
        return pp_ok();
    }
    case T_MONITOR:
        if (strcmp(v, "auto") && strcmp(v, "val_loss") && strcmp(v, "val_accuracy"))
            return pp_error(PP_ERR_USAGE,
                            "--monitor: expected val_loss or val_accuracy (or auto), got '%s'", v);
        *(int *)base = strcmp(v, "auto") == 0       ? PP_MONITOR_AUTO
                       : strcmp(v, "val_loss") == 0 ? PP_MONITOR_VAL_LOSS
                                                    : PP_MONITOR_VAL_ACCURACY;
        return pp_ok();
    case T_SCHED: {
        if (strlen(v) >= sizeof c->lr_schedule)
            return pp_error(PP_ERR_USAGE, "--lr-schedule: '%.40s…' is too long", v);
        schedule sc;
        PP_TRY(schedule_parse(v, &sc));
        memcpy(base, v, strlen(v) + 1);
        return pp_ok();
    }
    }
    return pp_error(PP_ERR_RUNTIME, "internal: option type");
}

void pp_config_defaults(pp_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NOPTS; i++) set_opt(c, &OPTS[i], OPTS[i].def);
}

static pp_status apply(pp_config *c, int cmd, const char *key, const char *val, const char *where)
{
    const opt *o = find_opt(key);
    if (!o) return pp_error(PP_ERR_USAGE, "%sunknown option '%s' (see --help)", where, key);
    if (!(o->cmds & cmd))
        return pp_error(PP_ERR_USAGE, "%soption '%s' does not apply to this command (see --help)",
                        where, key);
    pp_status st = set_opt(c, o, val);
    if (st.code && *where) return pp_status_wrap(st, "%.*s", (int)strlen(where) - 2, where);
    return st;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

pp_status pp_config_load_file(pp_config *c, int cmd, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return pp_error(PP_ERR_USAGE, "--config: '%s' is not a regular file", path);
    FILE *f = fopen(path, "r");
    if (!f) return pp_error(PP_ERR_USAGE, "--config: cannot open '%s'", path);
    char line[4096];
    int lineno = 0;
    pp_status st = pp_ok();
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            st = pp_error(PP_ERR_USAGE, "%s:%d: line is too long", path, lineno);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *s = trim(line);
        if (!*s) continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            st = pp_error(PP_ERR_USAGE, "%s:%d: expected 'key = value', got '%.60s'", path, lineno,
                          s);
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        if (strcmp(key, "config") == 0) {
            st =
                pp_error(PP_ERR_USAGE, "%s:%d: a config file cannot include another", path, lineno);
            break;
        }
        char where[1200];
        snprintf(where, sizeof where, "%s:%d: ", path, lineno);
        st = apply(c, cmd, key, val, where);
        if (st.code) break;
    }
    fclose(f);
    return st;
}

pp_status pp_config_parse(pp_config *c, int cmd, int argc, char **argv, int first, int *help)
{
    *help = 0;
    /* the config file first, so that the command line wins */
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) return pp_error(PP_ERR_USAGE, "--config needs a file name");
            PP_TRY(pp_config_load_file(c, cmd, argv[i + 1]));
            i++;
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            PP_TRY(pp_config_load_file(c, cmd, argv[i] + 9));
        }
    }
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = 1;
            return pp_ok();
        }
        if (strncmp(a, "--", 2) != 0)
            return pp_error(PP_ERR_USAGE, "unexpected argument '%s' (options start with --)", a);
        char key[128];
        const char *val;
        const char *eq = strchr(a, '=');
        if (eq) {
            snprintf(key, sizeof key, "%.*s", (int)(eq - a - 2), a + 2);
            val = eq + 1;
        } else {
            snprintf(key, sizeof key, "%s", a + 2);
            if (i + 1 >= argc) return pp_error(PP_ERR_USAGE, "--%s needs a value", key);
            val = argv[++i];
        }
        if (strcmp(key, "config") == 0) continue;
        PP_TRY(apply(c, cmd, key, val, ""));
    }
    return pp_ok();
}

static pp_status parse_layers(pp_config *c)
{
    if (!*c->layers)
        return pp_error(PP_ERR_USAGE, "--layers is required, e.g. --layers 784,100,10");
    const char *p = c->layers;
    int n = 0;
    while (*p) {
        char *end;
        errno = 0;
        if (*p == '-' || *p == '+')
            return pp_error(PP_ERR_USAGE, "--layers: '%s' is not a list of positive sizes",
                            c->layers);
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || errno || v == 0)
            return pp_error(PP_ERR_USAGE,
                            "--layers: '%s' is not a list of positive sizes like 784,100,10",
                            c->layers);
        if (n > PP_MAX_LAYERS)
            return pp_error(PP_ERR_USAGE, "--layers: at most %d sizes", PP_MAX_LAYERS + 1);
        if (v > (unsigned long long)INT_MAX)
            return pp_error(PP_ERR_USAGE,
                            "--layers: layer size %llu is above %d (INT_MAX, the largest size the "
                            "matrix kernels take)",
                            v, INT_MAX);
        c->sizes[n++] = (size_t)v;
        if (*end == ',' && end[1] == '\0')
            return pp_error(PP_ERR_USAGE, "--layers: '%s' ends with a comma", c->layers);
        if (*end == ',')
            end++;
        else if (*end)
            return pp_error(PP_ERR_USAGE, "--layers: unexpected '%c' in '%s'", *end, c->layers);
        p = end;
    }
    if (n < 2)
        return pp_error(PP_ERR_USAGE,
                        "--layers needs at least an input and an output size, got '%s'", c->layers);
    c->L = n - 1;
    return pp_ok();
}

/* Pairs of optimizer and regularisation options that cannot mean what they say. */
static pp_status check_regularisers(const pp_config *c, int cmd)
{
    const int hidden = c->L - 1;
    if (c->ndrop > 1 && c->ndrop != hidden)
        return pp_error(PP_ERR_USAGE,
                        "--dropout %s has %d values but --layers %s has %d hidden layer(s): give "
                        "one value for every hidden layer or one value each",
                        c->dropout, c->ndrop, c->layers, hidden);
    for (int i = 0; hidden == 0 && i < c->ndrop; i++)
        if (c->drop_p[i] > 0)
            return pp_error(PP_ERR_USAGE,
                            "--dropout %s: --layers %s has no hidden layer to drop units from",
                            c->dropout, c->layers);
    if (!(cmd & TRAINLIKE)) return pp_ok();
    const int adam = c->optimizer == PP_OPT_ADAM || c->optimizer == PP_OPT_ADAMW;
    const char *name = pp_optimizer_name((pp_optimizer)c->optimizer);
    if (adam && c->momentum != 0)
        return pp_error(PP_ERR_USAGE,
                        "--momentum %g does not apply to --optimizer %s, which keeps its own "
                        "moments (--beta1, --beta2): drop --momentum, or use --optimizer sgd or "
                        "nesterov",
                        c->momentum, name);
    if (c->optimizer == PP_OPT_NESTEROV && c->momentum == 0)
        return pp_error(PP_ERR_USAGE,
                        "--optimizer nesterov needs --momentum μ > 0 (with μ = 0 it is plain sgd)");
    /* the defaults of the option table: a changed value with sgd or nesterov would be ignored */
    if (!adam && (c->beta1 != 0.9 || c->beta2 != 0.999 || c->adam_eps != 1e-8))
        return pp_error(PP_ERR_USAGE,
                        "--%s applies to --optimizer adam or adamw only, this run has --optimizer "
                        "%s",
                        c->beta1 != 0.9     ? "beta1"
                        : c->beta2 != 0.999 ? "beta2"
                                            : "adam-epsilon",
                        name);
    if (!(c->adam_eps > 0))
        return pp_error(PP_ERR_USAGE,
                        "--adam-epsilon must be above 0 (a parameter whose gradient is always 0 "
                        "would divide 0 by 0)");
    return pp_ok();
}

pp_status pp_config_check(pp_config *c, int cmd)
{
    if ((cmd & (TRAINLIKE | PP_CMD_EVAL)) && !*c->data)
        return pp_error(PP_ERR_USAGE, "--data FILE is required (make one with 'paraprop convert')");
    if (cmd & PP_CMD_EVAL) {
        if (!*c->model) return pp_error(PP_ERR_USAGE, "--model FILE is required");
        if (strcmp(c->split, "test") && strcmp(c->split, "train") && strcmp(c->split, "validation"))
            return pp_error(PP_ERR_USAGE, "--split: expected test, train or validation, got '%s'",
                            c->split);
        return pp_ok();
    }
    PP_TRY(parse_layers(c));
    pp_arch a;
    PP_TRY(pp_arch_init(&a, c->L, c->sizes, c->hidden, c->output, c->cost));
    if ((cmd & PP_CMD_TRAIN) && !*c->run_dir)
        return pp_error(PP_ERR_USAGE, "--run-dir must not be empty");
    PP_TRY(check_regularisers(c, cmd));
    if (*c->resume && *c->init_from)
        return pp_error(PP_ERR_USAGE,
                        "--resume and --init-from exclude each other (resume continues a run; "
                        "init-from starts a new one from given weights)");
    if (cmd & PP_CMD_TRAIN) {
        schedule sc;
        PP_TRY(schedule_parse(c->lr_schedule, &sc));
        if (sc.kind == SCHED_COSINE && sc.warmup >= c->epochs && c->epochs > 0)
            return pp_error(PP_ERR_USAGE,
                            "--lr-schedule %s: the warm-up of %lld epoch(s) must be shorter than "
                            "--epochs %lld",
                            c->lr_schedule, (long long)sc.warmup, (long long)c->epochs);
    }
    return pp_ok();
}

static void format_value(const pp_config *c, const opt *o, char *buf, size_t n)
{
    const char *base = (const char *)c + o->off;
    switch (o->type) {
    case T_STR:
        snprintf(buf, n, "%s", base);
        break;
    case T_INT:
        snprintf(buf, n, "%lld", (long long)*(const int64_t *)base);
        break;
    case T_U64:
        snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)base);
        break;
    case T_DBL:
    case T_PROB:
        snprintf(buf, n, "%.17g", *(const double *)base);
        break;
    case T_OPT:
        snprintf(buf, n, "%s", pp_optimizer_name((pp_optimizer) * (const int *)base));
        break;
    case T_DROP:
        snprintf(buf, n, "%s", c->dropout);
        break;
    case T_ACT:
        snprintf(buf, n, "%s", pp_activation_name(*(const pp_activation *)base));
        break;
    case T_COST:
        snprintf(buf, n, "%s", pp_cost_name(*(const pp_cost *)base));
        break;
    case T_INIT:
        snprintf(buf, n, "%s", pp_init_name(*(const pp_init *)base));
        break;
    case T_ONOFF:
        snprintf(buf, n, "%s", *(const int *)base ? "on" : "off");
        break;
    case T_PROG:
        snprintf(buf, n, "%s", *(const int *)base < 0 ? "auto" : *(const int *)base ? "on" : "off");
        break;
    case T_RED:
        snprintf(buf, n, "%s", *(const int *)base ? "exact" : "fast");
        break;
    case T_DMODE:
        snprintf(buf, n, "%s", pp_data_mode_name(*(const int *)base));
        break;
    case T_BYTES:
        if (*(const int64_t *)base == 0)
            snprintf(buf, n, "auto");
        else
            snprintf(buf, n, "%lld", (long long)*(const int64_t *)base);
        break;
    case T_EVERY:
        if (c->ckpt_unit == PP_EVERY_NONE)
            snprintf(buf, n, "none");
        else
            snprintf(buf, n, "%lld%s", (long long)c->ckpt_every,
                     c->ckpt_unit == PP_EVERY_STEPS ? "steps" : "epochs");
        break;
    case T_VSPLIT:
    case T_SCHED:
        snprintf(buf, n, "%s", base);
        break;
    case T_MONITOR:
        snprintf(buf, n, "%s",
                 *(const int *)base == PP_MONITOR_VAL_LOSS       ? "val_loss"
                 : *(const int *)base == PP_MONITOR_VAL_ACCURACY ? "val_accuracy"
                                                                 : "auto");
        break;
    case T_STOP:
        if (c->stop_unit == PP_STOP_NONE)
            snprintf(buf, n, "none");
        else
            snprintf(buf, n, "%lld%s", (long long)c->stop_after,
                     c->stop_unit == PP_STOP_STEPS ? "steps" : "s");
        break;
    }
}

char *pp_config_format(const pp_config *c, int cmd)
{
    size_t cap = 16384, len = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < NOPTS; i++) {
        if (!(OPTS[i].cmds & cmd)) continue;
        char v[1100];
        format_value(c, &OPTS[i], v, sizeof v);
        int w = snprintf(out + len, cap - len, "%s = %s\n", OPTS[i].name, v);
        if (w > 0 && (size_t)w < cap - len) len += (size_t)w;
    }
    return out;
}

void pp_config_print_help(FILE *out, int cmd)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (!(OPTS[i].cmds & cmd)) continue;
        char name[64];
        snprintf(name, sizeof name, "--%s", OPTS[i].name);
        fprintf(out, "  %-22s %s", name, OPTS[i].help);
        if (OPTS[i].type == T_BYTES)
            fprintf(out, " [default: auto, here %.1f GiB]",
                    (double)pp_config_default_budget() / 1073741824.0);
        else if (*OPTS[i].def)
            fprintf(out, " [default: %s]", OPTS[i].def);
        fputc('\n', out);
    }
    fprintf(out, "  %-22s %s\n", "--config FILE",
            "read 'key = value' lines with the option names above (the command line wins)");
    fprintf(out, "  %-22s %s\n", "--help", "this text");
}

pp_status pp_config_env_threads(int64_t *out)
{
    *out = 0;
    const char *s = getenv("OMP_NUM_THREADS");
    if (!s || !*s) return pp_ok();
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    /* OpenMP allows a list "4,2" for nesting; the first level is ours */
    if (end == s || (*end && *end != ',') || errno || v < 1 || v > 1024)
        return pp_error(
            PP_ERR_USAGE,
            "environment variable OMP_NUM_THREADS='%s' is not a thread count (expected 1…1024)", s);
    *out = v;
    return pp_ok();
}
