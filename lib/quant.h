/* Quantisation of a model's stored weights. This version has one type:
 * f16, weights stored as IEEE half floats (rounded to nearest even) and
 * computed in f32 after loading. One-dimensional tensors (biases, norm
 * weights, BatchNorm statistics) stay f32: they are a fraction of a percent
 * of the size, and BatchNorm variances and norm scales are where half
 * precision's 11-bit significand and 6e-5 smallest normal would cost most. */
#ifndef TF_QUANT_H
#define TF_QUANT_H
#include <stddef.h>

#include "model.h"
#include "tensor.h"

struct quant_layer {
	enum dtype dtype;       /* how the tensor is stored */
	const char *kept;       /* why it stays f32, or NULL */
	double max_err;         /* largest |stored - original| */
	double rel_rms;         /* RMS error / RMS value */
	size_t bytes_before, bytes_after;
};

/* Is type one this version can write ("f16")? -1 with a message saying
 * which types exist and which are not written yet. */
int quant_type_check(const char *type);

/* Plans type for m: layers[i] for every tensor (m->nspecs of them), with the
 * error each would take. Refuses a model that is already quantised. */
int quant_plan(const struct model *m, const char *type, struct quant_layer *layers);

#endif
