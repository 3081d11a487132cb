/* Stop requests: handlers only set a flag; the trainer agrees on it at a step boundary. */
#include <signal.h>
#include <string.h>

#include "paraprop/train.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    stop_requested = 1;
    /* a second SIGINT (Ctrl-C twice) takes the default action: stop at once */
    if (sig == SIGINT) signal(SIGINT, SIG_DFL);
}

void pp_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    /* a slow call (a write, a read of the data) continues after the flag is set, rather than
     * failing with EINTR somewhere that does not expect it */
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    pp_signals_ignore_xfsz();
}

void pp_signals_ignore_xfsz(void)
{
    /* past a file-size limit (RLIMIT_FSIZE, quotas) a write must fail with EFBIG and be
     * reported, not kill the process before it can say so */
    signal(SIGXFSZ, SIG_IGN);
}

int pp_signals_pending(void)
{
    return stop_requested != 0;
}

void pp_signals_request_stop(void)
{
    stop_requested = 1;
}
