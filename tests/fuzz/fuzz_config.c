/* libFuzzer harness: the configuration file parser (pp_config_load_file for `train`, then
 * pp_config_check and pp_config_format) on arbitrary bytes written to a temporary file. */
#include "fuzz_common.h"
#include "paraprop/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = pp_fuzz_path(0, "config.txt");
    pp_fuzz_write(path, data, size);
    pp_config c;
    pp_config_defaults(&c);
    pp_status st = pp_config_load_file(&c, PP_CMD_TRAIN, path);
    pp_fuzz_check(st, "pp_config_load_file");
    if (st.code != PP_OK) return 0;
    /* every string option stays terminated within its buffer */
    PP_FUZZ_REQUIRE(memchr(c.data, '\0', sizeof c.data) && memchr(c.layers, '\0', sizeof c.layers));
    PP_FUZZ_REQUIRE(memchr(c.run_dir, '\0', sizeof c.run_dir) &&
                    memchr(c.resume, '\0', sizeof c.resume));
    st = pp_config_check(&c, PP_CMD_TRAIN);
    pp_fuzz_check(st, "pp_config_check");
    if (st.code != PP_OK) return 0;
    PP_FUZZ_REQUIRE(c.L >= 1 && c.L <= PP_MAX_LAYERS);
    for (int l = 0; l <= c.L; l++) PP_FUZZ_REQUIRE(c.sizes[l] >= 1);
    char *text = pp_config_format(&c, PP_CMD_TRAIN);
    PP_FUZZ_REQUIRE(text != NULL);
    /* the resolved configuration must load back to the same settings */
    const char *path2 = pp_fuzz_path(1, "config-resolved.txt");
    pp_fuzz_write(path2, (const uint8_t *)text, strlen(text));
    pp_config c2;
    pp_config_defaults(&c2);
    st = pp_config_load_file(&c2, PP_CMD_TRAIN, path2);
    pp_fuzz_check(st, "pp_config_load_file (resolved config)");
    if (st.code == PP_OK) {
        char *text2 = pp_config_format(&c2, PP_CMD_TRAIN);
        PP_FUZZ_REQUIRE(text2 != NULL);
        if (strcmp(text, text2) != 0) {
            fprintf(stderr,
                    "fuzz harness: the resolved configuration does not round-trip:\n%s---\n%s",
                    text, text2);
            abort();
        }
        free(text2);
    }
    free(text);
    return 0;
}
