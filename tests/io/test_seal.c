/* File seals (paraprop/seal.h): every byte is covered, damage anywhere is found and located,
 * the ranks' parts together cover every segment, and unsealed files pass through. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paraprop/seal.h"

#include "check.h"

static const unsigned char SIG[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
static char dir[4000];

static const char *path_of(const char *name)
{
    static char p[4100];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static void put(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
        printf("cannot write %s\n", path);
        exit(2);
    }
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

static void test_roundtrip_and_flips(void)
{
    const size_t size = PP_SEAL_BLOCK + (size_t)3 * (1 << 20) + 777; /* 4 segments of 1 MiB */
    unsigned char *b = image(size);
    CHECK(pp_seal_image(b, size) == 0, "pp_seal_image failed");
    CHECK(memcmp(b, "paraprop-seal 1\n", 16) == 0, "header starts '%.16s'", (char *)b);
    const char *p = path_of("good.bin");
    put(p, b, size);
    pp_seal_info in;
    pp_status st = pp_seal_check(p, 0, 1, &in);
    CHECK(!st.code && in.sealed && in.segments == 4 && in.verified == 4 &&
              in.bytes == (long long)size,
          "good file: code %d sealed %d segments %zu verified %zu: %s", st.code, in.sealed,
          in.segments, in.verified, st.msg);
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
    /* damaged header lines: every byte of the header's text */
    size_t hl = strlen((char *)b);
    int missed = 0;
    for (size_t i = 0; i < hl; i++) {
        unsigned char save = b[i];
        b[i] = (unsigned char)(save == 'x' ? 'y' : 'x');
        put(path_of("hdr.bin"), b, size);
        b[i] = save;
        st = pp_seal_check(path_of("hdr.bin"), 0, 1, &in);
        /* damage inside the magic makes the file look unsealed; anything after it is refused */
        if (i >= 14 && st.code != PP_ERR_INPUT) missed++;
    }
    CHECK(missed == 0, "%d damaged header bytes were accepted", missed);
    free(b);
}

static void test_unsealed_and_reseal(void)
{
    const size_t size = PP_SEAL_BLOCK + 5000;
    unsigned char *b = image(size);
    const char *p = path_of("plain.bin");
    put(p, b, size);
    pp_seal_info in;
    pp_status st = pp_seal_check(p, 0, 1, &in);
    CHECK(!st.code && !in.sealed, "unsealed file: code %d sealed %d", st.code, in.sealed);
    st = pp_seal_file(p);
    CHECK(!st.code, "sealing an empty user block: %s", st.msg);
    st = pp_seal_check(p, 0, 1, &in);
    CHECK(!st.code && in.sealed && in.verified == 1, "after sealing: %s", st.msg);
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
    /* no user block, or a foreign one: never overwritten */
    put(path_of("noub.bin"), b + PP_SEAL_BLOCK, size - PP_SEAL_BLOCK);
    st = pp_seal_file(path_of("noub.bin"));
    CHECK(st.code == PP_ERR_INPUT && strstr(st.msg, "user block"), "no user block: %s", st.msg);
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
    CHECK(strlen((char *)b) < PP_SEAL_BLOCK, "header overflows the user block");
    put(path_of("big.bin"), b, size);
    pp_seal_info in;
    pp_status st = pp_seal_check(path_of("big.bin"), 0, 1, &in);
    CHECK(!st.code && in.segments <= PP_SEAL_MAX_SEGMENTS && in.segments >= 2 &&
              in.verified == in.segments && in.segments * in.segment_bytes >= size - PP_SEAL_BLOCK,
          "40 MiB: %zu segments of %zu bytes: %s", in.segments, in.segment_bytes, st.msg);
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
    test_unsealed_and_reseal();
    test_many_segments();
    printf("%s (%d failures)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
