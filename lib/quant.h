/* Quantisation of a model's stored weights (formats/model.md):
 *  f16  weights as IEEE half floats (rounded to nearest even), computed in
 *       f32 after loading;
 *  q8   weights int8, symmetric, one scale per output channel (max |w| /
 *       127); activations quantised per row at run time; the convolutions
 *       and linear layers run as int8 products (kernels/qgemm.h);
 *  q8s  as q8, but each int8 layer's input has one scale calibrated from
 *       representative spectrograms (calibrate.h) instead of a scale per row;
 *  bf16 weights as bfloat16 (f32's exponent, 8-bit significand, rounded to
 *       nearest even); the convolutions and linear layers run as bf16
 *       products accumulated in f32 where the CPU has them (kernels/bgemm.h),
 *       else in f32 on the widened weights.
 * One-dimensional tensors (biases, norm weights, BatchNorm statistics) stay
 * f32: they are a fraction of a percent of the size, and BatchNorm
 * variances and norm scales are where low precision would cost most. In q8
 * and q8s the stem and the output head also stay f32 (model_q8_tensor). */
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
	size_t bytes_before, bytes_after; /* tensor data, scales included */
};

/* The type named, if it is one a model can be narrowed to (f16, q8, q8s, bf16:
 * the quant_traits that store something other than f32); else -1 with a
 * message naming them. */
int quant_type_parse(const char *name);

/* Plans type for m: layers[i] for every tensor (m->nspecs of them), with the
 * error each takes. For q8 and q8s it also quantises: m->q8 and
 * m->q8_scale are filled (q8s needs m->act_scale filled by calibration
 * first). Refuses a model that is already quantised. */
int quant_plan(struct model *m, enum quantization type, struct quant_layer *layers);

/* Quantisation-aware training (tf-train --qat): replaces every tensor that
 * q8 stores as int8 by its int8 rounding, dequantised (the same per-channel
 * scales quant_plan stores), after copying the float values into keep (laid
 * out like m->params; only those tensors' ranges are written). The forward
 * and backward passes then see the weights a q8/q8s model will have, and
 * the gradient, taken at the rounded weights, updates the float ones (the
 * straight-through estimator). quant_fake_restore puts the floats back.
 * -1 with a message (out of memory). */
int quant_fake_q8(struct model *m, float *keep);
void quant_fake_restore(struct model *m, const float *keep);

#endif
