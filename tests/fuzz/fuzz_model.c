/* libFuzzer harness: the inference API's loader (pp_model_load) on arbitrary bytes written to a
 * temporary file; a model that loads must answer its queries and predict finite-sized outputs
 * without touching memory it does not own. */
#include "fuzz_hdf5.h"
#include "paraprop/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = pp_fuzz_path(0, "model.h5");
    pp_fuzz_write(path, data, size);
    pp_model *m = (pp_model *)&size; /* the loader must reset it */
    pp_fuzz_ids ids = pp_fuzz_count_ids();
    pp_status st = pp_model_load(path, &m);
    pp_fuzz_check(st, "pp_model_load");
    pp_fuzz_check_ids(&ids, "pp_model_load");
    if (st.code != PP_OK) {
        PP_FUZZ_REQUIRE(m == NULL);
        return 0;
    }
    PP_FUZZ_REQUIRE(m != NULL);
    const int L = pp_model_layers(m);
    PP_FUZZ_REQUIRE(L >= 1);
    const size_t d = pp_model_inputs(m), k = pp_model_outputs(m);
    PP_FUZZ_REQUIRE(d == pp_model_layer_size(m, 0) && k == pp_model_layer_size(m, L));
    PP_FUZZ_REQUIRE(strlen(pp_model_fingerprint(m)) == 64);
    for (int l = 1; l <= L; l++) PP_FUZZ_REQUIRE(pp_model_activation(m, l) >= 0);
    /* predict a few rows (more than a block) when the model is small enough to be quick */
    if (d <= 4096 && k <= 4096 && pp_model_parameters(m) <= ((size_t)1 << 20)) {
        const size_t n = PP_MODEL_BLOCK + 3;
        float *x = calloc(n * d, sizeof *x), *y = malloc(n * k * sizeof *y);
        if (x && y) {
            for (size_t i = 0; i < n * d; i++) x[i] = (float)(i % 7) - 3.0f;
            st = pp_model_predict(m, x, n, y);
            pp_fuzz_check(st, "pp_model_predict");
            PP_FUZZ_REQUIRE(st.code == PP_OK || st.code == PP_ERR_NOMEM);
            if (st.code == PP_OK)
                for (size_t i = 0; i < n; i++) PP_FUZZ_REQUIRE(pp_model_argmax(m, y + i * k) < k);
        }
        free(x);
        free(y);
    }
    pp_model_free(m);
    return 0;
}
