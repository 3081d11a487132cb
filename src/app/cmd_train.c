/* `paraprop train` and `paraprop bench`. */
#include <stdio.h>

#include "cli.h"
#include "paraprop/train.h"

int cmd_train(int argc, char **argv)
{
    pp_config cfg;
    int rc;
    if (!cli_parse(&cfg, PP_CMD_TRAIN,
                   "usage: [mpiexec -n R] paraprop train --data FILE --layers N0,N1,…,NL "
                   "[options]\n",
                   argc, argv, &rc))
        return rc;
    pp_comm *comm = NULL;
    pp_status st = cli_comm_init(&argc, &argv, &comm);
    if (st.code) return cli_fail(NULL, st);
    pp_signals_install(); /* pp_train polls them at every step */
    pp_train_result res;
    st = pp_train(comm, &cfg, stdout, &res);
    if (st.code) {
        rc = cli_fail(comm, st);
    } else if (res.stopped_early) {
        rc = PP_EXIT_PREEMPTED;
    } else {
        rc = 0;
        if (pp_comm_rank(comm) == 0) {
            printf("final model: %s\n", res.final_model);
            if (res.best_epoch > 0)
                printf("best model: %s (epoch %lld, %s %.6g)\n", res.best_model,
                       (long long)res.best_epoch,
                       cfg.monitor == PP_MONITOR_VAL_ACCURACY ? "val_accuracy" : "val_loss",
                       res.best_metric);
            if (res.test_accuracy >= 0)
                printf("test accuracy: %.4f (test loss %.4f)\n", res.test_accuracy, res.test_loss);
        }
    }
    if (pp_comm_rank(comm) == 0 && (!st.code)) {
        printf("fingerprint: %s\n", res.fingerprint);
        fflush(stdout);
    }
    pp_comm_finalize(comm);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    return cli_run_collective(PP_CMD_BENCH,
                              "usage: [mpiexec -n R] paraprop bench --data FILE --layers … --steps "
                              "N [--warmup W] [--json FILE] [options]\n",
                              argc, argv, pp_bench);
}
