/* Stream mode's row reads (pp_dataset_rows_*): a converted dataset is read from the file mapped
 * into memory, every row as the whole-set read gives it; and a file cut short while it is
 * mapped (its pages past the new end raise SIGBUS) gives a clean PP_ERR_INPUT naming the row,
 * not a crash, while the rows still in the file read on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paraprop/dataset.h"

#include "check.h"

enum { N = 4000, D = 100, K = 7 };

static int same_row(const pp_data *a, size_t i, const pp_data *b, size_t j)
{
    return memcmp(a->f32 + i * D, b->f32 + j * D, D * sizeof(float)) == 0 &&
           a->labels[i] == b->labels[j];
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_rows SCRATCH_DIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/rows.h5", argv[1]);
    pp_data all, got;
    pp_status st = pp_data_alloc(&all, N, D, K, 0, 1);
    CHECK(!st.code, "alloc: %s", st.msg);
    for (size_t i = 0; i < N; i++) {
        all.labels[i] = (int32_t)(i % K);
        for (size_t j = 0; j < D; j++) all.f32[i * D + j] = (float)i + (float)j / 128.0f;
    }
    st = pp_dataset_write(path, &all, NULL, "test_rows");
    CHECK(!st.code, "writing %s: %s", path, st.msg);
    st = pp_data_alloc(&got, 64, D, K, 0, 1);
    CHECK(!st.code, "alloc: %s", st.msg);

    pp_dataset_rows *r = NULL;
    st = pp_dataset_rows_open(path, &r);
    CHECK(!st.code, "opening the rows: %s", st.msg);
    if (st.code) return failures ? 1 : 0;
    CHECK(pp_dataset_rows_direct(r) == 2, "rows read by %d (2: mapped)", pp_dataset_rows_direct(r));
    const void *at;
    size_t len;
    struct stat sb;
    pp_dataset_rows_mapping(r, &at, &len);
    CHECK(at && stat(path, &sb) == 0 && len == (size_t)sb.st_size,
          "the mapping covers the file (%zu bytes)", len);

    /* scattered rows, each chunk's first read verifying it, then rows of verified chunks */
    uint32_t ids[64];
    int bad = 0;
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < 64; i++) ids[i] = (uint32_t)((round * 977 + i * 613) % N);
        got.n = 64;
        st = pp_dataset_rows_read(r, ids, 64, &got);
        CHECK(!st.code, "reading 64 rows: %s", st.msg);
        for (int i = 0; !st.code && i < 64; i++) bad += !same_row(&all, ids[i], &got, (size_t)i);
    }
    CHECK(bad == 0, "%d rows differ from the whole-set write", bad);

    /* cut the file in the middle of the inputs, under the mapping: the rows past the cut fail
     * cleanly (SIGBUS caught), the rows before it still read */
    CHECK(truncate(path, (off_t)(len / 2)) == 0, "truncating %s", path);
    uint32_t late[4] = {N - 1, N - 2, N - 3, N - 4};
    got.n = 4;
    st = pp_dataset_rows_read(r, late, 4, &got);
    CHECK(st.code == PP_ERR_INPUT && strstr(st.msg, "reading row"),
          "rows past the cut: status %d '%s' (expected a clean input error)", st.code, st.msg);
    uint32_t early[2] = {0, 1};
    got.n = 2;
    st = pp_dataset_rows_read(r, early, 2, &got);
    CHECK(!st.code && same_row(&all, 0, &got, 0) && same_row(&all, 1, &got, 1),
          "rows before the cut after it: %s", st.msg);
    pp_dataset_rows_close(r);
    pp_data_free(&all);
    pp_data_free(&got);
    if (failures) return 1;
    printf("rows: mapped reads match, a file cut under its mapping fails cleanly\n");
    return 0;
}
