/* libFuzzer harness: the CSV reader (pp_csv_read with label column 0, no header, classes from
 * the data) on arbitrary bytes written to a temporary file. */
#include "fuzz_common.h"
#include "paraprop/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = pp_fuzz_path(0, "data.csv");
    pp_fuzz_write(path, data, size);
    pp_data x;
    memset(&x, 0xA5, sizeof x); /* the reader must initialise it */
    pp_status st = pp_csv_read(path, 0, 0, 0, &x);
    pp_fuzz_check(st, "pp_csv_read");
    if (st.code == PP_OK) {
        PP_FUZZ_REQUIRE(x.n > 0 && x.d > 0 && x.k >= 2 && x.f32 && x.labels && !x.u8);
        PP_FUZZ_REQUIRE(pp_data_validate(&x, "fuzz").code == PP_OK);
    } else {
        PP_FUZZ_REQUIRE(!x.u8 && !x.f32 && !x.labels && !x.targets);
    }
    pp_data_free(&x);
    return 0;
}
