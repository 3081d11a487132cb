/* Run configuration: one table of options shared by the command line, `--config FILE`
 * (key = value lines with the same keys), --help, and the resolved config.txt. */
#ifndef PARAPROP_CONFIG_H
#define PARAPROP_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "paraprop/net.h"
#include "paraprop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which commands an option belongs to. */
enum {
    PP_CMD_TRAIN = 1,
    PP_CMD_BENCH = 2,
    PP_CMD_GRADCHECK = 4,
    PP_CMD_EVAL = 8,
};

enum { PP_EVERY_NONE = 0, PP_EVERY_STEPS = 1, PP_EVERY_EPOCHS = 2 };
enum { PP_STOP_NONE = 0, PP_STOP_STEPS = 1, PP_STOP_SECONDS = 2 };
/* --monitor: auto becomes val_loss when there is validation data (and stays auto without). */
enum { PP_MONITOR_AUTO = 0, PP_MONITOR_VAL_LOSS = 1, PP_MONITOR_VAL_ACCURACY = 2 };

/* Where the training set lives (--data-mode, docs/DATA.md). */
enum { PP_DATA_AUTO = 0, PP_DATA_RANK = 1, PP_DATA_NODE = 2, PP_DATA_STREAM = 3 };

typedef struct pp_config {
    char data[1024];
    char layers[512];
    int L; /* weight layers parsed from layers */
    size_t sizes[PP_MAX_LAYERS + 1];
    pp_activation hidden, output;
    pp_cost cost;
    int64_t epochs, batch_size;
    double eta, l2, momentum;
    int optimizer;                 /* pp_optimizer (paraprop/optim.h) */
    double beta1, beta2, adam_eps; /* adam, adamw */
    double l1;                     /* L1 strength λ₁ */
    double clip_norm;              /* --clip-norm: the largest ‖∇C₀‖₂ applied (0: none) */
    char dropout[512];             /* --dropout as given, normalised */
    int ndrop;                     /* values in drop_p: 1 (every hidden layer) or L − 1 */
    double drop_p[PP_MAX_LAYERS + 1];
    uint64_t seed;
    pp_init init;
    int shuffle;
    char init_from[1024];
    int allow_unsealed; /* --allow-unsealed on: read checkpoints that carry no seal */
    char run_dir[1024];
    int64_t threads; /* 0: OMP_NUM_THREADS, else cores / ranks */
    int exact;       /* --reduction exact */

    int data_mode;         /* PP_DATA_* */
    int64_t memory_budget; /* bytes of a node's memory for the training set; 0: auto */

    int64_t ckpt_every;
    int ckpt_unit;
    int64_t keep;
    char ckpt_dir[1024];
    char resume[1024];
    int64_t stop_after; /* steps or seconds of this run (stop_unit), then checkpoint, exit 75 */
    int stop_unit;
    int progress;          /* -1 auto (on a terminal), 0 off, 1 on */
    int64_t steps, warmup; /* bench */
    char json[1024];       /* bench output */
    int64_t gc_samples;    /* gradcheck */
    double gc_eps;
    char model[1024]; /* eval */
    char split[16];
    /* validation, early stopping, schedules, logging (docs/TRAINING.md) */
    char val_split[32];   /* --validation-split as given: "none", a count N or a fraction F */
    int64_t val_count;    /* N, or 0 */
    double val_frac;      /* F in (0, 1), or 0 */
    int64_t early_stop;   /* patience in epochs, 0 off */
    int monitor;          /* PP_MONITOR_* */
    char lr_schedule[64]; /* constant | step:EVERY:GAMMA | cosine[:WARMUP] | plateau:P:F:MIN */
    int64_t log_every;    /* steps between step lines, 0 off */
} pp_config;

/* Defaults for every option. */
void pp_config_defaults(pp_config *c);

/* Parses argv[first…argc) for command `cmd` (PP_CMD_*): first any --config FILE, then the
 * options, so the command line wins. "--help" sets *help. Unknown options, bad values and
 * options of other commands are PP_ERR_USAGE naming the option and the value. */
pp_status pp_config_parse(pp_config *c, int cmd, int argc, char **argv, int first, int *help);

/* Reads key = value lines ('#' starts a comment) into c. */
pp_status pp_config_load_file(pp_config *c, int cmd, const char *path);

/* Validates the combination (pairs, sizes, required options) and fills L/sizes. */
pp_status pp_config_check(pp_config *c, int cmd);

/* The drop probability of hidden layer l (1 … L − 1) under --dropout; 0 elsewhere. */
double pp_config_dropout(const pp_config *c, int l);

/* Writes the resolved configuration as key = value lines. Returns a malloc'd string. */
char *pp_config_format(const pp_config *c, int cmd);

/* Prints the option table for command cmd (the truth behind --help). */
void pp_config_print_help(FILE *out, int cmd);

/* Parses "N" or a unit suffix: "500steps", "1epoch", "2epochs"; "0" or "none" disables. */
pp_status pp_config_parse_every(const char *s, int64_t *n, int *unit);

/* Parses "500steps", "90s", "30m", "2h"; "0" or "none" disables. */
pp_status pp_config_parse_stop(const char *s, int64_t *n, int *unit);

/* "auto", "rank", "node", "stream" ↔ PP_DATA_*; -1 for anything else. */
int pp_data_mode_parse(const char *s);
const char *pp_data_mode_name(int mode);

/* Parses a byte count for option `name`: "auto" (0), "123", "800MiB", "1.5G", "2TiB". */
pp_status pp_config_parse_bytes(const char *name, const char *s, int64_t *out);

/* --memory-budget auto: half of this node's physical memory. */
int64_t pp_config_default_budget(void);

/* Reads OMP_NUM_THREADS strictly: 0 if unset, a positive count, or PP_ERR_USAGE. */
pp_status pp_config_env_threads(int64_t *out);

#ifdef __cplusplus
}
#endif
#endif
