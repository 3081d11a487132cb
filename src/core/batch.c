/* Fast-mode minibatch gradient: one OpenMP region per step, one barrier. */
#include "paraprop/batch.h"

#include <omp.h>
#include <string.h>

static void split(size_t n, int parts, int t, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)t / (size_t)parts;
    *hi = n * (size_t)(t + 1) / (size_t)parts;
}

/* Gather rows [q0, q1) and forward them; returns the gather's seconds. */
static double gather_forward(const pp_arch *a, const pp_real *params, const pp_data *x,
                             const uint32_t *ids, size_t q0, size_t q1, pp_workspace *ws)
{
    double t0 = omp_get_wtime();
    pp_data_gather(x, ids, ws, q0, q1);
    const double td = omp_get_wtime() - t0;
    pp_net_forward(a, params, ws, q0, q1);
    return td;
}

/* Thread 0's seconds into *times (may be NULL) */
static void add_times(pp_batch_times *times, double t_data, double t_comp)
{
    if (times) {
        times->data += t_data;
        times->compute += t_comp;
    }
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
    *t_data = gather_forward(a, params, x, ids, q0, q1, ws);
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
    add_times(times, t_data, t_comp);
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
    add_times(times, t_data, t_comp);
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

/* Pieces of at least this many flops between the hook's polls (~0.5 ms at 150 GFLOP/s), and
 * at most PIECES a layer: each piece packs the product's shared operand again (W3's ∇W in 128
 * pieces ran at half speed), and a large allreduce moves in a few rounds, each needing a poll. */
#define PIECE_FLOPS 6.4e7
#define PIECES 8

static size_t pieces(double flops, size_t most)
{
    size_t p = (size_t)(flops / PIECE_FLOPS) + 1;
    if (p > PIECES) p = PIECES;
    return p < most ? p : most;
}

/* Thread t of T: its block of layer l's ∇Wˡ, ∇bˡ (wgrad_thread's split), in pieces with a poll
 * between them on thread 0. */
static void wgrad_layer(const pp_arch *a, const pp_workspace *ws, size_t m, int l, int t, int T,
                        pp_real *grad, const pp_grad_hook *h)
{
    const size_t nout = a->n[l], nin = a->n[l - 1];
    size_t lo, hi;
    const int by_units = nout >= nin || nout >= (size_t)T * 64;
    split(by_units ? nout : nin, T, t, &lo, &hi);
    const size_t np =
        t == 0
            ? pieces(2.0 * (double)m * (double)(hi - lo) * (double)(by_units ? nin : nout), hi - lo)
            : 1;
    for (size_t p = 0; p < np; p++) {
        size_t a0, a1;
        split(hi - lo, (int)np, (int)p, &a0, &a1);
        if (by_units)
            pp_net_grad_block(a, ws, l, 0, m, lo + a0, lo + a1, 0, nin, grad);
        else
            pp_net_grad_block(a, ws, l, 0, m, 0, nout, lo + a0, lo + a1, grad);
        if (t == 0 && p + 1 < np) h->poll(h->arg);
    }
}

/* Thread t of T: Δˡ⁻¹ for its rows [q0, q1), in pieces of its columns (each packs its own
 * columns of Wˡ: the weights are packed once in all) with polls on thread 0. */
static void delta_layer(const pp_arch *a, const pp_real *params, pp_workspace *ws, int l, size_t q0,
                        size_t q1, int t, const pp_grad_hook *h)
{
    const size_t nin = a->n[l - 1];
    const size_t np =
        t == 0 ? pieces(2.0 * (double)(q1 - q0) * (double)a->n[l] * (double)nin, nin) : 1;
    for (size_t p = 0; p < np; p++) {
        size_t c0, c1;
        split(nin, (int)np, (int)p, &c0, &c1);
        pp_net_backward_cols(a, params, ws, l, q0, q1, c0, c1);
        if (t == 0) h->poll(h->arg);
    }
}

double pp_batch_grad_overlap(const pp_arch *a, const pp_real *params, const pp_data *x,
                             const uint32_t *ids, size_t m, pp_workspace *ws, int threads,
                             pp_real *grad, pp_batch_times *times, const pp_grad_hook *h)
{
    double cost[256] = {0}, t_data = 0, t_comp = 0;
    const int nt = team(threads, m, a, 1);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = omp_get_thread_num(), T = omp_get_num_threads();
        size_t q0, q1;
        split(m, T, t, &q0, &q1);
        double t0 = omp_get_wtime();
        const double td = gather_forward(a, params, x, ids, q0, q1, ws);
        cost[t] = q1 > q0 ? pp_net_backward_output(a, ws, q0, q1) : 0;
        /* layer by layer from the top: once every thread has Δˡ, ∇Wˡ; once every thread has
         * that, the hook takes it while Δˡ⁻¹ (the next layer's input) is computed */
        for (int l = a->L; l >= 1; l--) {
#pragma omp barrier
            wgrad_layer(a, ws, m, l, t, T, grad, h);
#pragma omp barrier
            if (t == 0) h->ready(h->arg, l);
            if (l >= 2) delta_layer(a, params, ws, l, q0, q1, t, h);
        }
        if (t == 0) {
            t_data = td;
            t_comp = omp_get_wtime() - t0 - td;
        }
    }
    add_times(times, t_data, t_comp);
    return sum_costs(cost, nt);
}
