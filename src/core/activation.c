/* Activations, their derivatives (from the activation value), names, and the accepted
 * output-activation × cost pairs. */
#include "activation.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const act_names[] = {"sigmoid", "tanh", "relu", "identity", "softmax"};
static const char *const cost_names[] = {"quadratic", "cross-entropy", "log-likelihood"};
static const char *const init_names[] = {"normalized", "large", "he"};

const char *pp_activation_name(pp_activation a)
{
    return (unsigned)a < 5 ? act_names[a] : "?";
}
const char *pp_cost_name(pp_cost c)
{
    return (unsigned)c < 3 ? cost_names[c] : "?";
}
const char *pp_init_name(pp_init i)
{
    return (unsigned)i < 3 ? init_names[i] : "?";
}

static int find(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (s && strcmp(s, names[i]) == 0) return i;
    return -1;
}
int pp_activation_parse(const char *s)
{
    return find(s, act_names, 5);
}
int pp_cost_parse(const char *s)
{
    return find(s, cost_names, 3);
}
int pp_init_parse(const char *s)
{
    return find(s, init_names, 3);
}

int pp_arch_pair_ok(pp_activation output, pp_cost cost, char *msg, size_t msgsz)
{
    int ok = (cost == PP_COST_QUADRATIC) ||
             (cost == PP_COST_CROSS_ENTROPY && output == PP_ACT_SIGMOID) ||
             (cost == PP_COST_LOG_LIKELIHOOD && output == PP_ACT_SOFTMAX);
    if (!ok && msg)
        snprintf(msg, msgsz,
                 "output activation '%s' with cost '%s' is not supported; accepted pairs: "
                 "quadratic with any output activation (sigmoid, tanh, relu, identity, softmax), "
                 "cross-entropy with sigmoid, log-likelihood with softmax",
                 pp_activation_name(output), pp_cost_name(cost));
    return ok;
}

void pp_act_apply(pp_activation act, pp_real *z, size_t n)
{
    switch (act) {
    case PP_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) z[i] = (pp_real)1 / ((pp_real)1 + PP_EXP(-z[i]));
        break;
    case PP_ACT_TANH:
        for (size_t i = 0; i < n; i++) z[i] = PP_TANH(z[i]);
        break;
    case PP_ACT_RELU:
        for (size_t i = 0; i < n; i++) z[i] = z[i] > 0 ? z[i] : 0;
        break;
    case PP_ACT_IDENTITY:
        break;
    case PP_ACT_SOFTMAX: {
        pp_real mx = z[0];
        for (size_t i = 1; i < n; i++) mx = z[i] > mx ? z[i] : mx;
        pp_real s = 0;
        for (size_t i = 0; i < n; i++) {
            z[i] = PP_EXP(z[i] - mx);
            s += z[i];
        }
        for (size_t i = 0; i < n; i++) z[i] /= s;
        break;
    }
    }
}

void pp_act_mul_deriv(pp_activation act, const pp_real *a, pp_real *d, size_t n)
{
    switch (act) {
    case PP_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) d[i] *= a[i] * ((pp_real)1 - a[i]);
        break;
    case PP_ACT_TANH:
        for (size_t i = 0; i < n; i++) d[i] *= (pp_real)1 - a[i] * a[i];
        break;
    case PP_ACT_RELU:
        /* a > 0 exactly when z > 0 */
        for (size_t i = 0; i < n; i++) d[i] = a[i] > 0 ? d[i] : 0;
        break;
    case PP_ACT_IDENTITY:
    case PP_ACT_SOFTMAX: /* not elementwise: handled by the output layer */
        break;
    }
}
