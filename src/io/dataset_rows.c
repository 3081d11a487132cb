/* Rows of a dataset file read by index, serially, on one rank: stream mode's reads. */
#include "paraprop/dataset.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/clones.h"
#include "h5util.h"

typedef struct row_ref {
    uint32_t id, at; /* a sample and its row in the shard */
} row_ref;

/* Direct reads: through HDF5, every scattered row costs its whole chunk read, checksummed and
 * copied (a 32 KiB chunk for one 784-byte row: 60 µs a row, stream mode at 0.2× memory). The
 * converted datasets are chunked with no filter but fletcher32, which leaves the chunk's bytes
 * as they are with the checksum after them, so a row is a pread at a known place. Each chunk is
 * still verified: read whole and checksummed the first time one of its rows is wanted (over an
 * epoch, about the file once), later rows of it are read alone. Anything else (compression,
 * another byte order, a chunk whose filter was skipped) reads through HDF5 as before.
 *
 * Mapped: the file is mapped read-only and a row is a memcpy from the page cache. A pread of a
 * 784-byte row cost 1.9 µs of CPU on the VM these figures come from, the mapped copy 0.1-0.2
 * µs: 64 rows a step took ~120 µs from a rank's compute when the ranks fill the cores. Chunks
 * that lie past the file's end at open (a truncated file) are read with pread, whose short read
 * is the clean error; a file cut short while mapped raises SIGBUS in the copy, which the reads
 * catch (on_bus) and report as a short read. */
typedef struct source {
    int fd;             /* the file (-1: rows go through HDF5) */
    unsigned char *map; /* the whole file mapped read-only (NULL: pread) */
    size_t len;         /* its size when mapped */
} source;

typedef struct direct {
    int on;
    size_t crows, row_bytes, nchunks;
    int checksum;            /* fletcher32 on every chunk */
    uint64_t *addr, *size;   /* each chunk's place and stored size, by chunk index */
    unsigned char *verified; /* its checksum was checked on this rank */
    unsigned char *scratch;  /* one stored chunk */
    unsigned char *cache;    /* the whole array's rows, chunk by chunk, as read (or NULL) */
    unsigned char *cached;   /* that chunk of cache is filled */
} direct;

struct pp_dataset_rows {
    char path[1024];
    row_ref *ord; /* the shard's rows in file order */
    char *tmp;    /* their bytes, in that order */
    size_t cap;
    hid_t f, in, out, fs_in, fs_out, ms_in, ms_out;
    pp_dataset_info info;
    source src;       /* the file, for direct reads */
    direct din, dout; /* inputs, labels or targets */
};

/* SIGBUS from a mapped read: the reading thread's jump back (NULL outside a read). The handler
 * is installed once, with SA_NODEFER so that jumping out of it leaves the signal mask as it
 * was (and sigsetjmp need not save it: a syscall per read, what mapping avoids). A SIGBUS that
 * is not ours goes back to the handler that was there before, and the access runs again. */
static _Thread_local sigjmp_buf *bus_at;
static struct sigaction bus_old;
static int bus_ok;

static void on_bus(int sig, siginfo_t *si, void *ctx)
{
    if (bus_at) siglongjmp(*bus_at, 1);
    if (bus_old.sa_flags & SA_SIGINFO) {
        if (bus_old.sa_sigaction) {
            bus_old.sa_sigaction(sig, si, ctx);
            return;
        }
    } else if (bus_old.sa_handler != SIG_DFL && bus_old.sa_handler != SIG_IGN) {
        bus_old.sa_handler(sig);
        return;
    }
    sigaction(SIGBUS, &bus_old, NULL); /* the default: the faulting access ends the process */
}

static void bus_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_bus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    bus_ok = sigaction(SIGBUS, &sa, &bus_old) == 0;
}

static void direct_free(direct *d)
{
    free(d->addr);
    free(d->size);
    free(d->verified);
    free(d->scratch);
    free(d->cache);
    free(d->cached);
    memset(d, 0, sizeof *d);
}

/* HDF5's fletcher32 (H5checksum.c): 16-bit big-endian words, sums reduced every 360 words.
 * HDF5 adds word by word (sum1 += w; sum2 += sum1), a chain of dependent adds at about a word a
 * cycle, which made the first read of a chunk cost more than the reads of its rows. Over a
 * block of t words w_0…w_{t-1} the same sums are sum1 + Σ w_i and sum2 + t·sum1 + Σ (t−i)·w_i:
 * independent products the compiler vectorises. Unsigned arithmetic is exact mod 2^32 either
 * way, so the bits are HDF5's (its block size keeps them below 2^32 anyway). */
PP_CLONES static uint32_t fletcher32(const unsigned char *data, size_t n)
{
    size_t len = n / 2;
    uint32_t sum1 = 0, sum2 = 0;
    while (len) {
        const uint32_t t = len > 360 ? 360 : (uint32_t)len;
        len -= t;
        uint32_t s1 = 0, s2 = 0;
        for (uint32_t i = 0; i < t; i++) {
            const uint32_t w = (uint32_t)data[2 * i] << 8 | (uint32_t)data[2 * i + 1];
            s1 += w;
            s2 += (t - i) * w;
        }
        data += 2 * (size_t)t;
        sum2 += t * sum1 + s2;
        sum1 += s1;
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    }
    if (n % 2) {
        sum1 += (uint32_t)(((uint16_t)*data) << 8);
        sum2 += sum1;
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    }
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    return (sum2 << 16) | sum1;
}

/* The direct-read table of dataset d (n rows of row_bytes, little-endian elements of esz bytes),
 * or d->on = 0 when its layout does not allow it. */
static void direct_open(direct *dr, hid_t d, size_t n, size_t row_bytes, size_t esz, uint64_t base)
{
    memset(dr, 0, sizeof *dr);
    hid_t cp = H5Dget_create_plist(d), t = H5Dget_type(d), fs = H5Dget_space(d);
    /* a contiguous dataset (files converted before chunking) is one block without a checksum:
     * a row is always a read of its own */
    if (cp >= 0 && t >= 0 && n > 0 && H5Pget_layout(cp) == H5D_CONTIGUOUS &&
        H5Pget_nfilters(cp) == 0 && (esz == 1 || H5Tget_order(t) == H5T_ORDER_LE)) {
        const haddr_t at = H5Dget_offset(d);
        dr->crows = n;
        dr->row_bytes = row_bytes;
        dr->nchunks = 1;
        dr->addr = malloc(sizeof *dr->addr);
        dr->size = malloc(sizeof *dr->size);
        dr->verified = malloc(1);
        if (at != HADDR_UNDEF && dr->addr && dr->size && dr->verified) {
            dr->addr[0] = (uint64_t)at; /* from the file's start (chunk addresses are not) */
            dr->size[0] = (uint64_t)(n * row_bytes);
            dr->verified[0] = 1;
            dr->on = 1;
        } else
            direct_free(dr);
        pp_h5_close(fs);
        pp_h5_close(t);
        pp_h5_close(cp);
        return;
    }
    int ok = cp >= 0 && t >= 0 && fs >= 0 && H5Pget_layout(cp) == H5D_CHUNKED && n > 0;
    if (ok && esz > 1) ok = H5Tget_order(t) == H5T_ORDER_LE;
    const int nf = ok ? H5Pget_nfilters(cp) : -1;
    if (ok && nf == 1) {
        unsigned flags = 0, cd[8];
        size_t ncd = 8;
        ok = H5Pget_filter2(cp, 0, &flags, &ncd, cd, 0, NULL, NULL) == H5Z_FILTER_FLETCHER32;
        dr->checksum = 1;
    } else if (nf != 0)
        ok = 0;
    hsize_t cdims[2] = {0, 0}, dims[2] = {0, 0};
    const int rank = ok ? H5Sget_simple_extent_dims(fs, dims, NULL) : -1;
    if (ok) ok = (rank == 1 || rank == 2) && H5Pget_chunk(cp, rank, cdims) == rank;
    /* chunks of whole rows: a row's bytes are consecutive in its chunk */
    if (ok && rank == 2) ok = cdims[1] == dims[1];
    hsize_t nch = 0;
    if (ok) ok = H5Dget_num_chunks(d, fs, &nch) >= 0 && cdims[0] > 0;
    if (ok) {
        dr->crows = (size_t)cdims[0];
        dr->row_bytes = row_bytes;
        dr->nchunks = (n + dr->crows - 1) / dr->crows;
        ok = nch == dr->nchunks; /* every chunk written (converted files are complete) */
    }
    if (ok) {
        dr->addr = calloc(dr->nchunks, sizeof *dr->addr);
        dr->size = calloc(dr->nchunks, sizeof *dr->size);
        dr->verified = calloc(dr->nchunks, 1);
        dr->scratch = malloc(dr->crows * row_bytes + 4);
        ok = dr->addr && dr->size && dr->verified && dr->scratch;
    }
    for (hsize_t i = 0; ok && i < nch; i++) {
        hsize_t off[2] = {0, 0}, sz = 0;
        haddr_t addr = 0;
        unsigned mask = 0;
        ok = H5Dget_chunk_info(d, fs, i, off, &mask, &addr, &sz) >= 0 && mask == 0 &&
             off[0] % cdims[0] == 0;
        const size_t c = ok ? (size_t)(off[0] / cdims[0]) : 0;
        ok = ok && c < dr->nchunks && sz == dr->crows * row_bytes + (dr->checksum ? 4u : 0u);
        if (ok) {
            dr->addr[c] = base + (uint64_t)addr; /* HDF5 addresses start after the user block */
            dr->size[c] = (uint64_t)sz;
        }
    }
    for (size_t c = 0; ok && c < dr->nchunks; c++) ok = dr->size[c] != 0;
    pp_h5_close(fs);
    pp_h5_close(t);
    pp_h5_close(cp);
    if (ok)
        dr->on = 1;
    else
        direct_free(dr);
}

/* Chunk c lies inside the mapping. */
static int mapped(const source *f, const direct *dr, size_t c)
{
    return f->map && dr->addr[c] <= f->len && dr->size[c] <= f->len - dr->addr[c];
}

/* Chunk c's stored bytes, checked against its fletcher32 (a contiguous array has none) and
 * marked verified: in the mapping where it lies there, else read into buf. NULL on a short
 * read or a bad checksum. */
static const unsigned char *direct_chunk(const direct *dr, const source *f, size_t c,
                                         unsigned char *buf)
{
    const size_t n = (size_t)dr->size[c];
    const unsigned char *b = buf;
    if (mapped(f, dr, c))
        b = f->map + dr->addr[c];
    else if (pread(f->fd, buf, n, (off_t)dr->addr[c]) != (ssize_t)n)
        return NULL;
    if (dr->checksum) {
        const unsigned char *q = b + n - 4;
        const uint32_t got = fletcher32(b, n - 4);
        const uint32_t le =
            (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
        const uint32_t be = (uint32_t)q[3] | (uint32_t)q[2] << 8 | (uint32_t)q[1] << 16 |
                            (uint32_t)q[0] << 24; /* older files (as HDF5 accepts) */
        if (got != le && got != be) return NULL;
    }
    dr->verified[c] = 1;
    return b;
}

/* Row `row` into dst: its chunk verified first, once. -1 on a short read or a bad checksum. */
static int direct_row(const direct *dr, const source *f, size_t row, void *dst)
{
    const size_t c = row / dr->crows, at = (row % dr->crows) * dr->row_bytes;
    const size_t cb = dr->crows * dr->row_bytes;
    if (dr->cache) { /* kept whole (labels): a chunk read once, its rows copied from memory */
        unsigned char *keep = dr->cache + c * cb;
        if (!dr->cached[c]) {
            const unsigned char *b = direct_chunk(dr, f, c, dr->scratch ? dr->scratch : keep);
            if (!b) return -1;
            if (b != keep) memcpy(keep, b, cb);
            dr->cached[c] = 1;
        }
        memcpy(dst, keep + at, dr->row_bytes);
        return 0;
    }
    if (!dr->verified[c]) {
        const unsigned char *b = direct_chunk(dr, f, c, dr->scratch);
        if (!b) return -1;
        memcpy(dst, b + at, dr->row_bytes);
        return 0;
    }
    if (mapped(f, dr, c)) {
        memcpy(dst, f->map + dr->addr[c] + at, dr->row_bytes);
        return 0;
    }
    return pread(f->fd, dst, dr->row_bytes, (off_t)(dr->addr[c] + at)) == (ssize_t)dr->row_bytes
               ? 0
               : -1;
}

/* Keep dr's rows in memory as they are read: for labels or targets much smaller than the
 * inputs, one pread of a 4-byte label per row cost as much as the row's inputs. */
static void direct_keep(direct *dr)
{
    if (!dr->on) return;
    dr->cache = malloc(dr->nchunks * dr->crows * dr->row_bytes);
    dr->cached = calloc(dr->nchunks, 1);
    if (!dr->cache || !dr->cached) {
        free(dr->cache);
        free(dr->cached);
        dr->cache = dr->cached = NULL; /* row by row, as before */
    }
}

void pp_dataset_rows_close(pp_dataset_rows *r)
{
    if (!r) return;
    pp_h5_close(r->ms_in);
    pp_h5_close(r->ms_out);
    pp_h5_close(r->fs_in);
    pp_h5_close(r->fs_out);
    pp_h5_close(r->in);
    pp_h5_close(r->out);
    pp_h5_close(r->f);
    free(r->ord);
    free(r->tmp);
    direct_free(&r->din);
    direct_free(&r->dout);
    if (r->src.map) munmap(r->src.map, r->src.len);
    if (r->src.fd >= 0) close(r->src.fd);
    free(r);
}

pp_status pp_dataset_rows_open(const char *path, pp_dataset_rows **out)
{
    *out = NULL;
    pp_dataset_rows *r = calloc(1, sizeof *r);
    if (!r) return pp_error(PP_ERR_NOMEM, "out of memory");
    r->f = r->in = r->out = r->fs_in = r->fs_out = r->ms_in = r->ms_out = -1;
    r->src.fd = -1;
    snprintf(r->path, sizeof r->path, "%s", path);
    pp_status st = pp_dataset_probe(path, &r->info);
    if (!st.code) st = pp_h5_open_readonly(path, "dataset file", &r->f);
    if (st.code) {
        pp_dataset_rows_close(r);
        return st;
    }
    /* a chunk cache of 16 MiB per array: rows that share a chunk read it once */
    hid_t a = H5Pcreate(H5P_DATASET_ACCESS);
    if (a >= 0) H5Pset_chunk_cache(a, 10007, (size_t)16 << 20, 0.75);
    r->in = H5Dopen2(r->f, "/train/inputs", a);
    r->out = H5Dopen2(r->f, r->info.labelled ? "/train/labels" : "/train/targets", a);
    pp_h5_close(a);
    hsize_t one_in[2] = {1, r->info.d}, one_out[2] = {1, r->info.labelled ? 1 : r->info.k};
    r->fs_in = r->in >= 0 ? H5Dget_space(r->in) : -1;
    r->fs_out = r->out >= 0 ? H5Dget_space(r->out) : -1;
    r->ms_in = H5Screate_simple(2, one_in, NULL);
    r->ms_out = H5Screate_simple(r->info.labelled ? 1 : 2, one_out, NULL);
    if (r->in < 0 || r->out < 0 || r->fs_in < 0 || r->fs_out < 0 || r->ms_in < 0 || r->ms_out < 0) {
        pp_dataset_rows_close(r);
        return pp_error(PP_ERR_INPUT, "%s: cannot open /train for reading rows", path);
    }
    const pp_dataset_info *in = &r->info;
    const size_t esz = in->bytes ? 1 : sizeof(float);
    /* the seal's user block comes before HDF5's address 0 */
    hsize_t ub = 0;
    hid_t fcpl = H5Fget_create_plist(r->f);
    if (fcpl < 0 || H5Pget_userblock(fcpl, &ub) < 0) ub = (hsize_t)-1;
    pp_h5_close(fcpl);
    if (ub != (hsize_t)-1) {
        direct_open(&r->din, r->in, in->n_train, in->d * esz, esz, (uint64_t)ub);
        direct_open(&r->dout, r->out, in->n_train,
                    in->labelled ? sizeof(int32_t) : in->k * sizeof(float), 4, (uint64_t)ub);
    }
    /* labels or targets at most 1/16 of the inputs (4-byte labels of 64 or more inputs) are
     * kept in memory as they are read: stream mode then costs its row buffers and them */
    if (r->din.on && r->dout.on &&
        r->dout.nchunks * r->dout.crows * r->dout.row_bytes * 16 <=
            r->din.nchunks * r->din.crows * r->din.row_bytes)
        direct_keep(&r->dout);
    if (r->din.on && r->dout.on) r->src.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->src.fd < 0) {
        direct_free(&r->din);
        direct_free(&r->dout);
    }
    /* mapped reads where the SIGBUS guard is in place; else one pread a row */
    static pthread_once_t bus_once = PTHREAD_ONCE_INIT;
    struct stat sb;
    if (r->src.fd >= 0 && pthread_once(&bus_once, bus_install) == 0 && bus_ok &&
        fstat(r->src.fd, &sb) == 0 && sb.st_size > 0) {
        void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, r->src.fd, 0);
        if (m != MAP_FAILED) {
            (void)posix_madvise(m, (size_t)sb.st_size,
                                POSIX_MADV_RANDOM); /* rows, not runs: no readahead */
            r->src.map = m;
            r->src.len = (size_t)sb.st_size;
        }
    }
    *out = r;
    return pp_ok();
}

static int read_one(hid_t d, hid_t fs, hid_t ms, int rank, size_t row, size_t cols, hid_t mt,
                    void *buf)
{
    hsize_t start[2] = {row, 0}, count[2] = {1, cols};
    (void)rank;
    return H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
                   H5Dread(d, mt, ms, fs, H5P_DEFAULT, buf) >= 0
               ? 0
               : -1;
}

/* Row by row: slow (two H5Dread calls a row), but names the row that fails. */
static pp_status read_each(pp_dataset_rows *r, const uint32_t *ids, size_t m, pp_data *dst)
{
    const pp_dataset_info *in = &r->info;
    for (size_t i = 0; i < m; i++) {
        const size_t s = ids[i];
        if (s >= in->n_train)
            return pp_error(PP_ERR_RUNTIME, "%s: row %zu is past the %zu rows of /train", r->path,
                            s, in->n_train);
        void *bi = in->bytes ? (void *)(dst->u8 + i * in->d) : (void *)(dst->f32 + i * in->d);
        void *bo = in->labelled ? (void *)(dst->labels + i) : (void *)(dst->targets + i * in->k);
        int rc = read_one(r->in, r->fs_in, r->ms_in, 2, s, in->d,
                          in->bytes ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, bi);
        if (!rc)
            rc = read_one(r->out, r->fs_out, r->ms_out, in->labelled ? 1 : 2, s,
                          in->labelled ? 1 : in->k,
                          in->labelled ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT, bo);
        if (rc)
            return pp_error(PP_ERR_INPUT,
                            "%s: reading row %zu of /train failed (truncated or damaged file?)",
                            r->path, s);
        /* the checks a slice read makes, row by row: a bad label would index out of bounds */
        if (in->labelled && (dst->labels[i] < 0 || (size_t)dst->labels[i] >= in->k))
            return pp_error(PP_ERR_INPUT,
                            "%s: /train: label %ld of sample %zu is out of range [0, %zu)", r->path,
                            (long)dst->labels[i], s, in->k);
        if (!in->bytes)
            for (size_t j = 0; j < in->d; j++)
                if (!isfinite(dst->f32[i * in->d + j]))
                    return pp_error(PP_ERR_INPUT,
                                    "%s: /train: input %zu of sample %zu is not finite", r->path, j,
                                    s);
        if (!in->labelled)
            for (size_t j = 0; j < in->k; j++)
                if (!isfinite(dst->targets[i * in->k + j]))
                    return pp_error(PP_ERR_INPUT,
                                    "%s: /train: target %zu of sample %zu is not finite", r->path,
                                    j, s);
    }
    return pp_ok();
}

static pp_status check_rows(pp_dataset_rows *r, const uint32_t *ids, size_t m, pp_data *dst);

/* The rows by direct reads (see direct): the same bytes as HDF5 would give, the same checks. */
static pp_status read_direct(pp_dataset_rows *r, const uint32_t *ids, size_t m, pp_data *dst)
{
    const pp_dataset_info *in = &r->info;
    /* volatile: read again after a SIGBUS jumps back here */
    volatile size_t i = 0;
    sigjmp_buf jb;
    if (r->src.map) {
        if (sigsetjmp(jb, 0)) {
            bus_at = NULL; /* the file shrank under its mapping */
            return pp_error(PP_ERR_INPUT,
                            "%s: reading row %u of /train failed: the file ends before it "
                            "(truncated while training?)",
                            r->path, ids[i]);
        }
        bus_at = &jb;
    }
    for (; i < m; i++) {
        void *bi = in->bytes ? (void *)(dst->u8 + i * in->d) : (void *)(dst->f32 + i * in->d);
        void *bo = in->labelled ? (void *)(dst->labels + i) : (void *)(dst->targets + i * in->k);
        if (direct_row(&r->din, &r->src, ids[i], bi) || direct_row(&r->dout, &r->src, ids[i], bo)) {
            bus_at = NULL;
            return pp_error(PP_ERR_INPUT,
                            "%s: reading row %u of /train failed: its chunk is short or fails "
                            "its checksum (truncated or damaged file?)",
                            r->path, ids[i]);
        }
    }
    bus_at = NULL;
    return check_rows(r, ids, m, dst);
}

static int by_id(const void *a, const void *b)
{
    uint32_t x = ((const row_ref *)a)->id, y = ((const row_ref *)b)->id;
    return (x > y) - (x < y);
}

/* The rows ord[0…m) of d (cols values each, size bytes) in one H5Dread: a selection of single
 * rows in file order, which HDF5 reads chunk by chunk. */
static int read_sorted(hid_t d, hid_t fs, int rank, const row_ref *ord, size_t m, size_t cols,
                       hid_t mt, void *buf)
{
    int rc = H5Sselect_none(fs) >= 0 ? 0 : -1;
    for (size_t i = 0; !rc && i < m; i++) {
        hsize_t start[2] = {ord[i].id, 0}, count[2] = {1, cols};
        if (H5Sselect_hyperslab(fs, H5S_SELECT_OR, start, NULL, count, NULL) < 0) rc = -1;
    }
    hsize_t mdims[2] = {m, cols};
    hid_t ms = rc ? -1 : H5Screate_simple(rank, mdims, NULL);
    if (ms < 0 || H5Dread(d, mt, ms, fs, H5P_DEFAULT, buf) < 0) rc = -1;
    pp_h5_close(ms);
    return rc;
}

pp_status pp_dataset_rows_read(pp_dataset_rows *r, const uint32_t *ids, size_t m, pp_data *dst)
{
    const pp_dataset_info *in = &r->info;
    if (!m) return pp_ok();
    const size_t esz = in->bytes ? 1 : sizeof(float), ib = in->d * esz;
    const size_t ob = in->labelled ? sizeof(int32_t) : in->k * sizeof(float);
    const size_t rb = ib > ob ? ib : ob;
    if (m > r->cap) {
        row_ref *o = realloc(r->ord, m * sizeof *o);
        if (o) r->ord = o;
        char *t = o ? realloc(r->tmp, m * rb) : NULL;
        if (t) r->tmp = t;
        if (!o || !t) return pp_error(PP_ERR_NOMEM, "out of memory for %zu rows", m);
        r->cap = m;
    }
    for (size_t i = 0; i < m; i++) {
        if (ids[i] >= in->n_train) return read_each(r, ids, m, dst); /* names the row */
        r->ord[i].id = ids[i];
        r->ord[i].at = (uint32_t)i;
    }
    if (r->src.fd >= 0) return read_direct(r, ids, m, dst);
    qsort(r->ord, m, sizeof *r->ord, by_id);
    char *in_rows = in->bytes ? (char *)dst->u8 : (char *)dst->f32;
    char *out_rows = in->labelled ? (char *)dst->labels : (char *)dst->targets;
    int rc = read_sorted(r->in, r->fs_in, 2, r->ord, m, in->d,
                         in->bytes ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, r->tmp);
    for (size_t j = 0; !rc && j < m; j++)
        memcpy(in_rows + (size_t)r->ord[j].at * ib, r->tmp + j * ib, ib);
    if (!rc)
        rc = read_sorted(r->out, r->fs_out, in->labelled ? 1 : 2, r->ord, m,
                         in->labelled ? 1 : in->k,
                         in->labelled ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT, r->tmp);
    for (size_t j = 0; !rc && j < m; j++)
        memcpy(out_rows + (size_t)r->ord[j].at * ob, r->tmp + j * ob, ob);
    /* a failure, or the checks: row by row, which names the sample */
    if (rc) return read_each(r, ids, m, dst);
    return check_rows(r, ids, m, dst);
}

/* The checks a slice read makes; a bad row is read again alone through HDF5, which names it. */
static pp_status check_rows(pp_dataset_rows *r, const uint32_t *ids, size_t m, pp_data *dst)
{
    const pp_dataset_info *in = &r->info;
    for (size_t i = 0; i < m; i++) {
        int bad = in->labelled && (dst->labels[i] < 0 || (size_t)dst->labels[i] >= in->k);
        for (size_t j = 0; !bad && !in->bytes && j < in->d; j++)
            bad = !isfinite(dst->f32[i * in->d + j]);
        for (size_t j = 0; !bad && !in->labelled && j < in->k; j++)
            bad = !isfinite(dst->targets[i * in->k + j]);
        if (bad) return read_each(r, ids, m, dst);
    }
    return pp_ok();
}

int pp_dataset_rows_direct(const pp_dataset_rows *r)
{
    return !r || r->src.fd < 0 ? 0 : r->src.map ? 2 : 1;
}

void pp_dataset_rows_mapping(const pp_dataset_rows *r, const void **at, size_t *len)
{
    *at = r ? r->src.map : NULL;
    *len = r && r->src.map ? r->src.len : 0;
}
