/* Stream mode: the rows of this rank's coming shards, read ahead on one pthread. */
#include "stream.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "paraprop/dataset.h"
#include "paraprop/exact.h"

#include "trainer.h"

enum { SLOTS = 3, AHEAD = 2 };

typedef struct slot {
    size_t pos, n; /* the step: samples perm[pos…pos + n) */
    int next;      /* of the next epoch: perm is next_perm */
    int valid;
    pp_status st; /* its read */
    pp_data rows;
} slot;

struct trainer_stream {
    pp_dataset_rows *rows;
    slot s[SLOTS];
    uint32_t *iota;
    /* one reader thread for the run, woken per step: creating a thread per step cost 20-75 µs
     * on the step's critical path (measured under SCHED_FIFO, as bench/data_modes.sh runs) */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started;            /* th exists */
    int running;            /* a todo list is being read (under mu) */
    int quit;               /* th is to end (under mu) */
    int todo[AHEAD], ntodo; /* slots the reader fills */
    const trainer *t;
    int64_t epoch;       /* the epoch of t->perm (-1: none yet) */
    uint32_t *next_perm; /* epoch + 1's order, computed by the reader when it needs it */
    int next_ok;
    long misses;
};

/* This rank's shard [lo, hi) of a step of n samples (trainer_step's split). */
static void shard(const trainer *t, size_t n, size_t *lo, size_t *hi)
{
    if (t->cfg->exact)
        pp_exact_shard(n, t->rank, t->R, lo, hi);
    else {
        *lo = n * (size_t)t->rank / (size_t)t->R;
        *hi = n * (size_t)(t->rank + 1) / (size_t)t->R;
    }
}

static void read_slot(trainer_stream *s, slot *sl)
{
    size_t lo, hi;
    shard(s->t, sl->n, &lo, &hi);
    sl->rows.n = hi - lo;
    if (sl->next && !s->next_ok) { /* the permutation costs O(N): here, off the step */
        trainer_order_into(s->t, s->epoch + 1, s->next_perm);
        s->next_ok = 1;
    }
    const uint32_t *perm = sl->next ? s->next_perm : s->t->perm;
    sl->st = pp_dataset_rows_read(s->rows, perm + sl->pos + lo, hi - lo, &sl->rows);
    sl->valid = 1;
}

static void *reader(void *arg)
{
    trainer_stream *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->running && !s->quit) pthread_cond_wait(&s->cv, &s->mu);
        if (s->quit) break;
        pthread_mutex_unlock(&s->mu);
        for (int i = 0; i < s->ntodo; i++) {
            read_slot(s, &s->s[s->todo[i]]);
            if (s->s[s->todo[i]].st.code) break; /* reported when that step comes */
        }
        pthread_mutex_lock(&s->mu);
        s->running = 0;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Starts the reader on s->todo: on the thread, or here when there is none. */
static void reader_start(trainer_stream *s)
{
    if (!s->started) {
        if (pthread_mutex_init(&s->mu, NULL) == 0 && pthread_cond_init(&s->cv, NULL) == 0 &&
            pthread_create(&s->th, NULL, reader, s) == 0)
            s->started = 1;
        else
            return; /* no read-ahead: each step reads its rows when it comes (a miss) */
    }
    pthread_mutex_lock(&s->mu);
    s->running = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

pp_status stream_open(trainer *t)
{
    trainer_stream *s = calloc(1, sizeof *s);
    if (!s) return pp_error(PP_ERR_NOMEM, "out of memory for the stream");
    t->stream = s;
    s->t = t;
    size_t rows = 1, lo, hi, B = (size_t)t->cfg->batch_size;
    for (int r = 0; r < t->R; r++) {
        trainer probe = *t;
        probe.rank = r;
        shard(&probe, B, &lo, &hi);
        if (hi - lo > rows) rows = hi - lo;
    }
    PP_TRY(pp_dataset_rows_open(t->cfg->data, &s->rows));
    for (int i = 0; i < SLOTS; i++) {
        PP_TRY(pp_data_alloc(&s->s[i].rows, rows, t->info.d, t->info.k, t->info.bytes,
                             t->info.labelled));
        s->s[i].rows.scale = t->info.scale;
    }
    s->iota = malloc(rows * sizeof *s->iota);
    s->epoch = -1;
    s->next_perm = malloc((t->info.n_train ? t->info.n_train : 1) * sizeof *s->next_perm);
    if (!s->iota || !s->next_perm) return pp_error(PP_ERR_NOMEM, "out of memory for the stream");
    for (size_t i = 0; i < rows; i++) s->iota[i] = (uint32_t)i;
    return pp_ok();
}

void stream_join(trainer *t)
{
    trainer_stream *s = t->stream;
    if (!s || !s->started) return;
    pthread_mutex_lock(&s->mu);
    while (s->running) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

void stream_epoch(trainer *t, int64_t epoch)
{
    trainer_stream *s = t->stream;
    if (!s) return;
    stream_join(t);
    const int follows = s->epoch >= 0 && epoch == s->epoch + 1;
    for (int i = 0; i < SLOTS; i++) {
        slot *sl = &s->s[i];
        if (follows && sl->next)
            sl->next = 0; /* read from next_perm, which is now t->perm */
        else
            sl->valid = 0;
    }
    s->epoch = epoch;
    s->next_ok = 0;
}

long stream_misses(const trainer *t)
{
    return t->stream ? t->stream->misses : 0;
}

static slot *find(trainer_stream *s, size_t pos, size_t n, int next)
{
    for (int i = 0; i < SLOTS; i++)
        if (s->s[i].valid && s->s[i].pos == pos && s->s[i].n == n && s->s[i].next == next)
            return &s->s[i];
    return NULL;
}

pp_status stream_fetch(trainer *t, const uint32_t *ids, size_t n, const pp_data **x,
                       const uint32_t **sid)
{
    trainer_stream *s = t->stream;
    stream_join(t);
    const size_t N = t->info.n_train, B = (size_t)t->cfg->batch_size;
    const size_t pos = (size_t)(ids - t->perm);
    slot *cur = find(s, pos, n, 0);
    if (!cur) { /* the first step of a run, or after a reset: nothing was read ahead */
        cur = &s->s[0];
        cur->pos = pos;
        cur->n = n;
        cur->next = 0;
        read_slot(s, cur);
        s->misses++;
    }
    pp_status st = pp_comm_agree(t->comm, cur->st);
    if (st.code) return st;
    /* the next steps, into the slots that hold neither them nor this one; past the epoch's
     * end, the next epoch's first steps (its order is Philox's, known ahead; one epoch ahead
     * at most, and only once this epoch is known) */
    s->ntodo = 0;
    size_t p = pos + n;
    int used[SLOTS] = {0}, nx = 0;
    used[cur - s->s] = 1;
    size_t want_pos[AHEAD], want_n[AHEAD];
    int want_next[AHEAD], nwant = 0;
    for (int k = 0; k < AHEAD; k++) {
        if (p >= N) {
            if (nx || s->epoch < 0) break;
            nx = 1;
            p = 0;
        }
        size_t m = N - p < B ? N - p : B;
        slot *have = find(s, p, m, nx);
        if (have)
            used[have - s->s] = 1;
        else {
            want_pos[nwant] = p;
            want_n[nwant] = m;
            want_next[nwant++] = nx;
        }
        p += m;
    }
    for (int w = 0, i = 0; w < nwant && i < SLOTS; i++) {
        if (used[i]) continue;
        s->s[i].pos = want_pos[w];
        s->s[i].n = want_n[w];
        s->s[i].next = want_next[w];
        s->s[i].valid = 0;
        s->todo[s->ntodo++] = i;
        used[i] = 1;
        w++;
    }
    *x = &cur->rows;
    *sid = s->iota;
    if (s->ntodo) reader_start(s);
    return pp_ok();
}

void stream_close(trainer *t)
{
    trainer_stream *s = t->stream;
    if (!s) return;
    stream_join(t);
    if (s->started) {
        pthread_mutex_lock(&s->mu);
        s->quit = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->th, NULL);
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
    }
    for (int i = 0; i < SLOTS; i++) pp_data_free(&s->s[i].rows);
    free(s->iota);
    free(s->next_perm);
    pp_dataset_rows_close(s->rows);
    free(s);
    t->stream = NULL;
}

const char *stream_reads(const trainer *t)
{
    if (!t->stream || !t->stream->rows) return NULL;
    static const char *how[] = {"hdf5", "direct", "mapped"};
    return how[pp_dataset_rows_direct(t->stream->rows)];
}

void stream_mapping(const trainer *t, const void **at, size_t *len)
{
    pp_dataset_rows_mapping(t->stream ? t->stream->rows : NULL, at, len);
}
