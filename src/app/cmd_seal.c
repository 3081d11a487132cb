/* `paraprop seal`: verify or renew the SHA-256 seal that paraprop's files carry. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "paraprop/seal.h"

static const char *const USAGE =
    "usage: paraprop seal [--check] FILE.h5 …\n"
    "Every file paraprop writes (datasets, checkpoints, final.h5) carries a seal: SHA-256\n"
    "checksums of its bytes, twice, in a 4096-byte HDF5 user block, checked before the file\n"
    "is read.\n"
    "  --check   verify the seals and print the result; exit status 3 if a file is damaged,\n"
    "            including a user block that holds no valid seal (a file without a user\n"
    "            block is reported, not refused)\n"
    "  (default) re-seal files that you changed on purpose, e.g. with h5py, so that paraprop\n"
    "            accepts them again; files without a 4096-byte user block are refused\n";

int cmd_seal(int argc, char **argv)
{
    int check = 0, first = 2;
    if (argc > 2 && strcmp(argv[2], "--help") == 0) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (argc > 2 && strcmp(argv[2], "--check") == 0) {
        check = 1;
        first = 3;
    }
    if (first >= argc) {
        fputs(USAGE, stderr);
        return 2;
    }
    int status = 0;
    for (int i = first; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "paraprop: error: unknown option '%s' (see paraprop seal --help)\n",
                    argv[i]);
            return 2;
        }
    }
    for (int i = first; i < argc; i++) {
        const char *path = argv[i];
        pp_seal_info info;
        pp_status st = check ? pp_seal_check(path, 0, 1, &info) : pp_seal_file(path);
        if (!st.code && !check) st = pp_seal_check(path, 0, 1, &info);
        if (st.code) {
            int s = cli_fail(NULL, st);
            if (!status || s == 3) status = s;
            continue;
        }
        char note[1300];
        if (info.sealed)
            printf("%s: %s: %lld bytes, %zu segment(s) verified%s\n", path,
                   check ? "seal ok" : "sealed", info.bytes, info.verified,
                   info.version == 1 ? " (version-1 seal of an older paraprop)" : "");
        else
            printf("%s: no seal (no HDF5 user block: not written by paraprop, or rewritten by "
                   "another tool)\n",
                   path);
        if (info.sealed && pp_seal_note(path, &info, note, sizeof note)) printf("%s\n", note);
    }
    return status;
}
