/* Private to the app: the subcommands and their shared helpers. */
#ifndef PARAPROP_CLI_H
#define PARAPROP_CLI_H

#include <stdio.h>

#include "paraprop/comm.h"
#include "paraprop/config.h"
#include "paraprop/status.h"

int cmd_train(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_gradcheck(int argc, char **argv);
int cmd_seal(int argc, char **argv);
int cmd_plot(int argc, char **argv);

/* Prints "paraprop: error: …" (rank 0 only when comm is given) and returns the exit status.
 * A failure that was not agreed on a run of several ranks is printed by this rank, which then
 * aborts the job (pp_comm_abort) instead of returning. */
int cli_fail(pp_comm *comm, pp_status st);

/* Parses options for cmd; prints help and returns 0 into *exit_now when --help was asked, or
 * prints the error (exit status 2). Returns 1 to continue. */
int cli_parse(pp_config *cfg, int cmd, const char *usage, int argc, char **argv, int *exit_now);

/* Parses options, starts MPI, runs fn on every rank, reports the agreed status, finalises:
 * the whole life of a collective command that needs no special result handling. */
int cli_run_collective(int cmd, const char *usage, int argc, char **argv,
                       pp_status (*fn)(pp_comm *, pp_config *, FILE *));

/* MPI set-up for commands that run on ranks (SIGXFSZ ignored; no stop handlers). */
pp_status cli_comm_init(int *argc, char ***argv, pp_comm **comm);

#endif
