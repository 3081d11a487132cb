/* libFuzzer harness: the dataset loader (pp_dataset_probe, then serial pp_dataset_read of the
 * whole train and test groups and of a slice) on arbitrary bytes written to a temporary file. */
#include <math.h>

#include "fuzz_hdf5.h"
#include "paraprop/dataset.h"

/* Declared shapes are trusted up to the documented limits (2^32 samples × 2^31 inputs), and a
 * full read allocates what the shape asks for before HDF5 reads a byte. Skip reads that would
 * need more than this, so that the fuzzer does not stop at libFuzzer's malloc limit. */
#define MAX_READ_BYTES (64.0 * 1024 * 1024)

static void check_data(const pp_data *x, const pp_dataset_info *info, size_t n)
{
    PP_FUZZ_REQUIRE(x->n == n && x->d == info->d && x->k == info->k);
    PP_FUZZ_REQUIRE(info->bytes ? (x->u8 && !x->f32) : (x->f32 && !x->u8));
    PP_FUZZ_REQUIRE(info->labelled ? (x->labels && !x->targets) : (x->targets && !x->labels));
    PP_FUZZ_REQUIRE(!info->bytes || (isfinite(x->scale) && x->scale > 0));
    if (x->labels)
        for (size_t i = 0; i < x->n; i++)
            PP_FUZZ_REQUIRE(x->labels[i] >= 0 && (size_t)x->labels[i] < x->k);
    pp_fuzz_check(pp_data_validate(x, "fuzz"), "pp_data_validate");
    PP_FUZZ_REQUIRE(pp_data_validate(x, "fuzz").code == PP_OK);
}

static void read_group(const char *path, const char *group, const pp_dataset_info *info, size_t lo,
                       size_t hi)
{
    double per = (info->bytes ? 1.0 : 4.0) * (double)info->d +
                 (info->labelled ? 4.0 : 4.0 * (double)info->k);
    if ((double)(hi - lo) * per > MAX_READ_BYTES) return;
    pp_data x;
    memset(&x, 0xA5, sizeof x); /* the reader must initialise it */
    pp_fuzz_ids ids = pp_fuzz_count_ids();
    pp_status st = pp_dataset_read(path, group, NULL, lo, hi, &x);
    pp_fuzz_check(st, "pp_dataset_read");
    pp_fuzz_check_ids(&ids, "pp_dataset_read");
    if (st.code == PP_OK)
        check_data(&x, info, hi - lo);
    else
        PP_FUZZ_REQUIRE(!x.u8 && !x.f32 && !x.labels && !x.targets);
    pp_data_free(&x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = pp_fuzz_path(0, "dataset.h5");
    pp_fuzz_write(path, data, size);
    pp_dataset_info info;
    pp_fuzz_ids ids = pp_fuzz_count_ids();
    pp_status st = pp_dataset_probe(path, &info);
    pp_fuzz_check(st, "pp_dataset_probe");
    pp_fuzz_check_ids(&ids, "pp_dataset_probe");
    if (st.code != PP_OK) return 0;
    PP_FUZZ_REQUIRE(info.n_train > 0 && info.d > 0);
    PP_FUZZ_REQUIRE(info.labelled ? info.k >= 2 : info.k >= 1);
    PP_FUZZ_REQUIRE(memchr(info.source, '\0', sizeof info.source) != NULL);
    read_group(path, "train", &info, 0, info.n_train);
    if (info.n_train > 1) read_group(path, "train", &info, info.n_train / 2, info.n_train);
    if (info.has_test) read_group(path, "test", &info, 0, info.n_test);
    return 0;
}
