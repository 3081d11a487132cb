/* The training loop: epochs of shuffled minibatches, evaluation, metrics, checkpoints,
 * resume, and agreed stops on signals. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paraprop/checkpoint.h"
#include "paraprop/train.h"
#include "core/fault.h"
#include "json.h"
#include "runstate.h"
#include "schedule.h"
#include "trainer.h"
#include "validation.h"

typedef struct loop_state {
    int64_t epoch, step, samples, gstep;
    int64_t run_steps; /* steps taken by this process, since its start or resume */
    double loss_sum;
    int64_t loss_count;
    double elapsed0, t_start;
    pp_metrics_row *hist;
    size_t nhist, caphist;
    char ckdir[4096], metrics[4200], last_ckpt[4200];
    int64_t last_ckpt_gstep;
    schedule sched;
    pp_train_state ts; /* η, best and patience: checkpointed */
    /* --log-every: the interval since the last step line */
    double log_cost, log_t0;
    int64_t log_n;
    pp_phase_times log_prev;
} loop_state;

static double elapsed(const loop_state *s)
{
    return s->elapsed0 + (omp_get_wtime() - s->t_start);
}

/* Fills a checkpoint description that borrows the trainer's buffers. */
static void describe(const trainer *t, const loop_state *s, char *config, pp_checkpoint *ck)
{
    memset(ck, 0, sizeof *ck);
    ck->arch = t->arch;
    ck->params = t->params;
    ck->velocity = t->ost.vel;
    ck->adam_m = t->ost.m;
    ck->adam_v = t->ost.v;
    snprintf(ck->optimizer, sizeof ck->optimizer, "%s", pp_optimizer_name(t->opt.kind));
    ck->optimizer_t = t->ost.t;
    ck->seed = t->cfg->seed;
    ck->epoch = s->epoch;
    ck->step = s->step;
    ck->global_step = s->gstep;
    ck->samples_seen = s->samples;
    ck->batch_size = t->cfg->batch_size;
    ck->ranks = t->R;
    ck->threads = t->T;
    snprintf(ck->reduction, sizeof ck->reduction, "%s", t->cfg->exact ? "exact" : "fast");
    ck->loss_sum = s->loss_sum;
    ck->loss_count = s->loss_count;
    ck->elapsed = elapsed(s);
    ck->data_samples = (int64_t)t->info.n_train;
    ck->data_inputs = (int64_t)t->info.d;
    ck->data_outputs = (int64_t)t->info.k;
    snprintf(ck->data_path, sizeof ck->data_path, "%s", t->cfg->data);
    ck->config = config;
    ck->metrics = s->hist;
    ck->nmetrics = s->nhist;
    ck->state = s->ts;
    ck->has_state = 1;
}

/* Parameters that an update overflowed (from a finite gradient) are never saved: checked before
 * every checkpoint and at the end of every epoch, so the overflowing step is at or before the
 * point named. */
static pp_status check_params(const trainer *t, const loop_state *s)
{
    pp_status st = trainer_check_params(t);
    if (!st.code) return st;
    return pp_error(st.code,
                    "training diverged: the parameters are not finite after %lld step(s) (epoch "
                    "%lld): %s; no checkpoint of the diverged state was written (try a lower "
                    "--learning-rate, now %g)",
                    (long long)s->gstep, (long long)s->epoch + 1, st.msg, t->cfg->eta);
}

/* Rank 0 writes; every rank learns the outcome. */
static pp_status write_checkpoint(trainer *t, loop_state *s, char *config, const char *path,
                                  int prune)
{
    double t0 = omp_get_wtime();
    pp_status st = check_params(t, s);
    if (!st.code && t->rank == 0) {
        pp_checkpoint ck;
        describe(t, s, config, &ck);
        st = pp_checkpoint_write(path, &ck);
        if (!st.code && prune) runstate_prune(s->ckdir, t->cfg->keep, path);
    }
    st = pp_comm_agree(t->comm, st);
    t->times.checkpoint += omp_get_wtime() - t0;
    if (!st.code && prune) {
        snprintf(s->last_ckpt, sizeof s->last_ckpt, "%s", path);
        s->last_ckpt_gstep = s->gstep;
    }
    return st;
}

static pp_status checkpoint_now(trainer *t, loop_state *s, char *config)
{
    char path[4200];
    runstate_ckpt_name(s->ckdir, s->gstep, path, sizeof path);
    return write_checkpoint(t, s, config, path, 1);
}

static int same_sizes(const pp_arch *a, const pp_arch *b)
{
    if (a->L != b->L) return 0;
    for (int l = 0; l <= a->L; l++)
        if (a->n[l] != b->n[l]) return 0;
    return 1;
}

static void sizes_text(const pp_arch *a, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int l = 0; l <= a->L && len < n; l++)
        len += (size_t)snprintf(buf + len, n - len, "%s%zu", l ? "," : "", a->n[l]);
}

/* The value of `key = value` in a checkpoint's config text into out ("" when absent). */
static void config_value(const char *text, const char *key, char *out, size_t n)
{
    out[0] = '\0';
    size_t kl = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, key, kl) == 0 && strncmp(p + kl, " = ", 3) == 0) {
            size_t vl = strcspn(p + kl + 3, "\n");
            snprintf(out, n, "%.*s", (int)vl, p + kl + 3);
            return;
        }
}

/* Refuses a checkpoint that belongs to another model, batch or dataset, or whose resumption
 * would silently change the sample order or restart the momentum. */
static pp_status check_match(const trainer *t, const pp_checkpoint *ck, const char *path)
{
    const pp_arch *a = &t->arch, *b = &ck->arch;
    char x[256], y[256];
    if (!same_sizes(a, b)) {
        sizes_text(b, x, sizeof x);
        sizes_text(a, y, sizeof y);
        return pp_error(PP_ERR_USAGE, "cannot resume from %s: it has layers %s, this run %s", path,
                        x, y);
    }
    if (a->L > 1 && a->hidden != b->hidden)
        return pp_error(PP_ERR_USAGE, "cannot resume from %s: hidden activation %s, this run %s",
                        path, pp_activation_name(b->hidden), pp_activation_name(a->hidden));
    if (a->output != b->output)
        return pp_error(PP_ERR_USAGE, "cannot resume from %s: output activation %s, this run %s",
                        path, pp_activation_name(b->output), pp_activation_name(a->output));
    if (a->cost != b->cost)
        return pp_error(PP_ERR_USAGE, "cannot resume from %s: cost %s, this run %s", path,
                        pp_cost_name(b->cost), pp_cost_name(a->cost));
    if (ck->batch_size != t->cfg->batch_size)
        return pp_error(PP_ERR_USAGE,
                        "cannot resume from %s: global batch size %lld, this run %lld", path,
                        (long long)ck->batch_size, (long long)t->cfg->batch_size);
    if (ck->data_samples != (int64_t)t->info.n_train || ck->data_inputs != (int64_t)t->info.d ||
        ck->data_outputs != (int64_t)t->info.k)
        return pp_error(PP_ERR_USAGE,
                        "cannot resume from %s: it was trained on %s (%lld samples × %lld inputs, "
                        "%lld outputs), this run's data %s has %zu × %zu, %zu",
                        path, ck->data_path, (long long)ck->data_samples,
                        (long long)ck->data_inputs, (long long)ck->data_outputs, t->cfg->data,
                        t->info.n_train, t->info.d, t->info.k);
    if (ck->seed != t->cfg->seed)
        return pp_error(PP_ERR_USAGE, "cannot resume from %s: seed %llu, this run %llu", path,
                        (unsigned long long)ck->seed, (unsigned long long)t->cfg->seed);
    /* the epoch's order is regenerated on resume, so it must be the order the epoch began with */
    char shuffle[16];
    config_value(ck->config ? ck->config : "", "shuffle", shuffle, sizeof shuffle);
    if (*shuffle && strcmp(shuffle, t->cfg->shuffle ? "on" : "off") != 0)
        return pp_error(PP_ERR_USAGE, "cannot resume from %s: --shuffle %s, this run %s", path,
                        shuffle, t->cfg->shuffle ? "on" : "off");
    /* a different hold-out, schedule or monitored value would make another run, not this one */
    static const char *const same[3] = {"validation-split", "lr-schedule", "monitor"};
    for (int i = 0; i < 3; i++) {
        char mine[128], theirs[128];
        char *cfgtext = pp_config_format(t->cfg, PP_CMD_TRAIN);
        config_value(cfgtext ? cfgtext : "", same[i], mine, sizeof mine);
        free(cfgtext);
        config_value(ck->config ? ck->config : "", same[i], theirs, sizeof theirs);
        /* files from before these options hold none: they trained with none, constant, auto */
        if (!*theirs)
            snprintf(theirs, sizeof theirs, "%s", i == 0 ? "none" : i == 1 ? "constant" : mine);
        if (strcmp(mine, theirs) != 0)
            return pp_error(PP_ERR_USAGE, "cannot resume from %s: --%s %s, this run %s", path,
                            same[i], theirs, mine);
    }
    /* another optimizer's state is no start for this one: a new run from the weights is */
    const char *want = pp_optimizer_name(t->opt.kind);
    if (strcmp(ck->optimizer, want) != 0)
        return pp_error(PP_ERR_USAGE,
                        "cannot resume from %s: it was trained with --optimizer %s, this run has "
                        "--optimizer %s, whose state would start from nothing; resume with "
                        "--optimizer %s, or start a new run from its weights with --init-from",
                        path, ck->optimizer, want, ck->optimizer);
    if (t->ost.vel && !ck->velocity)
        return pp_error(PP_ERR_USAGE,
                        "cannot resume from %s: it holds no momentum velocity (written with "
                        "--momentum 0) but this run has --momentum %g, whose velocity would "
                        "restart at zero; resume with --momentum 0, or start a new run from its "
                        "weights with --init-from",
                        path, t->cfg->momentum);
    return pp_ok();
}

static pp_status resume_from(trainer *t, loop_state *s, const char *path, FILE *log)
{
    pp_checkpoint ck;
    pp_status st = pp_checkpoint_read(path, t->cfg->allow_unsealed, &ck);
    if (!st.code) st = check_match(t, &ck, path);
    st = pp_comm_agree(t->comm, st);
    if (st.code) {
        pp_checkpoint_free(&ck);
        return st;
    }
    if (trainer_params_writer(t)) { /* one rank of the node, for node-shared parameters */
        memcpy(t->params, ck.params, t->arch.nparams * sizeof *t->params);
        if (ck.velocity && t->ost.vel)
            memcpy(t->ost.vel, ck.velocity, t->arch.nparams * sizeof *t->ost.vel);
        if (ck.adam_m && t->ost.m) memcpy(t->ost.m, ck.adam_m, t->arch.nparams * sizeof *t->ost.m);
        if (ck.adam_v && t->ost.v) memcpy(t->ost.v, ck.adam_v, t->arch.nparams * sizeof *t->ost.v);
    }
    st = trainer_params_written(t);
    if (st.code) {
        pp_checkpoint_free(&ck);
        return st;
    }
    t->ost.t = ck.optimizer_t;
    s->epoch = ck.epoch;
    s->step = ck.step;
    s->gstep = ck.global_step;
    s->samples = ck.samples_seen;
    s->loss_sum = ck.loss_sum;
    s->loss_count = ck.loss_count;
    s->elapsed0 = ck.elapsed;
    s->hist = ck.metrics;
    s->nhist = s->caphist = ck.nmetrics;
    ck.metrics = NULL;
    if (ck.has_state) s->ts = ck.state; /* else the fresh state pp_train set */
    if (log)
        fprintf(log,
                "paraprop: resuming from %s (epoch %lld, step %lld, global step %lld, %lld "
                "samples seen%s)\n",
                path, (long long)ck.epoch + 1, (long long)ck.step, (long long)ck.global_step,
                (long long)ck.samples_seen,
                strcmp(ck.reduction, t->cfg->exact ? "exact" : "fast") ? "; reduction mode changed"
                                                                       : "");
    int64_t ahead = log && *t->cfg->resume ? runstate_newest_step(s->ckdir) : -1;
    if (ahead > ck.global_step)
        fprintf(log,
                "paraprop: warning: %s holds checkpoints beyond this one (up to global step "
                "%lld), from the training this resume leaves; a later resume without --resume "
                "would take the furthest of them: move them away\n",
                s->ckdir, (long long)ahead);
    pp_checkpoint_free(&ck);
    return pp_ok();
}

static pp_status push_hist(loop_state *s, const pp_metrics_row *r)
{
    if (s->nhist == s->caphist) {
        size_t cap = s->caphist ? 2 * s->caphist : 64;
        pp_metrics_row *h = realloc(s->hist, cap * sizeof *h);
        if (!h) return pp_error(PP_ERR_NOMEM, "out of memory for the metrics history");
        s->hist = h;
        s->caphist = cap;
    }
    s->hist[s->nhist++] = *r;
    return pp_ok();
}

static pp_status write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return pp_error(PP_ERR_WRITE, "cannot write %s", path);
    fputs(text, f);
    if (fclose(f) != 0) return pp_error(PP_ERR_WRITE, "cannot write %s", path);
    return pp_ok();
}

/* --stop-after: is this run's budget used up once the coming step is done? */
static int budget_spent(const pp_config *cfg, const loop_state *s)
{
    if (cfg->stop_unit == PP_STOP_STEPS) return s->run_steps + 1 >= cfg->stop_after;
    if (cfg->stop_unit == PP_STOP_SECONDS)
        return omp_get_wtime() - s->t_start >= (double)cfg->stop_after;
    return 0;
}

/* --log-every: one line for the steps since the last one. Collective (every rank reaches the
 * same global step): the phase times are reduced to min/mean/max over the ranks. */
static pp_status log_step(trainer *t, loop_state *s, FILE *log, int progress, int64_t S)
{
    const pp_phase_times *a = &t->times, *b = &s->log_prev;
    double v[8] = {a->data - b->data, a->compute - b->compute, a->allreduce - b->allreduce,
                   a->optimizer - b->optimizer};
    double sum[4];
    for (int i = 0; i < 4; i++) v[4 + i] = -v[i], sum[i] = v[i];
    PP_TRY(pp_comm_max_double(t->comm, v, 8));
    PP_TRY(pp_comm_sum_double(t->comm, sum, 4));
    double now = omp_get_wtime(), dt = now - s->log_t0;
    double loss = s->log_n ? s->log_cost / (double)s->log_n : 0;
    double sps = dt > 0 ? (double)s->log_n / dt : 0;
    if (t->rank == 0) {
        static const char *const names[4] = {"data", "compute", "allreduce", "optimizer"};
        char detail[1024];
        int len = snprintf(detail, sizeof detail,
                           "\"global_step\": %lld, \"epoch\": %lld, \"step\": %lld, \"loss\": "
                           "%.10g, \"lr\": %.17g, \"samples_per_s\": %.6g",
                           (long long)s->gstep, (long long)s->epoch + 1, (long long)s->step + 1,
                           loss, t->opt.eta, sps);
        for (int i = 0; i < 4 && len > 0 && (size_t)len < sizeof detail; i++)
            len += snprintf(detail + len, sizeof detail - (size_t)len,
                            ", \"%s_s\": {\"min\": %.6g, \"mean\": %.6g, \"max\": %.6g}", names[i],
                            -v[4 + i], sum[i] / t->R, v[i]);
        runstate_event(s->metrics, "step", detail);
        /* under a batch system the live line is off: give the log something every N steps */
        if (log && !progress && !isatty(2)) {
            fprintf(stderr,
                    "paraprop: epoch %lld step %lld/%lld (global %lld): loss %.4f  lr %.6g  %.0f "
                    "samples/s  compute %.3fs  allreduce %.3fs (max over ranks)\n",
                    (long long)s->epoch + 1, (long long)s->step + 1, (long long)S,
                    (long long)s->gstep, loss, t->opt.eta, sps, v[1], v[2]);
            fflush(stderr);
        }
    }
    s->log_prev = t->times;
    s->log_cost = 0;
    s->log_n = 0;
    s->log_t0 = now;
    return pp_ok();
}

static pp_status run_loop(trainer *t, loop_state *s, char *config, FILE *log, int progress,
                          pp_train_result *res)
{
    const pp_config *cfg = t->cfg;
    const size_t N = t->info.n_train, B = (size_t)cfg->batch_size;
    const int64_t S = (int64_t)((N + B - 1) / B);
    if (s->ts.stopped) {
        /* resumed from the checkpoint that ended the run: nothing is left to train */
        res->early_stopped = (int)s->ts.stopped;
        res->best_epoch = s->ts.best_epoch;
        if (log)
            fprintf(log, "paraprop: this run already ended (%s after epoch %lld); nothing to do\n",
                    s->ts.stopped == 1 ? "early stop" : "learning rate at its floor",
                    (long long)s->epoch);
        return pp_ok();
    }
    for (; s->epoch < cfg->epochs; s->epoch++) {
        trainer_order(t, s->epoch);
        double te0 = omp_get_wtime(), last_prog = 0;
        int64_t samples0 = s->samples;
        for (; s->step < S; s->step++) {
            size_t lo = (size_t)s->step * B, n = N - lo < B ? N - lo : B;
            int stop = 0, budget = budget_spent(cfg, s);
            double c = 0;
            /* a function of the stored state only, so every rank and a resume agree */
            t->opt.eta = schedule_eta(&s->sched, cfg->eta, cfg->epochs, S, s->gstep, &s->ts);
            t->drop.step = (uint64_t)s->gstep; /* this step's dropout masks */
            /* any rank's request stops every rank after this step (the step agrees on it) */
            pp_status st =
                trainer_step(t, t->perm + lo, n, pp_signals_pending() || budget, &stop, &c);
            if (st.code == PP_ERR_DIVERGED) {
                pp_status d =
                    pp_error(st.code,
                             "training diverged at epoch %lld, step %lld: %s; no "
                             "checkpoint of the diverged state was written (try a lower "
                             "--learning-rate, now %g)",
                             (long long)s->epoch + 1, (long long)s->step + 1, st.msg, cfg->eta);
                d.agreed = st.agreed; /* a new message, the same agreement */
                return d;
            }
            if (st.code) return st;
            s->loss_sum += c;
            s->loss_count += (int64_t)n;
            s->samples += (int64_t)n;
            s->gstep++;
            s->run_steps++;
            s->log_cost += c;
            s->log_n += (int64_t)n;
            if (cfg->log_every > 0 && s->gstep % cfg->log_every == 0)
                PP_TRY(log_step(t, s, log, progress, S));
            if (log && progress) {
                double now = omp_get_wtime();
                if (now - last_prog > 0.25) {
                    last_prog = now;
                    fprintf(stderr,
                            "\r  epoch %lld/%lld  step %lld/%lld  loss %.4f  %.0f samples/s ",
                            (long long)s->epoch + 1, (long long)cfg->epochs, (long long)s->step + 1,
                            (long long)S, s->loss_sum / (double)s->loss_count,
                            (double)(s->samples - samples0) / (now - te0));
                    fflush(stderr);
                }
            }
            if (stop) {
                s->step++;
                if (log && progress) fprintf(stderr, "\r\033[K");
                double ck0 = t->times.checkpoint;
                PP_TRY(checkpoint_now(t, s, config));
                res->stopped_early = 1;
                if (log)
                    fprintf(log,
                            "paraprop: %s; checkpoint written to %s (epoch %lld, step %lld, "
                            "global step %lld); exiting with status %d (resume by running the "
                            "same command again)\n",
                            budget && !pp_signals_pending() ? "--stop-after reached"
                                                            : "stop requested",
                            s->last_ckpt, (long long)s->epoch + 1, (long long)s->step,
                            (long long)s->gstep, PP_EXIT_PREEMPTED);
                /* what a Slurm --signal lead / KillWait must cover (jobs/README.md) */
                if (log)
                    fprintf(log, "paraprop: stop checkpoint written in %.3f s\n",
                            t->times.checkpoint - ck0);
                return pp_ok();
            }
            if (cfg->ckpt_unit == PP_EVERY_STEPS && s->gstep % cfg->ckpt_every == 0) {
                s->step++;
                pp_status cs = checkpoint_now(t, s, config);
                s->step--;
                if (cs.code) return cs;
            }
        }
        /* end of epoch: evaluate, record, maybe checkpoint */
        if (log && progress) fprintf(stderr, "\r\033[K");
        PP_TRY(pp_comm_agree(t->comm, check_params(t, s)));
        double tl = -1, ta = -1, vl = -1, va = -1;
        if (t->info.has_test) PP_TRY(trainer_evaluate(t, &t->test, t->info.n_test, &tl, &ta, NULL));
        if (t->has_val) PP_TRY(validation_evaluate(t, &vl, &va));
        double dt = omp_get_wtime() - te0;
        pp_metrics_row row = {
            s->epoch + 1,
            s->loss_count ? s->loss_sum / (double)s->loss_count : 0,
            tl,
            ta,
            elapsed(s),
            dt > 0 ? (double)(s->samples - samples0) / dt : 0,
            vl,
            va,
            schedule_eta(&s->sched, cfg->eta, cfg->epochs, S, s->epoch * S, &s->ts)};
        int improved = 0, stop = 0;
        if (t->has_val)
            schedule_epoch_end(&s->sched, cfg->monitor, cfg->early_stop, s->epoch + 1,
                               cfg->monitor == PP_MONITOR_VAL_ACCURACY ? va : vl, &s->ts, &improved,
                               &stop);
        /* the history's growth is agreed with rank 0's metrics line */
        pp_status ms = pp_fault("history-alloc", t->rank)
                           ? pp_error(PP_ERR_NOMEM, "out of memory for the metrics history")
                           : push_hist(s, &row);
        char fp[65];
        pp_params_fingerprint(t->params, t->arch.nparams, fp);
        if (!ms.code && t->rank == 0) {
            ms = runstate_metrics_append(s->metrics, &row, fp, s->samples);
            if (log) {
                fprintf(log, "epoch %3lld/%lld  train_loss %.4f", (long long)row.epoch,
                        (long long)cfg->epochs, row.train_loss);
                if (ta >= 0) fprintf(log, "  test_loss %.4f  test_acc %.4f", tl, ta);
                if (va >= 0) fprintf(log, "  val_loss %.4f  val_acc %.4f", vl, va);
                fprintf(log, "  lr %.6g  %9.0f samples/s  %8.1fs\n", row.lr, row.samples_per_s,
                        row.seconds);
                fflush(log);
            }
        }
        PP_TRY(pp_comm_agree(t->comm, ms));
        res->test_loss = tl;
        res->test_accuracy = ta;
        s->loss_sum = 0;
        s->loss_count = 0;
        s->step = 0;
        if (improved) {
            /* the best model so far, as a complete checkpoint of the end of this epoch */
            char best[4200];
            snprintf(best, sizeof best, "%s/best.h5", cfg->run_dir);
            s->epoch++;
            pp_status bs = write_checkpoint(t, s, config, best, 0);
            s->epoch--;
            if (bs.code) return bs;
        }
        if ((cfg->ckpt_unit == PP_EVERY_EPOCHS && (s->epoch + 1) % cfg->ckpt_every == 0) ||
            (stop && cfg->ckpt_unit != PP_EVERY_NONE)) {
            /* the stopping epoch's checkpoint too, so a resume learns that the run is over */
            s->epoch++;
            pp_status cs = checkpoint_now(t, s, config);
            s->epoch--;
            if (cs.code) return cs;
        }
        if (stop) {
            s->epoch++;
            res->early_stopped = stop;
            res->best_epoch = s->ts.best_epoch;
            if (log) {
                const char *m =
                    cfg->monitor == PP_MONITOR_VAL_ACCURACY ? "val_accuracy" : "val_loss";
                if (stop == 1)
                    fprintf(log,
                            "paraprop: early stop after epoch %lld: %s has not improved for %lld "
                            "epoch(s) (--early-stop %lld); best %s %.6g at epoch %lld, in "
                            "%s/best.h5\n",
                            (long long)s->epoch, m, (long long)s->ts.patience_count,
                            (long long)cfg->early_stop, m, s->ts.best_metric,
                            (long long)s->ts.best_epoch, cfg->run_dir);
                else
                    fprintf(log,
                            "paraprop: stopped after epoch %lld: the plateau schedule's learning "
                            "rate is at its floor %g and %s has not improved for another %lld "
                            "epochs; best %s %.6g at epoch %lld, in %s/best.h5\n",
                            (long long)s->epoch, s->ts.lr, m, (long long)s->sched.patience, m,
                            s->ts.best_metric, (long long)s->ts.best_epoch, cfg->run_dir);
                fflush(log);
            }
            return pp_ok();
        }
    }
    return pp_ok();
}

pp_status pp_train(pp_comm *comm, pp_config *cfg, FILE *out, pp_train_result *res)
{
    memset(res, 0, sizeof *res);
    res->test_loss = res->test_accuracy = -1;
    PP_TRY(pp_comm_agree(comm, pp_config_check(cfg, PP_CMD_TRAIN)));
    const int rank = pp_comm_rank(comm);
    FILE *log = rank == 0 ? out : NULL;
    loop_state s;
    memset(&s, 0, sizeof s);
    s.last_ckpt_gstep = -1;
    PP_TRY(pp_comm_agree(comm, schedule_parse(cfg->lr_schedule, &s.sched)));
    if (*cfg->ckpt_dir)
        snprintf(s.ckdir, sizeof s.ckdir, "%s", cfg->ckpt_dir);
    else
        snprintf(s.ckdir, sizeof s.ckdir, "%s/checkpoints", cfg->run_dir);
    snprintf(s.metrics, sizeof s.metrics, "%s/metrics.jsonl", cfg->run_dir);
    pp_status st = pp_ok();
    char resume[4200];
    snprintf(resume, sizeof resume, "%s", cfg->resume);
    if (rank == 0) {
        st = runstate_mkdirs(cfg->run_dir);
        if (!st.code) st = runstate_mkdirs(s.ckdir);
        if (!st.code && !*resume)
            st = runstate_find_latest(s.ckdir, cfg->allow_unsealed, resume, sizeof resume, stderr);
    }
    st = pp_comm_agree(comm, st);
    if (!st.code) st = pp_comm_bcast(comm, resume, sizeof resume, 0);
    if (st.code) return st;

    trainer t;
    st = trainer_setup(&t, comm, cfg, 1);
    if (st.code) {
        trainer_end(&t, st);
        return st;
    }
    /* after the set-up, which resolved --monitor auto */
    schedule_state_init(&s.ts, cfg->eta, cfg->monitor);
    char *config = pp_fault("config-format", rank) ? NULL : pp_config_format(cfg, PP_CMD_TRAIN);
    if (!config) st = pp_error(PP_ERR_NOMEM, "out of memory formatting the configuration");
    st = pp_comm_agree(comm, st); /* before resume_from's agreement and the ones after it */
    if (!st.code && *resume) st = resume_from(&t, &s, resume, log);
    if (!st.code && rank == 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/config.txt", cfg->run_dir);
        st = write_text(path, config);
        if (!st.code && *resume)
            st = runstate_metrics_truncate(s.metrics, s.epoch, s.gstep, s.hist, s.nhist);
        else if (!st.code)
            st = write_text(s.metrics, "");
        char qres[JSON_QUOTED_MAX(sizeof resume)], detail[sizeof qres + 256];
        json_quote(qres, sizeof qres, resume); /* a run directory may hold '"' or '\\' */
        snprintf(detail, sizeof detail,
                 "\"ranks\": %d, \"threads\": %d, \"resumed_from\": %s, \"data_mode\": \"%s\", "
                 "\"data_bytes\": %.0f, \"memory_budget\": %.0f",
                 t.R, t.T, qres, trainer_data_mode(&t), t.data_bytes, t.data_budget);
        if (!st.code) runstate_event(s.metrics, *resume ? "resume" : "start", detail);
        if (log && !st.code)
            fprintf(log,
                    "paraprop %s: %d rank(s) × %d thread(s), layers %s, batch %lld, %zu training "
                    "samples, reduction %s, data mode %s\n",
                    PARAPROP_VERSION, t.R, t.T, cfg->layers, (long long)cfg->batch_size,
                    t.info.n_train, cfg->exact ? "exact" : "fast", trainer_data_mode(&t));
    }
    st = pp_comm_agree(comm, st);
    int progress = cfg->progress < 0 ? isatty(2) : cfg->progress;
    s.t_start = omp_get_wtime();
    s.log_t0 = s.t_start;
    if (!st.code) st = run_loop(&t, &s, config, log, progress, res);
    if (!st.code && !res->stopped_early) {
        /* the end: a last checkpoint (unless one was just written) and the final model */
        if (cfg->ckpt_unit != PP_EVERY_NONE && s.last_ckpt_gstep != s.gstep)
            st = checkpoint_now(&t, &s, config);
        snprintf(res->final_model, sizeof res->final_model, "%s/final.h5", cfg->run_dir);
        if (!st.code) st = write_checkpoint(&t, &s, config, res->final_model, 0);
        if (!st.code && t.info.has_test && res->test_accuracy < 0)
            st = trainer_evaluate(&t, &t.test, t.info.n_test, &res->test_loss, &res->test_accuracy,
                                  NULL);
    }
    pp_params_fingerprint(t.params, t.arch.nparams, res->fingerprint);
    snprintf(res->checkpoint, sizeof res->checkpoint, "%s", s.last_ckpt);
    res->epochs_done = s.epoch;
    if (s.ts.best_epoch > 0) {
        snprintf(res->best_model, sizeof res->best_model, "%s/best.h5", cfg->run_dir);
        res->best_epoch = s.ts.best_epoch;
        res->best_metric = s.ts.best_metric;
    }
    res->samples_seen = s.samples;
    if (rank == 0 && !st.code) {
        char qfp[JSON_QUOTED_MAX(64)], detail[256];
        json_quote(qfp, sizeof qfp, res->fingerprint);
        snprintf(detail, sizeof detail, "\"fingerprint\": %s, \"samples_seen\": %lld", qfp,
                 (long long)s.samples);
        runstate_event(s.metrics, res->stopped_early ? "stopped" : "finished", detail);
    }
    free(config);
    free(s.hist);
    trainer_end(&t, st);
    return st;
}
