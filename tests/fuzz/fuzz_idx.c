/* libFuzzer harness: the IDX reader (pp_idx_read). The first input byte is the length of the
 * label file (clipped to what is left); the label file is the input's tail and the image file
 * the bytes in between. Either may be gzip'd (zlib reads plain files transparently). */
#include "fuzz_common.h"
#include "paraprop/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t rest = size - 1, nl = data[0] < rest ? data[0] : rest;
    const char *images = pp_fuzz_path(0, "images.idx"), *labels = pp_fuzz_path(1, "labels.idx");
    pp_fuzz_write(images, data + 1, rest - nl);
    pp_fuzz_write(labels, data + 1 + (rest - nl), nl);
    pp_data x;
    memset(&x, 0xA5, sizeof x); /* the reader must initialise it */
    pp_status st = pp_idx_read(images, labels, &x);
    pp_fuzz_check(st, "pp_idx_read");
    if (st.code == PP_OK) {
        PP_FUZZ_REQUIRE(x.n > 0 && x.d > 0 && x.k >= 2 && x.u8 && x.labels && !x.f32);
        for (size_t i = 0; i < x.n; i++)
            PP_FUZZ_REQUIRE(x.labels[i] >= 0 && (size_t)x.labels[i] < x.k);
        volatile unsigned sink = 0;
        for (size_t i = 0; i < x.n * x.d; i++) sink += x.u8[i];
        (void)sink;
        PP_FUZZ_REQUIRE(pp_data_validate(&x, "fuzz").code == PP_OK);
    } else {
        PP_FUZZ_REQUIRE(!x.u8 && !x.f32 && !x.labels && !x.targets);
    }
    pp_data_free(&x);
    return 0;
}
