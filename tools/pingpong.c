/* pingpong: MPI point-to-point and allreduce timings for the alpha-beta model of
 * tools/scaling_model.py (see docs/SCALING.md, "Measured constants").
 *
 *   mpicc -O2 -o pingpong tools/pingpong.c
 *   mpiexec -n 2 ./pingpong [REPEATS]            # (as root: OMPI_ALLOW_RUN_AS_ROOT=1 ...)
 *
 * Every single operation is timed on rank 0, REPEATS (default 7) rounds of many iterations.
 * Prints one tab-separated line per measurement: the MEDIAN of all single-operation times (the
 * machine's constant, robust against a busy node descheduling a rank now and then) and the
 * MEAN (what a program sees on average, including those stalls):
 *   pingpong  BYTES  MEDIAN MEAN    one-way time = half a round trip (rank 0 <-> rank 1)
 *   allreduce FLOATS MEDIAN MEAN    MPI_Allreduce(MPI_IN_PLACE, float, MPI_SUM), all ranks
 *   add       BYTES  MEDIAN MEAN    y[i] += x[i] over BYTES/4 floats on rank 0 (gamma)
 * and a fit: alpha = median one-way time of the messages up to 128 B; beta = least-squares
 * slope of the median one-way time over the messages of 128 KiB and more; gamma = add / BYTES.
 * Only ranks 0 and 1 take part in the ping-pong; every rank takes part in the allreduce.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Iterations per round: about 20 MB moved or 2000 messages, whichever is fewer, at least 5. */
static int iterations(size_t bytes)
{
    size_t it = bytes ? (size_t)20e6 / bytes : 2000;
    if (it > 2000) it = 2000;
    if (it < 5) it = 5;
    return (int)it;
}

/* Median and mean of v[0..n-1] (sorts v). */
static void stats(double *v, size_t n, double *med, double *mean)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += v[i];
    *mean = sum / (double)n;
    *med = median(v, (int)n);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int repeats = argc > 1 ? atoi(argv[1]) : 7;
    if (repeats < 1) repeats = 1;
    if (size < 2) {
        if (rank == 0) fprintf(stderr, "pingpong: needs at least 2 ranks\n");
        MPI_Finalize();
        return 2;
    }

    /* Message sizes: 8 B ... 32 MiB in powers of 4. Allreduce: the bench gradient sizes. */
    static const size_t sizes[] = {8,     32,     128,    512,     2048,    8192,
                                   32768, 131072, 524288, 2097152, 8388608, 33554432};
    static const size_t floats[] = {23860, 269322, 5824522}; /* W1, W2, W3 parameters */
    const int nsizes = (int)(sizeof sizes / sizeof *sizes);
    const int nfloats = (int)(sizeof floats / sizeof *floats);
    const size_t maxbytes = sizes[nsizes - 1], maxfloats = floats[nfloats - 1];
    const size_t maxsamples = (size_t)repeats * 2000;
    char *buf = malloc(maxbytes);
    float *fbuf = malloc(maxfloats * sizeof(float));
    float *xbuf = malloc(maxfloats * sizeof(float));
    double *t = malloc(maxsamples * sizeof *t);
    double pp[sizeof sizes / sizeof *sizes];
    if (!buf || !fbuf || !xbuf || !t) MPI_Abort(MPI_COMM_WORLD, 1);
    memset(buf, 1, maxbytes);
    for (size_t i = 0; i < maxfloats; i++) fbuf[i] = xbuf[i] = 1.0f / (float)(i % 97 + 1);

    if (rank == 0)
        printf("# pingpong: %d ranks, %d rounds; columns: what size median_s mean_s\n", size,
               repeats);
    for (int s = 0; s < nsizes; s++) {
        size_t n = sizes[s], k = 0;
        int it = iterations(n);
        for (int r = 0; r < repeats; r++) {
            MPI_Barrier(MPI_COMM_WORLD);
            for (int i = 0; i < it; i++) {
                if (rank == 0) {
                    double t0 = MPI_Wtime();
                    MPI_Send(buf, (int)n, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
                    MPI_Recv(buf, (int)n, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                    t[k++] = (MPI_Wtime() - t0) / 2.0;
                } else if (rank == 1) {
                    MPI_Recv(buf, (int)n, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                    MPI_Send(buf, (int)n, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
                }
            }
        }
        if (rank == 0) {
            double mean;
            stats(t, k, &pp[s], &mean);
            printf("pingpong\t%zu\t%.9f\t%.9f\n", n, pp[s], mean);
        }
    }

    for (int s = 0; s < nfloats; s++) {
        size_t n = floats[s], k = 0;
        int it = iterations(n * sizeof(float));
        if (it > 200) it = 200;
        for (int r = 0; r < repeats; r++) {
            MPI_Barrier(MPI_COMM_WORLD);
            for (int i = 0; i < it; i++) {
                double t0 = MPI_Wtime();
                MPI_Allreduce(MPI_IN_PLACE, fbuf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
                t[k++] = MPI_Wtime() - t0;
            }
            /* keep the values bounded */
            memcpy(fbuf, xbuf, n * sizeof(float));
        }
        if (rank == 0) {
            double med, mean;
            stats(t, k, &med, &mean);
            printf("allreduce\t%zu\t%.9f\t%.9f\n", n, med, mean);
        }
    }

    /* gamma: a streaming vector add on rank 0 over the largest gradient (bigger than L2). */
    if (rank == 0) {
        size_t n = maxfloats, k = 0;
        for (int r = 0; r < repeats * 3; r++) {
            double t0 = MPI_Wtime();
            for (size_t j = 0; j < n; j++) fbuf[j] += xbuf[j];
            t[k++] = MPI_Wtime() - t0;
        }
        double add, mean;
        stats(t, k, &add, &mean);
        printf("add\t%zu\t%.9f\t%.9f\n", n * sizeof(float), add, mean);
        volatile float sink = fbuf[n / 2];
        (void)sink;

        double small[sizeof sizes / sizeof *sizes];
        int ns = 0;
        for (int s = 0; s < nsizes && sizes[s] <= 128; s++) small[ns++] = pp[s];
        double alpha = median(small, ns);
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        int m = 0;
        for (int s = 0; s < nsizes; s++) {
            if (sizes[s] < 131072) continue;
            double x = (double)sizes[s], y = pp[s];
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
            m++;
        }
        double beta = (m * sxy - sx * sy) / (m * sxx - sx * sx);
        double gamma = add / (double)(n * sizeof(float));
        printf("# alpha %.3g s  beta %.3g s/B (%.3g GB/s)  gamma %.3g s/B (%.3g GB/s)\n", alpha,
               beta, 1e-9 / beta, gamma, 1e-9 / gamma);
    }
    free(buf);
    free(fbuf);
    free(xbuf);
    free(t);
    MPI_Finalize();
    return 0;
}
