/* HDF5 handle accounting for the HDF5-based harnesses: a loader that returns (successfully or
 * not) must have closed every identifier it opened. A leaked file, group or dataset id keeps the
 * file open inside HDF5, which LeakSanitizer cannot see, so it is counted here. */
#ifndef PP_FUZZ_HDF5_H
#define PP_FUZZ_HDF5_H

#include <hdf5.h>

#include "fuzz_common.h"

typedef struct pp_fuzz_ids {
    hsize_t n[7];
} pp_fuzz_ids;

static const H5I_type_t pp_fuzz_id_types[7] = {
    H5I_FILE, H5I_GROUP, H5I_DATASET, H5I_DATASPACE, H5I_ATTR, H5I_DATATYPE, H5I_GENPROP_LST};
static const char *const pp_fuzz_id_names[7] = {
    "file", "group", "dataset", "dataspace", "attribute", "datatype", "property list"};

static pp_fuzz_ids pp_fuzz_count_ids(void)
{
    pp_fuzz_ids c;
    for (int i = 0; i < 7; i++) {
        c.n[i] = 0;
        if (H5Inmembers(pp_fuzz_id_types[i], &c.n[i]) < 0) c.n[i] = 0;
    }
    return c;
}

static void pp_fuzz_check_ids(const pp_fuzz_ids *before, const char *call)
{
    pp_fuzz_ids after = pp_fuzz_count_ids();
    for (int i = 0; i < 7; i++)
        if (after.n[i] > before->n[i]) {
            fprintf(stderr, "fuzz harness: %s leaked %llu HDF5 %s identifier(s)\n", call,
                    (unsigned long long)(after.n[i] - before->n[i]), pp_fuzz_id_names[i]);
            abort();
        }
}

/* The HDF5 harnesses' libFuzzer start-up: HDF5 opened once, its own error printing off.
 * Defined here because each harness is its own program including this header once. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    H5open();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return 0;
}

#endif
