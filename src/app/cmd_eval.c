/* `paraprop eval`. */
#include "cli.h"
#include "paraprop/train.h"

int cmd_eval(int argc, char **argv)
{
    return cli_run_collective(PP_CMD_EVAL,
                              "usage: [mpiexec -n R] paraprop eval --model FILE.h5 --data FILE.h5 "
                              "[--split test|train]\n"
                              "(any checkpoint or final.h5 works as the model)\n",
                              argc, argv, pp_eval);
}
