/* The inference API (paraprop/model.h) on a trained model: queries, batch independence,
 * 8 concurrent threads against one, agreement with `paraprop predict`, and clean errors for
 * bad model files.
 * usage: test_model MODEL.h5 INPUTS.csv PREDICT.csv DIMS BAD_FILE...
 *   INPUTS.csv   rows of inputs (no header); PREDICT.csv: `paraprop predict --csv` output of them
 *   DIMS         the expected layer sizes, e.g. 150,80,3
 *   BAD_FILE     files pp_model_load must refuse with PP_ERR_INPUT */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paraprop/model.h"

/* stops at the first failure: later checks build on earlier ones */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                 \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static float *read_csv(const char *path, int header, size_t *rows, size_t *cols)
{
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    char line[1 << 16];
    size_t n = 0, cap = 0, c = 0;
    float *v = NULL;
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        if (header && first) {
            first = 0;
            continue;
        }
        size_t k = 0;
        for (char *p = line; *p && *p != '\n';) {
            char *end;
            /* as the CSV reader does: strtod, then float */
            double x = strtod(p, &end);
            CHECK(end != p);
            if (n * (c ? c : 1) + k >= cap) {
                cap = cap ? 2 * cap : 4096;
                v = realloc(v, cap * sizeof *v);
                CHECK(v != NULL);
            }
            v[n * c + k++] = (float)x;
            p = *end == ',' ? end + 1 : end;
        }
        if (!c) c = k;
        CHECK(k == c);
        n++;
    }
    fclose(f);
    *rows = n;
    *cols = c;
    return v;
}

typedef struct job {
    const pp_model *m;
    const float *x;
    size_t n;
    float *y;
    pp_status st;
} job;

static void *run(void *p)
{
    job *j = p;
    for (int rep = 0; rep < 3 && !j->st.code; rep++)
        j->st = pp_model_predict(j->m, j->x, j->n, j->y);
    return NULL;
}

int main(int argc, char **argv)
{
    CHECK(argc >= 5);
    pp_model *m = NULL;
    pp_status st = pp_model_load(argv[1], &m);
    if (st.code) fprintf(stderr, "%s\n", st.msg);
    CHECK(st.code == PP_OK && m != NULL);

    /* queries against the sizes the model was trained with */
    char dims[256] = "";
    for (int l = 0; l <= pp_model_layers(m); l++)
        snprintf(dims + strlen(dims), sizeof dims - strlen(dims), "%s%zu", l ? "," : "",
                 pp_model_layer_size(m, l));
    printf("model: %s, %s hidden, %s output, %s cost, %zu parameters\n", dims,
           pp_model_activation_name(m, 1), pp_model_activation_name(m, pp_model_layers(m)),
           pp_model_cost_name(m), pp_model_parameters(m));
    CHECK(strcmp(dims, argv[4]) == 0);
    CHECK(pp_model_inputs(m) == pp_model_layer_size(m, 0));
    CHECK(pp_model_outputs(m) == pp_model_layer_size(m, pp_model_layers(m)));
    CHECK(pp_model_layer_size(m, -1) == 0 && pp_model_layer_size(m, pp_model_layers(m) + 1) == 0);
    CHECK(pp_model_activation(m, 0) == -1 && strcmp(pp_model_activation_name(m, 0), "") == 0);
    CHECK(pp_model_activation(m, pp_model_layers(m)) == PP_MODEL_SOFTMAX);
    CHECK(strlen(pp_model_fingerprint(m)) == 64);

    size_t n, d, pn, k;
    float *x = read_csv(argv[2], 0, &n, &d);
    float *ref = read_csv(argv[3], 1, &pn, &k);
    CHECK(d == pp_model_inputs(m) && pn == n && k == pp_model_outputs(m));
    CHECK(n > 3 * PP_MODEL_BLOCK); /* several blocks and a partial one */
    const size_t bytes = n * k * sizeof(float);
    float *all = malloc(bytes), *part = malloc(bytes);
    CHECK(all && part);

    /* one call for all rows: the bits `paraprop predict` wrote (%.9g reads back exactly) */
    CHECK(pp_model_predict(m, x, n, all).code == PP_OK);
    CHECK(memcmp(all, ref, bytes) == 0);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < k; j++) sum += all[i * k + j];
        CHECK(pp_model_argmax(m, all + i * k) < k);
    }
    CHECK(sum > 0.99 * (double)n && sum < 1.01 * (double)n); /* softmax rows sum to 1 */

    /* row by row, and in chunks of 7: a row's outputs do not depend on the batching */
    for (size_t i = 0; i < n; i++) CHECK(pp_model_predict(m, x + i * d, 1, part + i * k).code == 0);
    CHECK(memcmp(all, part, bytes) == 0);
    memset(part, 0, bytes);
    for (size_t i = 0; i < n; i += 7)
        CHECK(pp_model_predict(m, x + i * d, n - i < 7 ? n - i : 7, part + i * k).code == 0);
    CHECK(memcmp(all, part, bytes) == 0);

    /* 8 threads at once on the same model, each on all rows, three times over */
    enum { T = 8 };
    pthread_t th[T];
    job jobs[T];
    for (int t = 0; t < T; t++) {
        jobs[t] = (job){m, x, n, malloc(bytes), pp_ok()};
        CHECK(jobs[t].y != NULL);
        CHECK(pthread_create(&th[t], NULL, run, &jobs[t]) == 0);
    }
    for (int t = 0; t < T; t++) {
        CHECK(pthread_join(th[t], NULL) == 0);
        CHECK(jobs[t].st.code == PP_OK);
        CHECK(memcmp(jobs[t].y, all, bytes) == 0);
        free(jobs[t].y);
    }

    /* argument errors */
    CHECK(pp_model_predict(m, x, 0, NULL).code == PP_OK);
    st = pp_model_predict(m, NULL, 1, all);
    CHECK(st.code == PP_ERR_USAGE && strstr(st.msg, "inputs"));
    CHECK(pp_model_predict(NULL, x, 1, all).code == PP_ERR_USAGE);
    CHECK(pp_model_load(argv[1], NULL).code == PP_ERR_USAGE);
    pp_model *none = (pp_model *)&st;
    CHECK(pp_model_load(NULL, &none).code == PP_ERR_USAGE && none == NULL);
    pp_model_free(NULL);

    /* bad files: refused with a message that names the file, no model */
    for (int i = 5; i < argc; i++) {
        pp_model *bad = (pp_model *)&st;
        st = pp_model_load(argv[i], &bad);
        printf("%s: %s\n", argv[i], st.msg);
        CHECK(st.code == PP_ERR_INPUT && bad == NULL && strstr(st.msg, argv[i]) != NULL);
    }
    free(x);
    free(ref);
    free(all);
    free(part);
    pp_model_free(m);
    printf("PASS model api\n");
    return 0;
}
