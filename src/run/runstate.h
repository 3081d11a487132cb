/* Private: the run directory — checkpoint names, discovery for resume, retention, metrics. */
#ifndef PARAPROP_RUNSTATE_H
#define PARAPROP_RUNSTATE_H

#include <stdint.h>
#include <stdio.h>

#include "paraprop/checkpoint.h"
#include "paraprop/status.h"

/* mkdir -p */
pp_status runstate_mkdirs(const char *path);

/* DIR/step-<global step, 12 digits>.h5 */
void runstate_ckpt_name(const char *dir, int64_t global_step, char *out, size_t n);

/* The valid checkpoint in dir furthest into training by its stored global step, into path (""
 * when dir holds none). Invalid ones are reported to log by name and skipped; when all are
 * invalid: an error. Unsealed ones count as invalid unless allow_unsealed (pp_checkpoint_read). */
pp_status runstate_find_latest(const char *dir, int allow_unsealed, char *path, size_t n,
                               FILE *log);

/* The global step in the highest checkpoint name in dir, or -1 when there is none. */
int64_t runstate_newest_step(const char *dir);

/* Deletes all but the newest keep checkpoints (by name: the global step), never keep_path (the
 * file just written, which counts as one of the kept), and the .tmp files of interrupted
 * writes. */
void runstate_prune(const char *dir, int64_t keep, const char *keep_path);

/* Rewrites metrics.jsonl from a checkpoint's history (so a resumed run's file matches). */
pp_status runstate_metrics_rewrite(const char *path, const pp_metrics_row *rows, size_t n,
                                   const char *const *fingerprints);

/* Drops epoch lines after max_epoch and step lines after max_gstep from metrics.jsonl (a resume
 * from an older checkpoint replays them); recreates it from rows when missing. */
pp_status runstate_metrics_truncate(const char *path, int64_t max_epoch, int64_t max_gstep,
                                    const pp_metrics_row *rows, size_t n);

/* Appends one JSON line for an epoch. */
pp_status runstate_metrics_append(const char *path, const pp_metrics_row *row,
                                  const char *fingerprint, int64_t samples_seen);

/* Appends an event line: {"event": "...", ...detail}. event: up to 31 bytes. detail is a JSON
 * fragment or "" (its strings made with json_quote, json.h). */
void runstate_event(const char *path, const char *event, const char *detail);

#endif
