/* The inference API (paraprop/model.h): a verified checkpoint's network, read-only after
 * loading, and the trainer's own forward pass over fixed-size blocks. */
#include "paraprop/model.h"

#include <stdlib.h>
#include <string.h>

#include "paraprop/checkpoint.h"
#include "paraprop/net.h"
#include "paraprop/seal.h"

/* the public enum mirrors the internal one, so that a cast is all it takes */
_Static_assert(PP_MODEL_SIGMOID == (int)PP_ACT_SIGMOID && PP_MODEL_TANH == (int)PP_ACT_TANH &&
                   PP_MODEL_RELU == (int)PP_ACT_RELU && PP_MODEL_IDENTITY == (int)PP_ACT_IDENTITY &&
                   PP_MODEL_SOFTMAX == (int)PP_ACT_SOFTMAX,
               "PP_MODEL_* must match pp_activation");

struct pp_model {
    pp_arch arch;
    pp_real *params; /* (nparams), never written after loading */
    char fingerprint[65];
};

pp_status pp_model_load(const char *path, pp_model **model)
{
    if (!model) return pp_error(PP_ERR_USAGE, "pp_model_load: model is NULL");
    *model = NULL;
    if (!path) return pp_error(PP_ERR_USAGE, "pp_model_load: path is NULL");
    /* Only sealed files: the seal is checked with plain reads before HDF5 parses anything, and
     * HDF5 1.10 can crash on a damaged file (fuzz_model found a SEGV inside H5Dread on an
     * unsealed one). A program that embeds a model must not be taken down by a bad file. */
    pp_seal_info seal;
    pp_status st = pp_seal_check(path, 0, 0, &seal);
    if (st.code) return st;
    if (!seal.sealed)
        return pp_error(PP_ERR_INPUT,
                        "%s: the file carries no seal (not written by paraprop, or rewritten by "
                        "another tool such as h5repack); models are loaded only from sealed files, "
                        "which are verified before HDF5 reads them (docs/FORMATS.md: give it an "
                        "empty user block with h5jam, then 'paraprop seal')",
                        path);
    pp_model *m = calloc(1, sizeof *m);
    if (!m) return pp_error(PP_ERR_NOMEM, "out of memory loading %s", path);
    /* the checkpoint reader hashes every byte against the seal, then checks the format, the
     * shapes, the checksums and the fingerprint: a model that loads is the model that was
     * trained */
    pp_checkpoint ck;
    st = pp_checkpoint_read(path, 0, &ck);
    if (st.code) {
        free(m);
        return st;
    }
    m->arch = ck.arch;
    m->params = ck.params;
    ck.params = NULL; /* taken over; the rest (optimizer state, metrics, config) is not needed */
    memcpy(m->fingerprint, ck.fingerprint, sizeof m->fingerprint);
    pp_checkpoint_free(&ck);
    *model = m;
    return pp_ok();
}

void pp_model_free(pp_model *model)
{
    if (!model) return;
    free(model->params);
    free(model);
}

pp_status pp_model_predict(const pp_model *model, const float *inputs, size_t n, float *outputs)
{
    if (n == 0) return pp_ok();
    if (!model || !inputs || !outputs)
        return pp_error(PP_ERR_USAGE, "pp_model_predict: %s is NULL",
                        !model    ? "model"
                        : !inputs ? "inputs"
                                  : "outputs");
    const pp_arch *a = &model->arch;
    const size_t d = a->n[0], k = a->n[a->L], B = PP_MODEL_BLOCK;
    /* scratch of this call only: concurrent callers share nothing but the read-only model */
    pp_workspace ws;
    pp_status st = pp_workspace_init(&ws, a, B);
    if (st.code) return st;
    /* paraprop's AVX-512 kernels change tiles at 32 rows, the portable loop never does */
    const int pad = strcmp(pp_net_rows_engine(), "portable") != 0;
    for (size_t s = 0; s < n; s += B) {
        const size_t m = n - s < B ? n - s : B;
        pp_real *in = ws.act[0]; /* (B, d) */
        for (size_t i = 0; i < m * d; i++) in[i] = (pp_real)inputs[s * d + i];
        /* a partial block is padded to B rows, so that the kernels take the same tiles as for
         * a full one and every row's bits stay the same */
        memset(in + m * d, 0, (B - m) * d * sizeof *in);
        pp_net_forward_rows(a, model->params, &ws, 0, pad ? B : m);
        const pp_real *out = ws.act[a->L]; /* (B, k) */
        for (size_t i = 0; i < m * k; i++) outputs[s * k + i] = (float)out[i];
    }
    pp_workspace_free(&ws);
    return pp_ok();
}

size_t pp_model_argmax(const pp_model *model, const float *row)
{
    size_t b = 0, k = model->arch.n[model->arch.L];
    for (size_t j = 1; j < k; j++)
        if (row[j] > row[b]) b = j;
    return b;
}

size_t pp_model_inputs(const pp_model *model)
{
    return model->arch.n[0];
}

size_t pp_model_outputs(const pp_model *model)
{
    return model->arch.n[model->arch.L];
}

int pp_model_layers(const pp_model *model)
{
    return model->arch.L;
}

size_t pp_model_layer_size(const pp_model *model, int l)
{
    return l >= 0 && l <= model->arch.L ? model->arch.n[l] : 0;
}

int pp_model_activation(const pp_model *model, int l)
{
    if (l < 1 || l > model->arch.L) return -1;
    return (int)(l == model->arch.L ? model->arch.output : model->arch.hidden);
}

const char *pp_model_activation_name(const pp_model *model, int l)
{
    int act = pp_model_activation(model, l);
    return act < 0 ? "" : pp_activation_name((pp_activation)act);
}

const char *pp_model_cost_name(const pp_model *model)
{
    return pp_cost_name(model->arch.cost);
}

const char *pp_model_fingerprint(const pp_model *model)
{
    return model->fingerprint;
}

size_t pp_model_parameters(const pp_model *model)
{
    return model->arch.nparams;
}
