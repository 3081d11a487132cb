/* Shared pieces of the subcommands: error reporting, option parsing, MPI start-up. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "paraprop/train.h"

int cli_fail(pp_comm *comm, pp_status st)
{
    if (comm && pp_comm_size(comm) > 1 && !st.agreed) {
        /* only this rank knows: the others may wait in a collective it will never enter, and
         * MPI_Finalize would wait for them, so the job ends here (docs/ERRORS.md) */
        const int rank = pp_comm_rank(comm);
        char prefix[32];
        snprintf(prefix, sizeof prefix, "rank %d: ", rank);
        fprintf(stderr, "paraprop: error: %s%s (on this rank only: aborting all ranks)\n",
                strncmp(st.msg, prefix, strlen(prefix)) == 0 ? "" : prefix, st.msg);
        fflush(stderr);
        pp_comm_abort(comm, pp_code_exit_status(st.code));
    }
    if (!comm || pp_comm_rank(comm) == 0) {
        fprintf(stderr, "paraprop: error: %s\n", st.msg);
        fflush(stderr);
    }
    return pp_code_exit_status(st.code);
}

int cli_parse(pp_config *cfg, int cmd, const char *usage, int argc, char **argv, int *exit_now)
{
    int help = 0;
    pp_config_defaults(cfg);
    pp_status st = pp_config_parse(cfg, cmd, argc, argv, 2, &help);
    if (help) {
        fputs(usage, stdout);
        fputs("\noptions:\n", stdout);
        pp_config_print_help(stdout, cmd);
        *exit_now = 0;
        return 0;
    }
    if (st.code) {
        *exit_now = cli_fail(NULL, st);
        return 0;
    }
    return 1;
}

pp_status cli_comm_init(int *argc, char ***argv, pp_comm **comm)
{
    pp_status st = pp_comm_init(argc, argv, comm);
    /* the stop handlers only where they are polled (train installs them); eval and bench
     * keep the default actions of SIGTERM and SIGINT */
    if (!st.code) pp_signals_ignore_xfsz();
    return st;
}

int cli_run_collective(int cmd, const char *usage, int argc, char **argv,
                       pp_status (*fn)(pp_comm *, pp_config *, FILE *))
{
    pp_config cfg;
    int rc;
    if (!cli_parse(&cfg, cmd, usage, argc, argv, &rc)) return rc;
    pp_comm *comm = NULL;
    pp_status st = cli_comm_init(&argc, &argv, &comm);
    if (st.code) return cli_fail(NULL, st);
    st = fn(comm, &cfg, stdout);
    rc = st.code ? cli_fail(comm, st) : 0;
    pp_comm_finalize(comm);
    return rc;
}
