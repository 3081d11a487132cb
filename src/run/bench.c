/* `paraprop bench`: a fixed number of training steps, timed by phase, as one JSON line. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "paraprop/checkpoint.h"
#include "paraprop/train.h"
#include "core/fault.h"
#include "json.h"
#include "stream.h"
#include "memory.h"
#include "trainer.h"

pp_status pp_bench(pp_comm *comm, pp_config *cfg, FILE *out)
{
    PP_TRY(pp_comm_agree(comm, pp_config_check(cfg, PP_CMD_BENCH)));
    trainer t;
    pp_status st = trainer_setup(&t, comm, cfg, 1);
    if (st.code) {
        trainer_end(&t, st);
        return st;
    }
    const size_t N = t.info.n_train, B = (size_t)cfg->batch_size;
    size_t pos = N; /* forces a fresh order on the first step */
    int64_t epoch = -1;
    double t0 = 0;
    const int64_t total = cfg->warmup + cfg->steps;
    for (int64_t i = 0; i < total && !st.code; i++) {
        if (i == cfg->warmup) {
            st = pp_comm_barrier(comm);
            memset(&t.times, 0, sizeof t.times);
            t0 = omp_get_wtime();
        }
        if (pos >= N) {
            trainer_order(&t, ++epoch);
            pos = 0;
        }
        size_t n = N - pos < B ? N - pos : B;
        int stop;
        double c;
        t.drop.step = (uint64_t)i;
        if (!st.code) st = trainer_step(&t, t.perm + pos, n, 0, &stop, &c); /* barrier failed? */
        pos += n;
    }
    if (!st.code) st = pp_comm_barrier(comm);
    double wall = omp_get_wtime() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double *rss = pp_fault("bench-alloc", t.rank) ? NULL : calloc(2 * (size_t)t.R, sizeof *rss);
    /* the private memory this rank costs, the node's shared block left out: the larger of the
     * samples after loading and now (docs/DATA.md) */
    double priv = trainer_private_bytes(&t);
    if (t.private_loaded > priv) priv = t.private_loaded;
    double ph[5] = {t.times.data, t.times.compute, t.times.allreduce, t.times.optimizer,
                    t.times.checkpoint};
    /* after a failed step every rank (agreed) or this one alone (an MPI error) goes up */
    if (!st.code)
        st = pp_comm_agree(
            comm,
            rss ? pp_ok()
                : pp_error(PP_ERR_NOMEM, "out of memory for the peak-RSS table of %d ranks", t.R));
    if (!st.code) st = pp_comm_allgather_double(comm, (double)ru.ru_maxrss * 1024.0, rss);
    if (!st.code) st = pp_comm_allgather_double(comm, priv, rss + t.R);
    if (!st.code) st = pp_comm_max_double(comm, ph, 5);
    /* The gradient's allreduce on each level of the machine (node-local and across nodes), so
     * the report can tell intra- from inter-node communication (docs/SCALING.md). */
    pp_comm_levels lv = {0};
    const int lv_reps = cfg->steps < 10 ? (int)cfg->steps : 10;
    if (!st.code) st = pp_comm_time_levels(comm, t.arch.nparams, lv_reps, &lv);
    pp_status ws = pp_ok(); /* rank 0's report, agreed below */
    if (!st.code && t.rank == 0) {
        char fp[65], line[8192];
        pp_params_fingerprint(t.params, t.arch.nparams, fp);
        const double steps = (double)cfg->steps;
        /* the strings of the line, as JSON literals */
        const char *text[7] = {PARAPROP_VERSION,
                               pp_activation_name(cfg->hidden),
                               pp_activation_name(cfg->output),
                               pp_cost_name(cfg->cost),
                               cfg->exact ? "exact" : "fast",
                               pp_net_kernels(),
                               fp};
        char q[7][JSON_QUOTED_MAX(100)]; /* each of those is short */
        for (int i = 0; i < 7; i++) json_quote(q[i], sizeof q[i], text[i]);
        int len = snprintf(
            line, sizeof line,
            "{\"tool\": \"paraprop\", \"version\": %s, \"ranks\": %d, \"threads\": %d, "
            "\"layers\": [%s], \"hidden_activation\": %s, \"output_activation\": %s, "
            "\"cost\": %s, \"batch_size\": %lld, \"reduction\": %s, \"reduce\": \"%s\", "
            "\"overlap\": %s, "
            "\"kernels\": %s, \"exact_planned_products\": %d, "
            "\"steps\": %lld, "
            "\"warmup\": %lld, \"parameters\": %zu, \"seconds\": %.6f, \"samples_per_s\": %.3f, "
            "\"time_per_step\": {\"total\": %.9f, \"compute\": %.9f, \"allreduce\": %.9f, "
            "\"optimizer\": %.9f, \"data\": %.9f, \"checkpoint\": %.9f}, "
            "\"nodes\": %d, \"hosts\": %d, \"ranks_per_node\": [%d, %d], "
            "\"allreduce_levels\": {\"bytes\": %zu, \"reps\": %d, \"world\": %.9f, "
            "\"intra_node\": %.9f, \"inter_node\": %.9f}, \"peak_rss_bytes\": [",
            q[0], t.R, t.T, cfg->layers /* digits and commas (pp_config_check) */, q[1], q[2], q[3],
            (long long)cfg->batch_size, q[4], reduce_name(t.red), t.overlap ? "true" : "false",
            q[5], cfg->exact ? pp_exact_planned(&t.ex) : 0, (long long)cfg->steps,
            (long long)cfg->warmup, t.arch.nparams, wall, steps * (double)B / wall, wall / steps,
            ph[1] / steps, ph[2] / steps, ph[3] / steps, ph[0] / steps, ph[4] / steps, lv.nodes,
            lv.hosts, lv.ranks_per_node_min, lv.ranks_per_node_max,
            t.arch.nparams * sizeof(pp_real), lv_reps, lv.world_s, lv.intra_s, lv.inter_s);
        for (int r = 0; r < t.R && len > 0 && len < (int)sizeof line - 100; r++)
            len += snprintf(line + len, sizeof line - (size_t)len, "%s%.0f", r ? ", " : "", rss[r]);
        if (len > 0 && len < (int)sizeof line - 300)
            len += snprintf(line + len, sizeof line - (size_t)len,
                            "], \"data_mode\": \"%s\", \"data_bytes\": %.0f, \"memory_budget\": "
                            "%.0f, \"stream_reads\": \"%s\", \"stream_misses\": %ld, "
                            "\"node_shared_bytes\": %zu, "
                            "\"local_ranks\": %d, "
                            "\"private_bytes\": [",
                            trainer_data_mode(&t), t.data_bytes, t.data_budget,
                            stream_reads(&t) ? stream_reads(&t) : "none", stream_misses(&t),
                            t.train_shm ? t.train_shm_bytes : 0, pp_comm_local_size(comm));
        for (int r = 0; r < t.R && len > 0 && len < (int)sizeof line - 100; r++)
            len += snprintf(line + len, sizeof line - (size_t)len, "%s%.0f", r ? ", " : "",
                            rss[t.R + r]);
        snprintf(line + len, sizeof line - (size_t)len, "], \"fingerprint\": %s}\n", q[6]);
        if (out) {
            fputs(line, out);
            fflush(out);
        }
        if (*cfg->json) {
            FILE *f = fopen(cfg->json, "a");
            if (!f || fputs(line, f) < 0)
                ws = pp_error(PP_ERR_WRITE, "cannot append to %s", cfg->json);
            if (f && fclose(f) != 0) ws = pp_error(PP_ERR_WRITE, "cannot append to %s", cfg->json);
        }
    }
    /* an unagreed failure (an MPI error) goes up as it is, to abort the job */
    if (!st.code) st = pp_comm_agree(comm, ws);
    free(rss);
    trainer_end(&t, st);
    return st;
}
