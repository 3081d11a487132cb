/* Fast-mode minibatch gradient: one OpenMP region per step, one barrier. */
#include "paraprop/batch.h"

#include <omp.h>
#include <string.h>

static void split(size_t n, int parts, int t, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)t / (size_t)parts;
    *hi = n * (size_t)(t + 1) / (size_t)parts;
}

/* Thread t of T: gather, forward and backward of its share of rows [r0, r1); the cost sum. */
static double rows_thread(const pp_arch *a, const pp_real *params, const pp_data *x,
                          const uint32_t *ids, size_t r0, size_t r1, pp_workspace *ws, int t, int T,
                          double *t_data)
{
    size_t q0, q1;
    split(r1 - r0, T, t, &q0, &q1);
    q0 += r0;
    q1 += r0;
    double t0 = omp_get_wtime();
    pp_data_gather(x, ids, ws, q0, q1);
    *t_data = omp_get_wtime() - t0;
    pp_net_forward(a, params, ws, q0, q1);
    return pp_net_backward(a, params, ws, q0, q1);
}

/* Thread t of T: its block of ∇Wˡ and ∇bˡ over rows [0, m), for every layer, within part
 * `part` of `parts` of the layer's units. The larger side of the block is split over the
 * threads, so small output layers still spread. */
static void wgrad_thread(const pp_arch *a, const pp_workspace *ws, size_t m, int part, int parts,
                         int t, int T, pp_real *grad)
{
    for (int l = 1; l <= a->L; l++) {
        const size_t nin = a->n[l - 1];
        size_t u0, u1, lo, hi;
        split(a->n[l], parts, part, &u0, &u1);
        const size_t nout = u1 - u0;
        if (nout >= nin || nout >= (size_t)T * 64) {
            split(nout, T, t, &lo, &hi);
            pp_net_grad_block(a, ws, l, 0, m, u0 + lo, u0 + hi, 0, nin, grad);
        } else {
            split(nin, T, t, &lo, &hi);
            pp_net_grad_block(a, ws, l, 0, m, u0, u1, lo, hi, grad);
        }
    }
}

/* Below ~4 MFLOP per step (6 flops per sample and parameter) waking a second thread costs more
 * than it saves: W1 (784-30-10, batch 10) runs faster on one. */
static int team(int threads, size_t m, const pp_arch *a, int parts)
{
    if (threads < 1) threads = 1;
    if (threads > 256) threads = 256;
    return threads > 1 && (double)m * (double)a->nparams / parts >= 7e5 ? threads : 1;
}

static double sum_costs(const double *cost, int nt)
{
    double c = 0;
    for (int t = 0; t < nt; t++) c += cost[t];
    return c;
}

double pp_batch_grad(const pp_arch *a, const pp_real *params, const pp_data *x, const uint32_t *ids,
                     size_t m, pp_workspace *ws, int threads, pp_real *grad, pp_batch_times *times)
{
    double cost[256] = {0}, t_data = 0, t_comp = 0;
    const int nt = team(threads, m, a, 1);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = omp_get_thread_num(), T = omp_get_num_threads();
        double t0 = omp_get_wtime(), td = 0;
        cost[t] = rows_thread(a, params, x, ids, 0, m, ws, t, T, &td);
#pragma omp barrier
        wgrad_thread(a, ws, m, 0, 1, t, T, grad);
        if (t == 0) {
            t_data = td;
            t_comp = omp_get_wtime() - t0 - td;
        }
    }
    if (times) {
        times->data += t_data;
        times->compute += t_comp;
    }
    return sum_costs(cost, nt);
}

double pp_batch_rows(const pp_arch *a, const pp_real *params, const pp_data *x, const uint32_t *ids,
                     size_t r0, size_t r1, pp_workspace *ws, int threads, pp_batch_times *times)
{
    double cost[256] = {0}, t_data = 0, t_comp = 0;
    const int nt = team(threads, r1 - r0, a, 1);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = omp_get_thread_num(), T = omp_get_num_threads();
        double t0 = omp_get_wtime(), td = 0;
        cost[t] = rows_thread(a, params, x, ids, r0, r1, ws, t, T, &td);
        if (t == 0) {
            t_data = td;
            t_comp = omp_get_wtime() - t0 - td;
        }
    }
    if (times) {
        times->data += t_data;
        times->compute += t_comp;
    }
    return sum_costs(cost, nt);
}

void pp_batch_wgrad(const pp_arch *a, const pp_workspace *ws, size_t m, int part, int parts,
                    int threads, pp_real *grad, pp_batch_times *times)
{
    if (parts < 1) parts = 1;
    const int nt = team(threads, m, a, parts);
    double t0 = omp_get_wtime();
#pragma omp parallel num_threads(nt) if (nt > 1)
    wgrad_thread(a, ws, m, part, parts, omp_get_thread_num(), omp_get_num_threads(), grad);
    if (times) times->compute += omp_get_wtime() - t0;
}
