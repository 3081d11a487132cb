/* A downstream program built against an installed paraprop: builds a network, initialises it,
 * runs the single-threaded gradient and prints the parameter fingerprint. */
#include <paraprop/batch.h>
#include <paraprop/fingerprint.h>
#include <paraprop/net.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    const size_t sizes[3] = {4, 5, 3};
    pp_arch a;
    pp_status st =
        pp_arch_init(&a, 2, sizes, PP_ACT_SIGMOID, PP_ACT_SOFTMAX, PP_COST_LOG_LIKELIHOOD);
    if (st.code) {
        fprintf(stderr, "%s\n", st.msg);
        return 1;
    }
    pp_real *p = malloc(a.nparams * sizeof *p);
    pp_net_init_params(&a, PP_INIT_NORMALIZED, 42, p);
    char hex[65];
    pp_sha256_hex(p, a.nparams * sizeof *p, hex);
    printf("downstream ok: %zu parameters, fingerprint %s\n", a.nparams, hex);
    free(p);
    return 0;
}
