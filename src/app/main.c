/* The `paraprop` command: dispatches to the subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "paraprop/net.h"
#include "paraprop/precision.h"

#ifndef PARAPROP_GIT_REVISION
#define PARAPROP_GIT_REVISION "unknown"
#endif

static const char *const USAGE =
    "usage: paraprop COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  train      train a network (mpiexec -n R paraprop train … for R ranks)\n"
    "  eval       loss, accuracy and confusion matrix of a model on a dataset\n"
    "  predict    a model's outputs (and classes) for a dataset or a CSV file\n"
    "  convert    make a dataset file: 'convert idx …' (MNIST-style) or 'convert csv …'\n"
    "  inspect    print what a checkpoint or model file holds, and whether it is valid\n"
    "  seal       verify or renew the SHA-256 seal of a file paraprop wrote\n"
    "  plot       draw a run directory's training curves (loss, accuracy, η) as SVG\n"
    "  gradcheck  compare backpropagation with finite differences\n"
    "  bench      time training steps and print one JSON line\n"
    "\n"
    "'paraprop COMMAND --help' lists a command's options. --version prints the version.\n"
    "exit statuses: 0 success, 1 runtime failure, 2 usage error, 3 bad input file,\n"
    "  4 training diverged, 5 write failed, 6 out of memory, 75 stopped by a signal after\n"
    "  writing a checkpoint (run the same command again to resume). See docs/ERRORS.md.\n";

/* OpenBLAS 0.3.21 picks its kernels by CPU model and runs SSE3 ones on models it does not know
 * (a sixth of the AVX-512 speed). It reads OPENBLAS_CORETYPE only when it is loaded, so when the
 * CPU's features allow a faster core the program restarts itself once with it, before anything
 * else (before MPI_Init: the new image is the same process). PARAPROP_BLAS_RESTARTED, which
 * holds the core OpenBLAS had picked, stops a second restart and lets --version tell. Never
 * done when the user set OPENBLAS_CORETYPE; PARAPROP_BLAS_CORE=asis turns it off. */
static void restart_with_best_blas_core(char **argv)
{
    const char *detected = NULL;
    if (getenv("PARAPROP_BLAS_RESTARTED")) return;
    const char *core = pp_net_blas_core_wanted(&detected);
    if (!core || !detected) return;
    if (setenv("PARAPROP_BLAS_RESTARTED", detected, 1) || setenv("OPENBLAS_CORETYPE", core, 1))
        return;
    fflush(NULL);
    /* the binary's own path, not /proc/self/exe: the process's name (ps, top, pkill, Slurm's
     * accounting) comes from the path exec'd, and "exe" hid paraprop's ranks from them */
    char self[4096];
    const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = '\0';
        execv(self, argv);
    }
    execv("/proc/self/exe", argv);
    /* not restarted: go on with OpenBLAS's own choice */
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("PARAPROP_BLAS_RESTARTED");
}

int main(int argc, char **argv)
{
    restart_with_best_blas_core(argv);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("paraprop %s (rev %s, %s precision)\nproducts: %s\n", PARAPROP_VERSION,
               PARAPROP_GIT_REVISION, PP_DOUBLE ? "double" : "single", pp_net_kernels());
        printf("predictions (predict, the model API): %s\n", pp_net_rows_engine());
        const char *before = getenv("PARAPROP_BLAS_RESTARTED"), *core = getenv("OPENBLAS_CORETYPE");
        if (before && core)
            printf("OpenBLAS chose %s for this CPU model; paraprop restarted itself with "
                   "OPENBLAS_CORETYPE=%s (PARAPROP_BLAS_CORE=asis keeps OpenBLAS's choice)\n",
                   before, core);
        return 0;
    }
    const char *c = argv[1];
    if (strcmp(c, "train") == 0) return cmd_train(argc, argv);
    if (strcmp(c, "bench") == 0) return cmd_bench(argc, argv);
    if (strcmp(c, "eval") == 0) return cmd_eval(argc, argv);
    if (strcmp(c, "predict") == 0) return cmd_predict(argc, argv);
    if (strcmp(c, "convert") == 0) return cmd_convert(argc, argv);
    if (strcmp(c, "inspect") == 0) return cmd_inspect(argc, argv);
    if (strcmp(c, "gradcheck") == 0) return cmd_gradcheck(argc, argv);
    if (strcmp(c, "seal") == 0) return cmd_seal(argc, argv);
    if (strcmp(c, "plot") == 0) return cmd_plot(argc, argv);
    fprintf(stderr, "paraprop: error: unknown command '%s'\n\n%s", c, USAGE);
    return 2;
}
