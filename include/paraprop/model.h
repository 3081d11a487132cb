/* A trained model for inference: load a checkpoint or final.h5, ask what it is, predict.
 * The small, stable API for programs that use a model (docs/INFERENCE.md); it needs neither MPI
 * nor HDF5 headers, and a loaded model is read-only, so any number of threads may predict with
 * one model at once. */
#ifndef PARAPROP_MODEL_H
#define PARAPROP_MODEL_H

#include <stddef.h>

#include "paraprop/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque: the architecture and the parameters of one trained network. */
typedef struct pp_model pp_model;

/* The rows pp_model_predict computes at a time. Every block has exactly this many rows (the
 * last one is padded), so a row's outputs never depend on n or on how a caller splits its
 * rows into calls: the matrix kernels choose their tiles by the number of rows. */
#define PP_MODEL_BLOCK 32

/* What pp_model_activation returns (the same order as the activation names in model files). */
enum {
    PP_MODEL_SIGMOID = 0,
    PP_MODEL_TANH = 1,
    PP_MODEL_RELU = 2,
    PP_MODEL_IDENTITY = 3,
    PP_MODEL_SOFTMAX = 4
};

/* Reads a model file (a checkpoint or RUN_DIR/final.h5) and verifies it before use: its
 * SHA-256 seal (required: a file without one is refused, because only the seal protects
 * against HDF5 crashing on damaged metadata), format and version, `complete`, shapes,
 * checksums and the stored parameter fingerprint. On success *model is a new model (free it with
 * pp_model_free). On failure *model is NULL and the status is PP_ERR_INPUT (the file and the
 * problem are named), PP_ERR_NOMEM or PP_ERR_USAGE (a NULL argument). */
pp_status pp_model_load(const char *path, pp_model **model);

/* Frees a model; NULL is allowed. */
void pp_model_free(pp_model *model);

/* The forward pass of n samples. inputs: (n, pp_model_inputs) row-major, the values the network
 * was trained on: a dataset's float32 inputs as stored, or for uint8 inputs byte × scale
 * computed in float (what `paraprop train`/`eval` feed the network). outputs: (n,
 * pp_model_outputs) row-major, the activations of the output layer. Safe to call from any
 * number of threads at once with the same model (each call has its own scratch memory); the
 * bits depend only on the model and the row, never on n, the thread or the other rows.
 * Inputs are not checked (a NaN gives NaN outputs). Returns PP_ERR_USAGE for NULL pointers
 * (with n > 0), PP_ERR_NOMEM when the scratch memory cannot be allocated (outputs are then
 * unspecified). n = 0 does nothing. */
pp_status pp_model_predict(const pp_model *model, const float *inputs, size_t n, float *outputs);

/* Index of the largest output of one row (the predicted class; ties go to the lowest index). */
size_t pp_model_argmax(const pp_model *model, const float *output_row);

/* Queries. Layers are numbered 0 (inputs) … pp_model_layers (outputs). */
size_t pp_model_inputs(const pp_model *model);  /* n₀ */
size_t pp_model_outputs(const pp_model *model); /* n_L */
int pp_model_layers(const pp_model *model);     /* L, the number of weight layers */
/* Neurons of layer l in [0, L]; 0 when l is out of range. */
size_t pp_model_layer_size(const pp_model *model, int l);
/* Activation of layer l in [1, L]; -1 when l is out of range. */
int pp_model_activation(const pp_model *model, int l);
/* "sigmoid", "tanh", "relu", "identity", "softmax"; "" when l is out of range. */
const char *pp_model_activation_name(const pp_model *model, int l);
/* "quadratic", "cross-entropy" or "log-likelihood": the cost it was trained with. */
const char *pp_model_cost_name(const pp_model *model);
/* The SHA-256 fingerprint of the parameters (64 hex digits), as `paraprop inspect` prints it. */
const char *pp_model_fingerprint(const pp_model *model);
/* Number of parameters (weights and biases). */
size_t pp_model_parameters(const pp_model *model);

#ifdef __cplusplus
}
#endif
#endif
