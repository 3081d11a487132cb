/* `paraprop eval`. */
#include <stdio.h>

#include "cli.h"
#include "paraprop/train.h"

int cmd_eval(int argc, char **argv)
{
    pp_config cfg;
    int rc;
    if (!cli_parse(&cfg, PP_CMD_EVAL,
                   "usage: [mpiexec -n R] paraprop eval --model FILE.h5 --data FILE.h5 "
                   "[--split test|train]\n"
                   "(any checkpoint or final.h5 works as the model)\n",
                   argc, argv, &rc))
        return rc;
    pp_comm *comm = NULL;
    pp_status st = cli_comm_init(&argc, &argv, &comm);
    if (st.code) return cli_fail(NULL, st);
    st = pp_eval(comm, &cfg, stdout);
    rc = st.code ? cli_fail(comm, st) : 0;
    pp_comm_finalize(comm);
    return rc;
}
