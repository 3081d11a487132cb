/* Fast-mode minibatch gradient: one OpenMP region per step, one barrier. */
#include "paraprop/batch.h"

#include <omp.h>
#include <string.h>

static void split(size_t n, int parts, int t, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)t / (size_t)parts;
    *hi = n * (size_t)(t + 1) / (size_t)parts;
}

double pp_batch_grad(const pp_arch *a, const pp_real *params, const pp_data *x, const uint32_t *ids,
                     size_t m, pp_workspace *ws, int threads, pp_real *grad, pp_batch_times *times)
{
    double cost[256] = {0};
    if (threads < 1) threads = 1;
    if (threads > 256) threads = 256;
    /* Below ~4 MFLOP per step (6 flops per sample and parameter) waking a second thread costs
     * more than it saves: W1 (784-30-10, batch 10) runs faster on one. */
    int parallel = threads > 1 && (double)m * (double)a->nparams >= 7e5;
    int nt = parallel ? threads : 1;
    double t_data = 0, t_comp = 0;
#pragma omp parallel num_threads(nt) if (parallel)
    {
        const int t = omp_get_thread_num(), T = omp_get_num_threads();
        size_t r0, r1;
        split(m, T, t, &r0, &r1);
        double t0 = omp_get_wtime();
        pp_data_gather(x, ids, ws, r0, r1);
        double t1 = omp_get_wtime();
        pp_net_forward(a, params, ws, r0, r1);
        cost[t] = pp_net_backward(a, params, ws, r0, r1);
#pragma omp barrier
        for (int l = 1; l <= a->L; l++) {
            const size_t nout = a->n[l], nin = a->n[l - 1];
            size_t lo, hi;
            /* split the larger side of ∇Wˡ so small output layers still spread */
            if (nout >= nin || nout >= (size_t)T * 64) {
                split(nout, T, t, &lo, &hi);
                pp_net_grad_block(a, ws, l, 0, m, lo, hi, 0, nin, grad);
            } else {
                split(nin, T, t, &lo, &hi);
                pp_net_grad_block(a, ws, l, 0, m, 0, nout, lo, hi, grad);
            }
        }
        if (t == 0) {
            t_data = t1 - t0;
            t_comp = omp_get_wtime() - t1;
        }
    }
    double c = 0;
    for (int t = 0; t < nt; t++) c += cost[t];
    if (times) {
        times->data += t_data;
        times->compute += t_comp;
    }
    return c;
}

double pp_batch_rows(const pp_arch *a, const pp_real *params, const pp_data *x, const uint32_t *ids,
                     size_t r0, size_t r1, pp_workspace *ws, int threads, pp_batch_times *times)
{
    double cost[256] = {0};
    if (threads < 1) threads = 1;
    if (threads > 256) threads = 256;
    const size_t m = r1 - r0;
    /* the threshold of pp_batch_grad, for the forward and backward share of its work */
    int parallel = threads > 1 && (double)m * (double)a->nparams >= 7e5;
    int nt = parallel ? threads : 1;
    double t_data = 0, t_comp = 0;
#pragma omp parallel num_threads(nt) if (parallel)
    {
        const int t = omp_get_thread_num(), T = omp_get_num_threads();
        size_t q0, q1;
        split(m, T, t, &q0, &q1);
        q0 += r0;
        q1 += r0;
        double t0 = omp_get_wtime();
        pp_data_gather(x, ids, ws, q0, q1);
        double t1 = omp_get_wtime();
        pp_net_forward(a, params, ws, q0, q1);
        cost[t] = pp_net_backward(a, params, ws, q0, q1);
        if (t == 0) {
            t_data = t1 - t0;
            t_comp = omp_get_wtime() - t1;
        }
    }
    double c = 0;
    for (int t = 0; t < nt; t++) c += cost[t];
    if (times) {
        times->data += t_data;
        times->compute += t_comp;
    }
    return c;
}

void pp_batch_wgrad(const pp_arch *a, const pp_workspace *ws, size_t m, int part, int parts,
                    int threads, pp_real *grad, pp_batch_times *times)
{
    if (threads < 1) threads = 1;
    if (parts < 1) parts = 1;
    int parallel = threads > 1 && (double)m * (double)a->nparams / parts >= 7e5;
    int nt = parallel ? threads : 1;
    double t0 = omp_get_wtime();
#pragma omp parallel num_threads(nt) if (parallel)
    {
        const int t = omp_get_thread_num(), T = omp_get_num_threads();
        for (int l = 1; l <= a->L; l++) {
            const size_t nin = a->n[l - 1];
            size_t u0, u1, lo, hi;
            split(a->n[l], parts, part, &u0, &u1); /* this part's units */
            const size_t nout = u1 - u0;
            /* then as pp_batch_grad: split the larger side over the threads */
            if (nout >= nin || nout >= (size_t)T * 64) {
                split(nout, T, t, &lo, &hi);
                pp_net_grad_block(a, ws, l, 0, m, u0 + lo, u0 + hi, 0, nin, grad);
            } else {
                split(nin, T, t, &lo, &hi);
                pp_net_grad_block(a, ws, l, 0, m, u0, u1, lo, hi, grad);
            }
        }
    }
    if (times) times->compute += omp_get_wtime() - t0;
}
