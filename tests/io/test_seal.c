/* File seals (paraprop/seal.h): every byte is covered, damage anywhere is found and located,
 * the ranks' parts together cover every segment, one damaged header byte is survived and
 * never switches the checks off (fail closed), and only files without a user block count as
 * unsealed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paraprop/checkpoint.h"
#include "paraprop/dataset.h"
#include "paraprop/fingerprint.h"
#include "paraprop/seal.h"

#include "check.h"

static const unsigned char SIG[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
static char dir[4000];

static const char *path_of(const char *name)
{
    static char p[8][4100];
    static int next;
    char *q = p[next++ % 8];
    snprintf(q, sizeof p[0], "%s/%s", dir, name);
    return q;
}

static void put(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
        printf("cannot write %s\n", path);
        exit(2);
    }
}

static unsigned char *get(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0) exit(2);
    long len = ftell(f);
    unsigned char *b = malloc((size_t)len);
    rewind(f);
    if (!b || len <= 0 || fread(b, 1, (size_t)len, f) != (size_t)len) exit(2);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* A file image: an empty user block, the HDF5 signature, then pseudo-random bytes. */
static unsigned char *image(size_t size)
{
    unsigned char *b = calloc(1, size);
    if (!b) exit(2);
    memcpy(b + PP_SEAL_BLOCK, SIG, sizeof SIG);
    unsigned x = 12345;
    for (size_t i = PP_SEAL_BLOCK + sizeof SIG; i < size; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (unsigned char)(x >> 16);
    }
    return b;
}

/* A version-1 seal (one copy, no check line) as older paraprop wrote it, for a file whose body
 * fits one 1 MiB segment. */
static void legacy_seal(unsigned char *b, size_t size)
{
    char hex[65];
    pp_sha256_hex(b + PP_SEAL_BLOCK, size - PP_SEAL_BLOCK, hex);
    memset(b, 0, PP_SEAL_BLOCK);
    snprintf((char *)b, PP_SEAL_BLOCK,
             "paraprop-seal 1\nbytes %zu\noffset 4096\nsegment 1048576\nsha256 %s\n", size, hex);
}

static void test_roundtrip_and_flips(void)
{
    const size_t size = PP_SEAL_BLOCK + (size_t)3 * (1 << 20) + 777; /* 4 segments of 1 MiB */
    unsigned char *b = image(size);
    CHECK(pp_seal_image(b, size) == 0, "pp_seal_image failed");
    CHECK(memcmp(b, "paraprop-seal 2\ncopy 1 of 2\n", 28) == 0, "copy 1 starts '%.28s'", (char *)b);
    CHECK(memcmp(b + PP_SEAL_COPY, "paraprop-seal 2\ncopy 2 of 2\n", 28) == 0,
          "copy 2 starts '%.28s'", (char *)b + PP_SEAL_COPY);
    const char *p = path_of("good.bin");
    put(p, b, size);
    pp_seal_info in;
    pp_status st = pp_seal_check(p, 0, 1, &in);
    CHECK(!st.code && in.sealed && in.version == 2 && in.damaged_copies == 0 && in.segments == 4 &&
              in.verified == 4 && in.bytes == (long long)size,
          "good file: code %d sealed %d segments %zu verified %zu: %s", st.code, in.sealed,
          in.segments, in.verified, st.msg);
    char note[1300];
    CHECK(pp_seal_note(p, &in, note, sizeof note) == NULL, "a good seal needs no note");
    st = pp_seal_check(p, 0, 0, &in);
    CHECK(!st.code && in.sealed && in.verified == 0, "header-only check: %s", st.msg);
    for (int R = 1; R <= 5; R++) {
        size_t total = 0;
        for (int r = 0; r < R; r++) {
            st = pp_seal_check(p, r, R, &in);
            CHECK(!st.code, "part %d/%d: %s", r, R, st.msg);
            total += in.verified;
        }
        CHECK(total == 4, "%d parts verified %zu segments, expected 4", R, total);
    }
    /* a flip in every segment, at its first and last byte, and the last byte of the file */
    const size_t seg = (size_t)1 << 20;
    size_t at[] = {PP_SEAL_BLOCK,           PP_SEAL_BLOCK + seg - 1,
                   PP_SEAL_BLOCK + seg,     PP_SEAL_BLOCK + 2 * seg + 5,
                   PP_SEAL_BLOCK + 3 * seg, size - 1};
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        b[at[k]] ^= 0x01;
        const char *q = path_of("flip.bin");
        put(q, b, size);
        b[at[k]] ^= 0x01;
        size_t s = (at[k] - PP_SEAL_BLOCK) / seg;
        char want[96];
        snprintf(want, sizeof want, "bytes %zu…", PP_SEAL_BLOCK + s * seg);
        st = pp_seal_check(q, 0, 1, &in);
        CHECK(st.code == PP_ERR_INPUT && strstr(st.msg, want) && strstr(st.msg, q),
              "flip at %zu: code %d, message '%s' should name '%s' and the file", at[k], st.code,
              st.msg, want);
        /* with 3 parts only the part that owns segment s sees it */
        for (int r = 0; r < 3; r++) {
            st = pp_seal_check(q, r, 3, &in);
            CHECK((st.code != 0) == ((int)(s % 3) == r), "flip at %zu, part %d/3: code %d", at[k],
                  r, st.code);
        }
    }
    /* the case: the seal's byte 7 and a data byte; the intact copy still finds the data */
    b[7] ^= 0x01;
    b[PP_SEAL_BLOCK + 2 * seg + 99] ^= 0x40;
    put(path_of("two.bin"), b, size);
    b[7] ^= 0x01;
    b[PP_SEAL_BLOCK + 2 * seg + 99] ^= 0x40;
    st = pp_seal_check(path_of("two.bin"), 0, 1, &in);
    CHECK(st.code == PP_ERR_INPUT && strstr(st.msg, "bytes 2101248…"),
          "header byte 7 and a data byte flipped: code %d: %s", st.code, st.msg);
    /* truncation and extension: refused from the header alone */
    put(path_of("short.bin"), b, size - 1);
    st = pp_seal_check(path_of("short.bin"), 0, 0, &in);
    CHECK(st.code == PP_ERR_INPUT && strstr(st.msg, "truncated"), "truncated: %s", st.msg);
    unsigned char *longer = calloc(1, size + 10);
    memcpy(longer, b, size);
    put(path_of("long.bin"), longer, size + 10);
    free(longer);
    st = pp_seal_check(path_of("long.bin"), 0, 0, &in);
    CHECK(st.code == PP_ERR_INPUT && strstr(st.msg, "extended"), "extended: %s", st.msg);
    free(b);
}

/* What a check of a file with damage in its header region may do: refuse it (PP_ERR_INPUT naming
 * the file), or recover (the other copy verified every segment). 1 refused, 2 recovered, 0 a
 * failure: accepted as unsealed, or accepted without checking everything. */
static int refused_or_recovered(const char *q, pp_status st, const pp_seal_info *in)
{
    if (st.code == PP_ERR_INPUT && strstr(st.msg, q) &&
        (strstr(st.msg, "seal") || strstr(st.msg, "damaged")))
        return 1;
    if (!st.code && in->sealed && in->version == 2 && in->damaged_copies == 1 &&
        in->verified == in->segments)
        return 2;
    return 0;
}

/* Flips every byte of the header region of the file at src, one at a time (bit i mod 8 of byte
 * i, so every bit position is hit): pp_seal_check and the file's own reader (read(), which must
 * agree) refuse or recover, and since one byte only ever damages one copy, every single flip is
 * recovered. Then both copies damaged at once: always refused. */
static void flip_every_header_byte(const char *what, const char *src, int (*read)(const char *path))
{
    size_t n;
    unsigned char *b = get(src, &n);
    const char *q = path_of("hdrflip.h5");
    int bad = 0, recovered = 0, disagree = 0;
    for (size_t i = 0; i < PP_SEAL_BLOCK; i++) {
        const unsigned char mask = (unsigned char)(1u << (i % 8));
        b[i] ^= mask;
        put(q, b, n);
        b[i] ^= mask;
        pp_seal_info in;
        pp_status st = pp_seal_check(q, 0, 1, &in);
        int r = refused_or_recovered(q, st, &in);
        if (!r && bad++ < 5)
            printf("  %s: byte %zu ^ 0x%02x: code %d sealed %d damaged_copies %d: %s\n", what, i,
                   mask, st.code, in.sealed, in.damaged_copies, st.msg);
        recovered += r == 2;
        /* the reader (an HDF5 open, ~10 ms under ASan) on every 7th byte: all eight bit masks,
         * every field of both copies; the seal check itself sees every byte */
        if (i % 7 == 0 && (read(q) == 0) != (r == 2) && disagree++ < 5)
            printf("  %s: byte %zu ^ 0x%02x: the reader %s what the seal check %s\n", what, i, mask,
                   r == 2 ? "refused" : "accepted", r == 2 ? "recovered" : "refused");
    }
    CHECK(bad == 0, "%s: %d header flips were accepted unchecked", what, bad);
    CHECK(disagree == 0, "%s: the reader disagreed with the seal check %d times", what, disagree);
    CHECK(recovered == PP_SEAL_BLOCK, "%s: %d of %d single header flips recovered", what, recovered,
          PP_SEAL_BLOCK);
    int missed = 0;
    for (size_t i = 0; i < PP_SEAL_COPY; i += 7) {
        b[i] ^= 0x20;
        b[PP_SEAL_COPY + (i * 3) % PP_SEAL_COPY] ^= 0x20;
        put(q, b, n);
        b[i] ^= 0x20;
        b[PP_SEAL_COPY + (i * 3) % PP_SEAL_COPY] ^= 0x20;
        pp_seal_info in;
        pp_status st = pp_seal_check(q, 0, 1, &in);
        if ((st.code != PP_ERR_INPUT || !strstr(st.msg, "damaged seal") || read(q) == 0) &&
            missed++ < 5)
            printf("  %s: both copies damaged at %zu: code %d: %s\n", what, i, st.code, st.msg);
    }
    CHECK(missed == 0, "%s: %d files with both seal copies damaged were not refused", what, missed);
    free(b);
}

static int read_checkpoint(const char *path)
{
    pp_checkpoint ck;
    pp_status st = pp_checkpoint_read(path, 0, &ck);
    int ok = !st.code && ck.sealed;
    pp_checkpoint_free(&ck);
    return ok ? 0 : -1;
}

static int read_dataset(const char *path)
{
    pp_dataset_info info;
    pp_data x;
    pp_status st = pp_dataset_probe(path, &info);
    if (!st.code) st = pp_dataset_read(path, "train", NULL, 0, info.n_train, &x);
    if (!st.code) pp_data_free(&x);
    return st.code ? -1 : 0;
}

/* A real dataset and a real checkpoint, as paraprop writes them. */
static void test_real_files(void)
{
    pp_data tr;
    pp_status st = pp_data_alloc(&tr, 50, 4, 3, 0, 1);
    for (size_t i = 0; !st.code && i < 50; i++) {
        tr.labels[i] = (int32_t)(i % 3);
        for (size_t j = 0; j < 4; j++) tr.f32[i * 4 + j] = (float)(i * 0.25 - j);
    }
    const char *ds = path_of("real-dataset.h5");
    if (!st.code) st = pp_dataset_write(ds, &tr, NULL, "test_seal");
    pp_data_free(&tr);
    CHECK(!st.code && read_dataset(ds) == 0, "writing and reading a dataset: %s", st.msg);

    const size_t sizes[3] = {4, 5, 3};
    pp_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    st = pp_arch_init(&ck.arch, 2, sizes, PP_ACT_SIGMOID, PP_ACT_SOFTMAX, PP_COST_LOG_LIKELIHOOD);
    ck.params = calloc(ck.arch.nparams, sizeof *ck.params);
    pp_metrics_row row = {1, 0.5, 0.6, 0.7, 1.0, 100.0, -1, -1, -1};
    ck.metrics = &row;
    ck.nmetrics = 1;
    ck.config = "layers = 4,5,3\n";
    ck.epoch = 1;
    ck.batch_size = 10;
    snprintf(ck.reduction, sizeof ck.reduction, "fast");
    snprintf(ck.data_path, sizeof ck.data_path, "%s", ds);
    for (size_t i = 0; ck.params && i < ck.arch.nparams; i++) ck.params[i] = (pp_real)i / 7;
    const char *cp = path_of("real-checkpoint.h5");
    if (!st.code) st = ck.params ? pp_checkpoint_write(cp, &ck) : pp_error(PP_ERR_NOMEM, "oom");
    free(ck.params);
    CHECK(!st.code && read_checkpoint(cp) == 0, "writing and reading a checkpoint: %s", st.msg);
    if (failures) return;

    flip_every_header_byte("dataset", ds, read_dataset);
    flip_every_header_byte("checkpoint", cp, read_checkpoint);

    /* without its user block (what h5repack or an h5py rewrite leaves): a foreign file. A
     * dataset is accepted with a note; a checkpoint only with the explicit override. */
    size_t n;
    unsigned char *b = get(cp, &n);
    const char *up = path_of("unsealed-checkpoint.h5");
    put(up, b + PP_SEAL_BLOCK, n - PP_SEAL_BLOCK);
    free(b);
    pp_checkpoint rd;
    st = pp_checkpoint_read(up, 0, &rd);
    CHECK(st.code == PP_ERR_INPUT && strstr(st.msg, up) && strstr(st.msg, "--allow-unsealed on") &&
              strstr(st.msg, "paraprop seal") && !rd.params,
          "unsealed checkpoint without the override: code %d: %s", st.code, st.msg);
    st = pp_checkpoint_read(up, 1, &rd);
    CHECK(!st.code && !rd.sealed && rd.arch.nparams == ck.arch.nparams,
          "unsealed checkpoint with the override: %s", st.msg);
    pp_checkpoint_free(&rd);
    b = get(ds, &n);
    const char *ud = path_of("unsealed-dataset.h5");
    put(ud, b + PP_SEAL_BLOCK, n - PP_SEAL_BLOCK);
    free(b);
    pp_seal_info in;
    st = pp_seal_check(ud, 0, 1, &in);
    char note[1300];
    const char *nt = pp_seal_note(ud, &in, note, sizeof note);
    CHECK(!st.code && !in.sealed && nt && strstr(nt, ud) && strstr(nt, "no seal") &&
              !strchr(nt, '\n') && read_dataset(ud) == 0,
          "a dataset without a user block is accepted with a one-line note: %s / %s", st.msg,
          nt ? nt : "(no note)");
}

static void test_user_blocks(void)
{
    const size_t size = PP_SEAL_BLOCK + 5000;
    pp_seal_info in;
    pp_status st;
    unsigned char *b = image(size);
    /* random garbage in the user block: a damaged seal, refused */
    unsigned x = 99;
    for (size_t i = 0; i < PP_SEAL_BLOCK; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (unsigned char)(x >> 16);
    }
    put(path_of("garbage.bin"), b, size);
    st = pp_seal_check(path_of("garbage.bin"), 0, 1, &in);
    CHECK(st.code == PP_ERR_INPUT && strstr(st.msg, "damaged seal") &&
              strstr(st.msg, path_of("garbage.bin")),
          "garbage user block: code %d: %s", st.code, st.msg);
    /* an all-zero user block is no seal either */
    memset(b, 0, PP_SEAL_BLOCK);
    put(path_of("zeros.bin"), b, size);
    st = pp_seal_check(path_of("zeros.bin"), 0, 0, &in);
    CHECK(st.code == PP_ERR_INPUT && strstr(st.msg, "damaged seal"), "zero user block: %s", st.msg);
    /* a 512-byte user block (the smallest HDF5 allows) of text: refused, its size named */
    unsigned char *small = image(size);
    memset(small, 0, 512);
    memcpy(small, "written by someone else\n", 24);
    memcpy(small + 512, SIG, sizeof SIG);
    put(path_of("ub512.bin"), small, size);
    st = pp_seal_check(path_of("ub512.bin"), 0, 1, &in);
    CHECK(st.code == PP_ERR_INPUT && strstr(st.msg, "512-byte"), "512-byte user block: %s", st.msg);
    free(small);
    /* no user block: foreign, accepted as unsealed */
    put(path_of("noub.bin"), b + PP_SEAL_BLOCK, size - PP_SEAL_BLOCK);
    st = pp_seal_check(path_of("noub.bin"), 0, 1, &in);
    CHECK(!st.code && !in.sealed && in.version == 0, "no user block: code %d sealed %d: %s",
          st.code, in.sealed, st.msg);
    /* not HDF5 at all */
    put(path_of("text.bin"), (const unsigned char *)"hello, world\n", 13);
    st = pp_seal_check(path_of("text.bin"), 0, 1, &in);
    CHECK(st.code == PP_ERR_INPUT && strstr(st.msg, "not an HDF5 file"), "text file: %s", st.msg);
    /* version-1 seals of older paraprop: accepted when intact, refused when damaged anywhere
     * (before, damage to the magic made the file look unsealed) */
    legacy_seal(b, size);
    put(path_of("v1.bin"), b, size);
    st = pp_seal_check(path_of("v1.bin"), 0, 1, &in);
    CHECK(!st.code && in.sealed && in.version == 1 && in.verified == 1, "version-1 seal: %s",
          st.msg);
    size_t hl = strlen((char *)b);
    int missed = 0;
    for (size_t i = 0; i < PP_SEAL_BLOCK; i += (i < hl + 8 ? 1 : 61)) {
        b[i] ^= 0x01;
        put(path_of("v1flip.bin"), b, size);
        b[i] ^= 0x01;
        st = pp_seal_check(path_of("v1flip.bin"), 0, 1, &in);
        if (st.code != PP_ERR_INPUT && missed++ < 5)
            printf("  version-1 seal, byte %zu flipped: code %d sealed %d\n", i, st.code,
                   in.sealed);
    }
    CHECK(missed == 0, "%d damaged version-1 seals were accepted", missed);
    free(b);
}

static void test_reseal(void)
{
    const size_t size = PP_SEAL_BLOCK + 5000;
    unsigned char *b = image(size);
    const char *p = path_of("plain.bin");
    put(p, b, size);
    pp_seal_info in;
    pp_status st = pp_seal_file(p);
    CHECK(!st.code, "sealing an empty user block: %s", st.msg);
    st = pp_seal_check(p, 0, 1, &in);
    CHECK(!st.code && in.sealed && in.version == 2 && in.verified == 1, "after sealing: %s",
          st.msg);
    /* an edit, then a renewed seal */
    FILE *f = fopen(p, "r+b");
    fseek(f, PP_SEAL_BLOCK + 100, SEEK_SET);
    fputc('Z', f);
    fclose(f);
    st = pp_seal_check(p, 0, 1, &in);
    CHECK(st.code == PP_ERR_INPUT && strstr(st.msg, "paraprop seal"), "edited: %s", st.msg);
    st = pp_seal_file(p);
    CHECK(!st.code, "re-sealing: %s", st.msg);
    st = pp_seal_check(p, 0, 1, &in);
    CHECK(!st.code && in.sealed, "after re-sealing: %s", st.msg);
    /* a damaged seal, and a version-1 one, are paraprop's and may be renewed */
    size_t n;
    unsigned char *s = get(p, &n);
    s[40] ^= 0x01;
    s[PP_SEAL_COPY + 40] ^= 0x01;
    put(p, s, size);
    free(s);
    st = pp_seal_file(p);
    CHECK(!st.code, "re-sealing a damaged seal: %s", st.msg);
    st = pp_seal_check(p, 0, 1, &in);
    CHECK(!st.code && in.sealed && in.damaged_copies == 0, "after renewing: %s", st.msg);
    legacy_seal(b, size);
    put(p, b, size);
    st = pp_seal_file(p);
    CHECK(!st.code, "re-sealing a version-1 seal: %s", st.msg);
    st = pp_seal_check(p, 0, 1, &in);
    CHECK(!st.code && in.version == 2, "after upgrading: %s", st.msg);
    /* no user block, or a foreign one: never overwritten */
    put(path_of("noub.bin"), b + PP_SEAL_BLOCK, size - PP_SEAL_BLOCK);
    st = pp_seal_file(path_of("noub.bin"));
    CHECK(st.code == PP_ERR_INPUT && strstr(st.msg, "user block"), "no user block: %s", st.msg);
    memset(b, 0, PP_SEAL_BLOCK);
    memcpy(b, "someone else's user block", 25);
    put(path_of("foreign.bin"), b, size);
    st = pp_seal_file(path_of("foreign.bin"));
    CHECK(st.code == PP_ERR_INPUT && strstr(st.msg, "other than"), "foreign block: %s", st.msg);
    st = pp_seal_check(path_of("missing.bin"), 0, 1, &in);
    CHECK(st.code == PP_ERR_INPUT, "missing file: code %d", st.code);
    free(b);
}

static void test_many_segments(void)
{
    /* a 40 MiB body: segments grow so that there are never more than PP_SEAL_MAX_SEGMENTS */
    const size_t size = PP_SEAL_BLOCK + (size_t)40 * (1 << 20) + 1;
    unsigned char *b = image(size);
    CHECK(pp_seal_image(b, size) == 0, "pp_seal_image failed");
    CHECK(strlen((char *)b) < PP_SEAL_COPY, "copy 1 overflows its half of the user block");
    put(path_of("big.bin"), b, size);
    pp_seal_info in;
    pp_status st = pp_seal_check(path_of("big.bin"), 0, 1, &in);
    CHECK(!st.code && in.segments <= PP_SEAL_MAX_SEGMENTS && in.segments >= 2 &&
              in.verified == in.segments && in.segments * in.segment_bytes >= size - PP_SEAL_BLOCK,
          "40 MiB: %zu segments of %zu bytes: %s", in.segments, in.segment_bytes, st.msg);
    /* the longest header (PP_SEAL_MAX_SEGMENTS lines) still fits, and survives a damaged copy */
    size_t hdr = strlen((char *)b);
    CHECK(in.segments == PP_SEAL_MAX_SEGMENTS && hdr < PP_SEAL_COPY,
          "%zu segments, header of %zu bytes", in.segments, hdr);
    b[hdr / 2] ^= 0x01;
    put(path_of("big.bin"), b, size);
    st = pp_seal_check(path_of("big.bin"), 0, 1, &in);
    CHECK(!st.code && in.damaged_copies == 1 && in.verified == in.segments,
          "40 MiB, copy 1 damaged: %s", st.msg);
    free(b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_seal SCRATCH_DIR\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    test_roundtrip_and_flips();
    test_user_blocks();
    test_reseal();
    test_many_segments();
    test_real_files();
    printf("%s (%d failures)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
