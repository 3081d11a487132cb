/* File seals (see paraprop/seal.h): two self-checked copies of a SHA-256 per segment in the HDF5
 * user block, checked with plain reads before any HDF5 call touches the file. */
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
#define VERSION 2
#define LEGACY_VERSION 1
#define LEGACY_MAX_SEGMENTS 32 /* version 1 wrote up to 32 segments in one 4096-byte copy */
#define CHECK "check-sha256 "
#define HEXLINE 64
#define CHUNK ((size_t)1 << 20)

static const unsigned char HDF5_SIGNATURE[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

/* What a seal says, whichever copy or version it came from. */
typedef struct seal_hdr {
    long long bytes;
    size_t seg, nseg;
    uint8_t dig[LEGACY_MAX_SEGMENTS][32];
} seal_hdr;

/* Segments of at least 1 MiB, and never more than max_seg of them, so that one copy of the
 * header always fits in its half of the user block. */
static size_t segment_size_max(unsigned long long body, unsigned long long max_seg)
{
    unsigned long long s = CHUNK;
    unsigned long long need = (body + max_seg - 1) / max_seg;
    if (need > s) s = (need + 65535) / 65536 * 65536;
    return (size_t)s;
}

static size_t segment_size(unsigned long long body)
{
    return segment_size_max(body, PP_SEAL_MAX_SEGMENTS);
}

static size_t segment_count(unsigned long long body, size_t seg)
{
    return (size_t)((body + seg - 1) / seg);
}

static void hex64(const uint8_t d[32], char out[HEXLINE + 1])
{
    static const char X[] = "0123456789abcdef";
    for (int k = 0; k < 32; k++) {
        out[2 * k] = X[d[k] >> 4];
        out[2 * k + 1] = X[d[k] & 15];
    }
    out[HEXLINE] = '\0';
}

/* One copy of the header into out[0…PP_SEAL_COPY), NUL-padded, its check line last. */
static void format_copy(char *out, int copy, long long bytes, size_t seg, size_t nseg,
                        const uint8_t (*dig)[32])
{
    char hex[HEXLINE + 1];
    memset(out, 0, PP_SEAL_COPY);
    size_t at = (size_t)snprintf(out, PP_SEAL_COPY,
                                 "%s%d\ncopy %d of 2\nbytes %lld\noffset %d\nsegment %zu\n", MAGIC,
                                 VERSION, copy, bytes, PP_SEAL_BLOCK, seg);
    for (size_t i = 0; i < nseg; i++) {
        hex64(dig[i], hex);
        at += (size_t)snprintf(out + at, PP_SEAL_COPY - at, "sha256 %s\n", hex);
    }
    uint8_t self[32];
    pp_sha256(out, at, self);
    hex64(self, hex);
    snprintf(out + at, PP_SEAL_COPY - at, "%s%s\n", CHECK, hex);
}

static void format_block(unsigned char *blk, long long bytes, size_t seg, size_t nseg,
                         const uint8_t (*dig)[32])
{
    format_copy((char *)blk, 1, bytes, seg, nseg, dig);
    format_copy((char *)blk + PP_SEAL_COPY, 2, bytes, seg, nseg, dig);
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
    format_block(image, (long long)size, seg, nseg, (const uint8_t(*)[32])dig);
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

/* The size and checksum lines common to both versions, from *p on; *p ends after the last
 * checksum line. 0, or -1 with the reason in why. */
static int parse_body(const char **p, size_t max_seg, seal_hdr *h, char *why, size_t wl)
{
    long long bytes = 0, off = 0, seg = 0;
    if (parse_number_line(p, "bytes", &bytes) || parse_number_line(p, "offset", &off) ||
        parse_number_line(p, "segment", &seg) || off != PP_SEAL_BLOCK || bytes < off || seg <= 0) {
        snprintf(why, wl, "damaged size lines");
        return -1;
    }
    size_t nseg = segment_count((unsigned long long)(bytes - off), (size_t)seg);
    if (nseg > max_seg) {
        snprintf(why, wl, "%zu segments, more than %zu", nseg, max_seg);
        return -1;
    }
    for (size_t i = 0; i < nseg; i++) {
        const char *q = *p;
        if (strncmp(q, "sha256 ", 7) != 0 || parse_hex(q + 7, h->dig[i]) != 0 ||
            q[7 + HEXLINE] != '\n') {
            snprintf(why, wl, "damaged checksum line %zu", i + 1);
            return -1;
        }
        *p = q + 7 + HEXLINE + 1;
    }
    h->bytes = bytes;
    h->seg = (size_t)seg;
    h->nseg = nseg;
    return 0;
}

/* The text of a header area c[0…len): NUL-terminated, and nothing but NULs after it (so that
 * damage anywhere in the area is seen). Copies it, terminated, into text; returns its length
 * or -1. */
static long text_of(const unsigned char *c, size_t len, char *text, char *why, size_t wl)
{
    const unsigned char *nul = memchr(c, 0, len);
    if (!nul) {
        snprintf(why, wl, "no end of text");
        return -1;
    }
    size_t tl = (size_t)(nul - c);
    for (size_t i = tl; i < len; i++)
        if (c[i]) {
            snprintf(why, wl, "stray byte at offset %zu", i);
            return -1;
        }
    memcpy(text, c, tl);
    text[tl] = '\0';
    return (long)tl;
}

/* Parses header copy `copy` (1 or 2) from c[0…len). 0 when it is complete and its own check
 * matches; -1 with the reason in why. */
static int parse_copy(const unsigned char *c, size_t len, int copy, seal_hdr *h, char *why,
                      size_t wl)
{
    if (len < PP_SEAL_COPY) {
        snprintf(why, wl, "cut short (the file ends inside it)");
        return -1;
    }
    char text[PP_SEAL_COPY + 1];
    long tl = text_of(c, PP_SEAL_COPY, text, why, wl);
    if (tl < 0) return -1;
    const size_t cl = strlen(CHECK) + HEXLINE + 1;
    size_t at = (size_t)tl >= cl ? (size_t)tl - cl : 0;
    uint8_t want[32], got[32];
    if ((size_t)tl < cl + 1 || text[at - 1] != '\n' || strncmp(text + at, CHECK, strlen(CHECK)) ||
        parse_hex(text + at + strlen(CHECK), want) || text[tl - 1] != '\n') {
        snprintf(why, wl, "no check-sha256 line");
        return -1;
    }
    pp_sha256(text, at, got);
    if (memcmp(want, got, 32) != 0) {
        snprintf(why, wl, "its check-sha256 does not match");
        return -1;
    }
    char first[48];
    snprintf(first, sizeof first, "%s%d\ncopy %d of 2\n", MAGIC, VERSION, copy);
    const char *p = text + strlen(first);
    if (strncmp(text, first, strlen(first)) != 0) {
        snprintf(why, wl, "its first lines are not '%s%d', 'copy %d of 2'", MAGIC, VERSION, copy);
        return -1;
    }
    if (parse_body(&p, PP_SEAL_MAX_SEGMENTS, h, why, wl)) return -1;
    if (p != text + at) {
        snprintf(why, wl, "unexpected lines before check-sha256");
        return -1;
    }
    return 0;
}

/* A version-1 seal: one copy over the whole block, no check line. */
static int parse_legacy(const unsigned char *blk, size_t got, seal_hdr *h, char *why, size_t wl)
{
    char text[PP_SEAL_BLOCK + 1];
    long tl = text_of(blk, got, text, why, wl);
    if (tl < 0) return -1;
    char first[32];
    snprintf(first, sizeof first, "%s%d\n", MAGIC, LEGACY_VERSION);
    const char *p = text + strlen(first);
    if (strncmp(text, first, strlen(first)) != 0) {
        snprintf(why, wl, "no seal header");
        return -1;
    }
    if (parse_body(&p, LEGACY_MAX_SEGMENTS, h, why, wl)) return -1;
    if (p != text + tl) {
        snprintf(why, wl, "unexpected lines after the checksums");
        return -1;
    }
    /* no check line protects a version-1 header, but its segment size followed from the file
     * size: a damaged one that still hashes the same bytes is refused all the same */
    if (h->seg !=
        segment_size_max((unsigned long long)h->bytes - PP_SEAL_BLOCK, LEGACY_MAX_SEGMENTS)) {
        snprintf(why, wl, "segment size %zu is not the one paraprop writes", h->seg);
        return -1;
    }
    return 0;
}

static int same_hdr(const seal_hdr *a, const seal_hdr *b)
{
    return a->bytes == b->bytes && a->seg == b->seg && a->nseg == b->nseg &&
           memcmp(a->dig, b->dig, a->nseg * sizeof a->dig[0]) == 0;
}

/* Offset of the HDF5 superblock signature: HDF5 looks at 0, 512, 1024, 2048, … (the user block
 * sizes it allows). -1 when there is none. */
static long long find_signature(int fd, long long size)
{
    for (long long off = 0; off + 8 <= size; off = off ? 2 * off : 512) {
        unsigned char s[8];
        if (read_at(fd, s, sizeof s, (off_t)off) != (ssize_t)sizeof s) return -1;
        if (memcmp(s, HDF5_SIGNATURE, sizeof s) == 0) return off;
        if (off > LLONG_MAX / 4) break;
    }
    return -1;
}

/* Why no seal was found, for the message: the version-1 parse when the block claims to be one,
 * else what was wrong with each copy. */
static pp_status no_valid_seal(const char *path, const unsigned char *blk, size_t got,
                               long long sig, const char *wa, const char *wb)
{
    char why[300], wl[96] = "";
    char legacy[32];
    snprintf(legacy, sizeof legacy, "%s%d\n", MAGIC, LEGACY_VERSION);
    seal_hdr h;
    if (got >= strlen(legacy) && memcmp(blk, legacy, strlen(legacy)) == 0) {
        parse_legacy(blk, got, &h, wl, sizeof wl);
        snprintf(why, sizeof why, "version-1 seal: %s", wl);
    } else {
        snprintf(why, sizeof why, "copy 1: %s; copy 2: %s", wa, wb);
    }
    size_t ml = strlen(MAGIC);
    int looks_ours = (got >= ml && memcmp(blk, MAGIC, ml) == 0) ||
                     (got >= PP_SEAL_COPY + ml && memcmp(blk + PP_SEAL_COPY, MAGIC, ml) == 0);
    if (sig < 0 && !looks_ours)
        return pp_error(PP_ERR_INPUT,
                        "%s: not an HDF5 file (no HDF5 signature at byte 0, 512, 1024, …; "
                        "truncated or damaged?)",
                        path);
    if (sig < 0)
        return pp_error(PP_ERR_INPUT,
                        "%s: damaged seal, and no HDF5 signature (truncated or damaged): no copy "
                        "of the seal in its first %d bytes is valid (%s)",
                        path, PP_SEAL_BLOCK, why);
    return pp_error(PP_ERR_INPUT,
                    "%s: damaged seal: the %lld-byte HDF5 user block in front of the data holds "
                    "no valid paraprop seal (%s), so the file cannot be verified and is refused "
                    "(if it is intact and yours, 'paraprop seal %s' writes a new seal)",
                    path, sig, why, path);
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
    long long sig = find_signature(fd, (long long)sb.st_size);
    if (sig == 0) { /* no user block: a foreign file, left to HDF5's own checks */
        close(fd);
        return pp_ok();
    }
    seal_hdr a, b, l;
    char wa[96] = "", wb[96] = "", wl[96] = "";
    int va = parse_copy(blk, (size_t)got, 1, &a, wa, sizeof wa) == 0;
    int vb = got > PP_SEAL_COPY &&
             parse_copy(blk + PP_SEAL_COPY, (size_t)got - PP_SEAL_COPY, 2, &b, wb, sizeof wb) == 0;
    if (got <= PP_SEAL_COPY) snprintf(wb, sizeof wb, "missing (the file ends before it)");
    const seal_hdr *h = NULL;
    pp_status st = pp_ok();
    if (va && vb && !same_hdr(&a, &b))
        st = pp_error(PP_ERR_INPUT,
                      "%s: damaged seal: its two copies, each valid on its own, disagree", path);
    else if (va || vb) {
        h = va ? &a : &b;
        info->version = VERSION;
        info->damaged_copies = !(va && vb);
    } else if (parse_legacy(blk, (size_t)got, &l, wl, sizeof wl) == 0) {
        h = &l;
        info->version = LEGACY_VERSION;
    } else {
        st = no_valid_seal(path, blk, (size_t)got, sig, wa, wb);
    }
    if (h) {
        info->sealed = 1;
        info->bytes = h->bytes;
        info->segment_bytes = h->seg;
        info->segments = h->nseg;
        if ((long long)sb.st_size != info->bytes)
            st = pp_error(PP_ERR_INPUT,
                          "%s: damaged: the file is %lld bytes but paraprop wrote %lld (truncated "
                          "or extended)",
                          path, (long long)sb.st_size, info->bytes);
    }
    for (size_t i = 0; h && !st.code && nparts > 0 && i < info->segments; i++) {
        if ((int)(i % (size_t)nparts) != part) continue;
        long long lo = PP_SEAL_BLOCK + (long long)(i * info->segment_bytes);
        long long hi = lo + (long long)info->segment_bytes;
        if (hi > info->bytes) hi = info->bytes;
        uint8_t d[32];
        st = hash_range(fd, path, (off_t)lo, (size_t)(hi - lo), d);
        if (!st.code && memcmp(d, h->dig[i], 32) != 0)
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

const char *pp_seal_note(const char *path, const pp_seal_info *info, char *buf, size_t n)
{
    if (!info->sealed)
        snprintf(buf, n,
                 "note: %s carries no seal (no HDF5 user block: not written by paraprop, or "
                 "rewritten by another tool); only HDF5's own checks guard it",
                 path);
    else if (info->damaged_copies)
        snprintf(buf, n,
                 "note: %s: one of the two copies of its seal is damaged; the other one verified "
                 "the file ('paraprop seal %s' rewrites both)",
                 path, path);
    else
        return NULL;
    return buf;
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
    /* a seal of any version, even a damaged one, may be replaced: the file is paraprop's */
    size_t ml = strlen(MAGIC);
    int ours = got == (ssize_t)sizeof blk &&
               (memcmp(blk, MAGIC, ml) == 0 || memcmp(blk + PP_SEAL_COPY, MAGIC, ml) == 0);
    if (got != (ssize_t)sizeof blk ||
        memcmp(blk + PP_SEAL_BLOCK, HDF5_SIGNATURE, sizeof HDF5_SIGNATURE) != 0)
        st = pp_error(PP_ERR_INPUT,
                      "%s: has no %d-byte HDF5 user block to hold a seal (files paraprop writes "
                      "have one; add one with 'h5jam -i IN.h5 -u BLOCK -o OUT.h5' and a %d-byte "
                      "BLOCK of zeros)",
                      path, PP_SEAL_BLOCK, PP_SEAL_BLOCK);
    else if (!empty && !ours)
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
        unsigned char hdr[PP_SEAL_BLOCK];
        format_block(hdr, (long long)sb.st_size, seg, nseg, (const uint8_t(*)[32])dig);
        ssize_t w = pwrite(fd, hdr, sizeof hdr, 0);
        if (w != (ssize_t)sizeof hdr || fsync(fd) != 0)
            st = pp_error(PP_ERR_WRITE, "%s: writing the seal failed (%s)", path,
                          w < 0 ? strerror(errno) : "short write");
    }
    if (close(fd) != 0 && !st.code)
        st = pp_error(PP_ERR_WRITE, "%s: writing the seal failed (%s)", path, strerror(errno));
    return st;
}
