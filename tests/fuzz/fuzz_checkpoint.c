/* libFuzzer harness: the checkpoint loader (pp_checkpoint_read, pp_checkpoint_free) on arbitrary
 * bytes written to a temporary file. */
#include "fuzz_hdf5.h"
#include "paraprop/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = pp_fuzz_path(0, "checkpoint.h5");
    pp_fuzz_write(path, data, size);
    pp_checkpoint ck;
    memset(&ck, 0xA5, sizeof ck); /* the reader must initialise it */
    pp_fuzz_ids ids = pp_fuzz_count_ids();
    /* unsealed inputs allowed: HDF5's parsing behind the seal is what is fuzzed */
    pp_status st = pp_checkpoint_read(path, 1, &ck);
    pp_fuzz_check(st, "pp_checkpoint_read");
    pp_fuzz_check_ids(&ids, "pp_checkpoint_read");
    if (st.code == PP_OK) {
        /* what a successful read promises (include/paraprop/checkpoint.h) */
        PP_FUZZ_REQUIRE(ck.complete == 1);
        PP_FUZZ_REQUIRE(ck.arch.L >= 1 && ck.arch.L <= PP_MAX_LAYERS && ck.arch.nparams > 0);
        PP_FUZZ_REQUIRE(ck.params != NULL && ck.config != NULL);
        PP_FUZZ_REQUIRE(ck.metrics != NULL || ck.nmetrics == 0);
        PP_FUZZ_REQUIRE(ck.epoch >= 0 && ck.step >= 0 && ck.samples_seen >= 0);
        PP_FUZZ_REQUIRE(memchr(ck.fingerprint, '\0', sizeof ck.fingerprint) != NULL);
        PP_FUZZ_REQUIRE(memchr(ck.data_path, '\0', sizeof ck.data_path) != NULL);
        PP_FUZZ_REQUIRE(memchr(ck.reduction, '\0', sizeof ck.reduction) != NULL);
        PP_FUZZ_REQUIRE(memchr(ck.precision, '\0', sizeof ck.precision) != NULL);
        char fp[65];
        pp_params_fingerprint(ck.params, ck.arch.nparams, fp);
        PP_FUZZ_REQUIRE(strcmp(fp, ck.fingerprint) == 0);
        /* touch everything the reader allocated */
        volatile double sink = 0;
        for (size_t i = 0; i < ck.nmetrics; i++) sink += ck.metrics[i].train_loss;
        if (ck.velocity)
            for (size_t i = 0; i < ck.arch.nparams; i++) sink += ck.velocity[i];
        if (ck.adam_m && ck.adam_v)
            for (size_t i = 0; i < ck.arch.nparams; i++) sink += ck.adam_m[i] + ck.adam_v[i];
        sink += (double)strlen(ck.config);
        (void)sink;
    } else {
        PP_FUZZ_REQUIRE(!ck.params && !ck.velocity && !ck.adam_m && !ck.adam_v && !ck.config &&
                        !ck.metrics);
    }
    pp_checkpoint_free(&ck);
    return 0;
}
