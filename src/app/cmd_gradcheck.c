/* `paraprop gradcheck`: exit status 0 when the worst error is within the bound for this
 * precision (1e-6 in double builds, 1e-2 in float builds), else 1. */
#include <stdio.h>

#include "cli.h"
#include "paraprop/precision.h"
#include "paraprop/train.h"

int cmd_gradcheck(int argc, char **argv)
{
    pp_config cfg;
    int rc;
    if (!cli_parse(&cfg, PP_CMD_GRADCHECK,
                   "usage: paraprop gradcheck --layers N0,…,NL [model options] [--samples N] "
                   "[--epsilon h]\n"
                   "Checks BP1-BP4 against central differences on random data; exit status 0\n"
                   "when the worst relative error is below 1e-6 (double build) or 1e-2 (float).\n",
                   argc, argv, &rc))
        return rc;
    double worst = 0;
    pp_status st = pp_gradcheck(&cfg, stdout, &worst);
    if (st.code) return cli_fail(NULL, st);
    double bound = PP_DOUBLE ? 1e-6 : 1e-2;
    printf("%s (bound %.0e)\n", worst < bound ? "PASS" : "FAIL", bound);
    return worst < bound ? 0 : 1;
}
