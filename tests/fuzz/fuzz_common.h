/* Shared helpers of the libFuzzer harnesses (tests/fuzz/README.md).
 *
 * Every loader takes a file name, so each harness writes the fuzz input to a per-process file
 * (in $PP_FUZZ_TMPDIR, else /dev/shm, else /tmp), rewritten on every iteration and removed at
 * exit. A returned status must be PP_OK or a known error code with a non-empty, terminated
 * message; anything else abort()s so that libFuzzer records the input. */
#ifndef PP_FUZZ_COMMON_H
#define PP_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paraprop/status.h"

#define PP_FUZZ_MAX_FILES 2

/* Allocation failures behave as in a normal build: a request above 1 GiB returns NULL (the code
 * under test must report PP_ERR_NOMEM or refuse the file) instead of stopping the fuzzer at
 * libFuzzer's malloc limit. HDF5 itself asks for absurd sizes read from damaged headers (e.g.
 * 16 GiB for an object header), and so do shapes declared in a damaged file. Options given in
 * ASAN_OPTIONS are applied after these. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=1024";
}

static char pp_fuzz_paths[PP_FUZZ_MAX_FILES][512];
static int pp_fuzz_npaths;

static void pp_fuzz_cleanup(void)
{
    for (int i = 0; i < pp_fuzz_npaths; i++) remove(pp_fuzz_paths[i]);
}

/* Chooses the per-process file name number `slot` (0 or 1) for `tag`. */
static const char *pp_fuzz_path(int slot, const char *tag)
{
    if (slot < 0 || slot >= PP_FUZZ_MAX_FILES) abort();
    if (!pp_fuzz_paths[slot][0]) {
        const char *dir = getenv("PP_FUZZ_TMPDIR");
        if (!dir || !*dir) dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(pp_fuzz_paths[slot], sizeof pp_fuzz_paths[slot], "%s/paraprop-fuzz-%ld-%s", dir,
                 (long)getpid(), tag);
        if (pp_fuzz_npaths == 0) atexit(pp_fuzz_cleanup);
        pp_fuzz_npaths = slot + 1 > pp_fuzz_npaths ? slot + 1 : pp_fuzz_npaths;
    }
    return pp_fuzz_paths[slot];
}

/* Replaces the file's content with data[0, size). */
static void pp_fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        fprintf(stderr, "fuzz harness: cannot write %s\n", path);
        abort();
    }
}

/* The contract of every pp_status: a known code; PP_OK with "" or an error with a message. */
static void pp_fuzz_check(pp_status st, const char *call)
{
    if ((unsigned)st.code >= (unsigned)PP_CODE_COUNT) {
        fprintf(stderr, "fuzz harness: %s returned the unknown status code %d\n", call,
                (int)st.code);
        abort();
    }
    if (!memchr(st.msg, '\0', sizeof st.msg)) {
        fprintf(stderr, "fuzz harness: %s returned an unterminated message\n", call);
        abort();
    }
    if (st.code != PP_OK && st.msg[0] == '\0') {
        fprintf(stderr, "fuzz harness: %s failed (%s) with an empty message\n", call,
                pp_code_name(st.code));
        abort();
    }
    if (getenv("PP_FUZZ_VERBOSE") && st.code != PP_OK)
        fprintf(stderr, "%s: %s: %s\n", call, pp_code_name(st.code), st.msg);
}

/* Aborts with a message: a successful load broke an invariant of its result. */
#define PP_FUZZ_REQUIRE(cond)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz harness: %s:%d: invariant failed: %s\n", __FILE__, __LINE__,     \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
