/* File seals (see paraprop/seal.h): a SHA-256 per segment in the HDF5 user block, checked with
 * plain reads before any HDF5 call touches the file. */
#include "paraprop/seal.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paraprop/fingerprint.h"

#define MAGIC "paraprop-seal "
#define VERSION 1
#define CHUNK ((size_t)1 << 20)

static const unsigned char HDF5_SIGNATURE[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

/* Segments of at least 1 MiB, and never more than PP_SEAL_MAX_SEGMENTS of them, so that the
 * header always fits in the user block. */
static size_t segment_size(unsigned long long body)
{
    unsigned long long s = CHUNK;
    unsigned long long need = (body + PP_SEAL_MAX_SEGMENTS - 1) / PP_SEAL_MAX_SEGMENTS;
    if (need > s) s = (need + 65535) / 65536 * 65536;
    return (size_t)s;
}

static size_t segment_count(unsigned long long body, size_t seg)
{
    return (size_t)((body + seg - 1) / seg);
}

static void format_header(char *hdr, long long bytes, size_t seg, size_t nseg,
                          const uint8_t (*dig)[32])
{
    memset(hdr, 0, PP_SEAL_BLOCK);
    size_t at = (size_t)snprintf(hdr, PP_SEAL_BLOCK, "%s%d\nbytes %lld\noffset %d\nsegment %zu\n",
                                 MAGIC, VERSION, bytes, PP_SEAL_BLOCK, seg);
    for (size_t i = 0; i < nseg; i++) {
        at += (size_t)snprintf(hdr + at, PP_SEAL_BLOCK - at, "sha256 ");
        for (int k = 0; k < 32; k++)
            at += (size_t)snprintf(hdr + at, PP_SEAL_BLOCK - at, "%02x", dig[i][k]);
        at += (size_t)snprintf(hdr + at, PP_SEAL_BLOCK - at, "\n");
    }
}

int pp_seal_image(unsigned char *image, size_t size)
{
    if (size < PP_SEAL_BLOCK) return -1;
    unsigned long long body = size - PP_SEAL_BLOCK;
    size_t seg = segment_size(body), nseg = segment_count(body, seg);
    uint8_t dig[PP_SEAL_MAX_SEGMENTS][32];
    for (size_t i = 0; i < nseg; i++) {
        size_t off = PP_SEAL_BLOCK + i * seg;
        size_t len = size - off < seg ? size - off : seg;
        pp_sha256(image + off, len, dig[i]);
    }
    format_header((char *)image, (long long)size, seg, nseg, (const uint8_t(*)[32])dig);
    return 0;
}

/* pread until len bytes or end of file; returns the count read or -1. */
static ssize_t read_at(int fd, void *buf, size_t len, off_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, (char *)buf + done, len - done, off + (off_t)done);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

static pp_status hash_range(int fd, const char *path, off_t off, size_t len, uint8_t out[32])
{
    unsigned char *buf = malloc(len < CHUNK ? len + 1 : CHUNK);
    if (!buf) return pp_error(PP_ERR_NOMEM, "%s: no memory to verify the file's seal", path);
    pp_sha256_ctx c;
    pp_sha256_init(&c);
    pp_status st = pp_ok();
    while (len > 0) {
        size_t want = len < CHUNK ? len : CHUNK;
        ssize_t r = read_at(fd, buf, want, off);
        if (r != (ssize_t)want) {
            st = pp_error(PP_ERR_INPUT, "%s: read error at byte %lld (%s)", path, (long long)off,
                          r < 0 ? strerror(errno) : "file shorter than expected");
            break;
        }
        pp_sha256_update(&c, buf, want);
        off += (off_t)want;
        len -= want;
    }
    free(buf);
    if (!st.code) pp_sha256_final(&c, out);
    return st;
}

static int parse_hex(const char *s, uint8_t out[32])
{
    for (int k = 0; k < 32; k++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char ch = s[2 * k + j];
            unsigned d;
            if (ch >= '0' && ch <= '9')
                d = (unsigned)(ch - '0');
            else if (ch >= 'a' && ch <= 'f')
                d = (unsigned)(ch - 'a' + 10);
            else
                return -1;
            v = v * 16 + d;
        }
        out[k] = (uint8_t)v;
    }
    return 0;
}

/* Reads "<key> <non-negative integer>\n" at *p. */
static int parse_number_line(const char **p, const char *key, long long *v)
{
    size_t kl = strlen(key);
    if (strncmp(*p, key, kl) != 0 || (*p)[kl] != ' ') return -1;
    const char *q = *p + kl + 1;
    long long x = 0;
    if (*q < '0' || *q > '9') return -1;
    for (; *q >= '0' && *q <= '9'; q++) {
        if (x > (LLONG_MAX - 9) / 10) return -1;
        x = x * 10 + (*q - '0');
    }
    if (*q != '\n') return -1;
    *p = q + 1;
    *v = x;
    return 0;
}

/* Parses a seal header; 1 = sealed and parsed, 0 = no seal, -1 = damaged header. */
static int parse_header(const unsigned char *blk, size_t got, pp_seal_info *info, uint8_t dig[][32],
                        char *why, size_t whylen)
{
    size_t ml = strlen(MAGIC);
    if (got < ml || memcmp(blk, MAGIC, ml) != 0) return 0;
    char hdr[PP_SEAL_BLOCK + 1];
    memcpy(hdr, blk, got);
    hdr[got] = '\0';
    long long ver = 0, bytes = 0, off = 0, seg = 0;
    const char *p = hdr + ml;
    for (; *p >= '0' && *p <= '9' && ver < 1000000; p++) ver = ver * 10 + (*p - '0');
    if (*p != '\n' || ver != VERSION) {
        snprintf(why, whylen, "its version line is not 'paraprop-seal %d'", VERSION);
        return -1;
    }
    p++;
    if (parse_number_line(&p, "bytes", &bytes) || parse_number_line(&p, "offset", &off) ||
        parse_number_line(&p, "segment", &seg) || off != PP_SEAL_BLOCK || bytes < off || seg <= 0) {
        snprintf(why, whylen, "damaged size lines");
        return -1;
    }
    size_t nseg = segment_count((unsigned long long)(bytes - off), (size_t)seg);
    if (nseg > PP_SEAL_MAX_SEGMENTS) {
        snprintf(why, whylen, "%zu segments, more than %d", nseg, PP_SEAL_MAX_SEGMENTS);
        return -1;
    }
    for (size_t i = 0; i < nseg; i++) {
        if (strncmp(p, "sha256 ", 7) != 0 || strlen(p) < 7 + 64 + 1 || p[7 + 64] != '\n' ||
            parse_hex(p + 7, dig[i]) != 0) {
            snprintf(why, whylen, "damaged checksum line %zu", i + 1);
            return -1;
        }
        p += 7 + 64 + 1;
    }
    info->sealed = 1;
    info->bytes = bytes;
    info->segment_bytes = (size_t)seg;
    info->segments = nseg;
    return 1;
}

pp_status pp_seal_check(const char *path, int part, int nparts, pp_seal_info *info)
{
    memset(info, 0, sizeof *info);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return pp_error(PP_ERR_INPUT, "%s: cannot open (%s)", path, strerror(errno));
    struct stat sb;
    unsigned char blk[PP_SEAL_BLOCK];
    ssize_t got = fstat(fd, &sb) == 0 ? read_at(fd, blk, sizeof blk, 0) : -1;
    if (got < 0) {
        int e = errno;
        close(fd);
        return pp_error(PP_ERR_INPUT, "%s: cannot read (%s)", path, strerror(e));
    }
    uint8_t dig[PP_SEAL_MAX_SEGMENTS][32];
    char why[128] = "";
    int h = parse_header(blk, (size_t)got, info, dig, why, sizeof why);
    pp_status st = pp_ok();
    if (h < 0)
        st = pp_error(PP_ERR_INPUT,
                      "%s: damaged: its seal (the SHA-256 header in the first %d bytes) is "
                      "unreadable: %s",
                      path, PP_SEAL_BLOCK, why);
    else if (h > 0 && (long long)sb.st_size != info->bytes)
        st = pp_error(PP_ERR_INPUT,
                      "%s: damaged: the file is %lld bytes but paraprop wrote %lld (truncated or "
                      "extended)",
                      path, (long long)sb.st_size, info->bytes);
    for (size_t i = 0; h > 0 && !st.code && nparts > 0 && i < info->segments; i++) {
        if ((int)(i % (size_t)nparts) != part) continue;
        long long lo = PP_SEAL_BLOCK + (long long)(i * info->segment_bytes);
        long long hi = lo + (long long)info->segment_bytes;
        if (hi > info->bytes) hi = info->bytes;
        uint8_t d[32];
        st = hash_range(fd, path, (off_t)lo, (size_t)(hi - lo), d);
        if (!st.code && memcmp(d, dig[i], 32) != 0)
            st = pp_error(PP_ERR_INPUT,
                          "%s: damaged: bytes %lld…%lld do not match the SHA-256 checksum in the "
                          "file's seal, so the file changed after paraprop wrote it (if you "
                          "edited it on purpose, 'paraprop seal %s' accepts the change)",
                          path, lo, hi - 1, path);
        if (!st.code) info->verified++;
    }
    close(fd);
    return st;
}

pp_status pp_seal_file(const char *path)
{
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return pp_error(PP_ERR_INPUT, "%s: cannot open for writing (%s)", path, strerror(errno));
    struct stat sb;
    unsigned char blk[PP_SEAL_BLOCK + 8];
    ssize_t got = fstat(fd, &sb) == 0 ? read_at(fd, blk, sizeof blk, 0) : -1;
    pp_status st = pp_ok();
    int empty = 1;
    for (size_t i = 0; got == (ssize_t)sizeof blk && i < PP_SEAL_BLOCK; i++) empty &= blk[i] == 0;
    if (got != (ssize_t)sizeof blk ||
        memcmp(blk + PP_SEAL_BLOCK, HDF5_SIGNATURE, sizeof HDF5_SIGNATURE) != 0)
        st = pp_error(PP_ERR_INPUT,
                      "%s: has no %d-byte HDF5 user block to hold a seal (files paraprop writes "
                      "have one; add one with 'h5jam -i IN.h5 -u BLOCK -o OUT.h5' and a %d-byte "
                      "BLOCK of zeros)",
                      path, PP_SEAL_BLOCK, PP_SEAL_BLOCK);
    else if (!empty && memcmp(blk, MAGIC, strlen(MAGIC)) != 0)
        st = pp_error(PP_ERR_INPUT,
                      "%s: its user block holds something other than a paraprop seal; not "
                      "overwriting it",
                      path);
    unsigned long long body = (unsigned long long)sb.st_size - PP_SEAL_BLOCK;
    size_t seg = segment_size(body), nseg = segment_count(body, seg);
    uint8_t dig[PP_SEAL_MAX_SEGMENTS][32];
    for (size_t i = 0; !st.code && i < nseg; i++) {
        long long lo = PP_SEAL_BLOCK + (long long)(i * seg);
        long long hi = lo + (long long)seg;
        if (hi > (long long)sb.st_size) hi = (long long)sb.st_size;
        st = hash_range(fd, path, (off_t)lo, (size_t)(hi - lo), dig[i]);
    }
    if (!st.code) {
        char hdr[PP_SEAL_BLOCK];
        format_header(hdr, (long long)sb.st_size, seg, nseg, (const uint8_t(*)[32])dig);
        ssize_t w = pwrite(fd, hdr, sizeof hdr, 0);
        if (w != (ssize_t)sizeof hdr || fsync(fd) != 0)
            st = pp_error(PP_ERR_WRITE, "%s: writing the seal failed (%s)", path,
                          w < 0 ? strerror(errno) : "short write");
    }
    if (close(fd) != 0 && !st.code)
        st = pp_error(PP_ERR_WRITE, "%s: writing the seal failed (%s)", path, strerror(errno));
    return st;
}
