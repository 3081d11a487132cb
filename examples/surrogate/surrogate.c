/* A simulation code's view of a surrogate: load the trained model once, then evaluate it.
 * Reads rows "x1,x2,x3[,…]" (a header line first) and prints the model's output for each,
 * with %.9g so that the text reads back as exactly the same float.
 * usage: surrogate MODEL.h5 INPUTS.csv */
#include <paraprop/model.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: surrogate MODEL.h5 INPUTS.csv\n");
        return 2;
    }
    pp_model *m;
    pp_status st = pp_model_load(argv[1], &m);
    if (st.code) {
        fprintf(stderr, "surrogate: %s\n", st.msg);
        return 1;
    }
    const size_t d = pp_model_inputs(m), k = pp_model_outputs(m);
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        fprintf(stderr, "surrogate: cannot open %s\n", argv[2]);
        return 1;
    }
    char line[4096];
    float *x = malloc(d * sizeof *x), *y = malloc(k * sizeof *y);
    if (!fgets(line, sizeof line, f)) line[0] = '\0'; /* the header */
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        for (size_t j = 0; j < d; j++) {
            x[j] = (float)strtod(p, &p); /* as paraprop reads CSV: to double, then float */
            if (*p == ',') p++;
        }
        st = pp_model_predict(m, x, 1, y); /* one sample at a time, as a solver would call it */
        if (st.code) {
            fprintf(stderr, "surrogate: %s\n", st.msg);
            return 1;
        }
        for (size_t j = 0; j < k; j++) printf("%s%.9g", j ? "," : "", (double)y[j]);
        putchar('\n');
    }
    fclose(f);
    free(x);
    free(y);
    pp_model_free(m);
    return 0;
}
