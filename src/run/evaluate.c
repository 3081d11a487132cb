/* `paraprop eval`: loss, accuracy and confusion matrix of a saved model on a dataset split. */
#include <stdlib.h>
#include <string.h>

#include "paraprop/checkpoint.h"
#include "paraprop/train.h"
#include "core/fault.h"
#include "trainer.h"

pp_status pp_eval(pp_comm *comm, pp_config *cfg, FILE *out)
{
    PP_TRY(pp_comm_agree(comm, pp_config_check(cfg, PP_CMD_EVAL)));
    pp_checkpoint ck;
    pp_status st = pp_comm_agree(comm, pp_checkpoint_read(cfg->model, cfg->allow_unsealed, &ck));
    if (st.code) return st;
    /* the model decides the architecture */
    pp_config c = *cfg;
    c.L = ck.arch.L;
    memcpy(c.sizes, ck.arch.n, sizeof c.sizes);
    c.hidden = ck.arch.hidden;
    c.output = ck.arch.output;
    c.cost = ck.arch.cost;
    c.batch_size = 1;
    c.exact = 0;
    c.init_from[0] = '\0';
    size_t len = 0;
    for (int l = 0; l <= ck.arch.L; l++)
        len += (size_t)snprintf(c.layers + len, sizeof c.layers - len, "%s%zu", l ? "," : "",
                                ck.arch.n[l]);
    int use_train = strcmp(cfg->split, "train") == 0;
    int use_val = strcmp(cfg->split, "validation") == 0;
    trainer t;
    st = trainer_setup(&t, comm, &c, use_train);
    const size_t k = ck.arch.n[ck.arch.L];
    int64_t *conf = NULL;
    if (!st.code) {
        /* this rank's verdicts, agreed before the evaluation's collectives */
        if (use_val && !t.info.has_val)
            st = pp_error(PP_ERR_INPUT, "%s has no /validation group", cfg->data);
        else if (use_train && t.data_mode == PP_DATA_STREAM)
            st = pp_error(PP_ERR_USAGE,
                          "eval --split train needs the training set in memory, but it is "
                          "streamed (--data-mode, --memory-budget): choose --data-mode rank or "
                          "node, or a larger --memory-budget");
        else if (!use_train && !use_val && !t.info.has_test)
            st = pp_error(PP_ERR_INPUT, "%s has no /test group; use --split train", cfg->data);
        conf = pp_fault("eval-alloc", t.rank) ? NULL : calloc(k * k, sizeof *conf);
        if (!st.code && !conf)
            st = pp_error(PP_ERR_NOMEM, "out of memory for the %zu × %zu confusion matrix", k, k);
        st = pp_comm_agree(comm, st);
    }
    if (st.code) {
        free(conf);
        pp_checkpoint_free(&ck);
        trainer_end(&t, st);
        return st;
    }
    memcpy(t.params, ck.params, ck.arch.nparams * sizeof *t.params);
    double loss = 0, acc = 0;
    {
        /* train and validation splits are held whole on every rank: evaluate only this rank's
         * slice */
        pp_data view = use_train ? t.train : use_val ? t.val : t.test;
        size_t n_global = use_train ? t.info.n_train : use_val ? t.info.n_val : t.info.n_test;
        if (use_train || use_val) {
            size_t lo = n_global * (size_t)t.rank / (size_t)t.R,
                   hi = n_global * (size_t)(t.rank + 1) / (size_t)t.R;
            view.n = hi - lo;
            if (view.u8) view.u8 += lo * view.d;
            if (view.f32) view.f32 += lo * view.d;
            if (view.labels) view.labels += lo;
            if (view.targets) view.targets += lo * view.k;
        }
        st = trainer_evaluate(&t, &view, n_global, &loss, &acc, conf);
        if (!st.code && t.rank == 0 && out) {
            fprintf(out, "model: %s (fingerprint %s)\ndata: %s, split %s, %zu samples\n",
                    cfg->model, ck.fingerprint, cfg->data, cfg->split, n_global);
            fprintf(out,
                    "loss: %.6f\naccuracy: %.4f\nconfusion matrix (rows: true class, "
                    "columns: predicted):\n",
                    loss, acc);
            fprintf(out, "%6s", "");
            for (size_t j = 0; j < k && k <= 64; j++) fprintf(out, " %6zu", j);
            fputc('\n', out);
            for (size_t i = 0; i < k && k <= 64; i++) {
                fprintf(out, "%6zu", i);
                for (size_t j = 0; j < k; j++) fprintf(out, " %6lld", (long long)conf[i * k + j]);
                fputc('\n', out);
            }
            if (k > 64) fprintf(out, "(%zu classes: matrix not printed)\n", k);
        }
    }
    free(conf);
    pp_checkpoint_free(&ck);
    trainer_end(&t, st);
    return st;
}
