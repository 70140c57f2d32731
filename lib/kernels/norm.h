/* Normalisations. */
#ifndef TF_NORM_H
#define TF_NORM_H
#include <stddef.h>

#define LN_EPS 1e-5f
#define BN_EPS 1e-5

/* LayerNorm over the C channels of each row: out[r] = (x[r] - mean) /
 * sqrt(var + eps) * w + b, biased variance. x, out: [rows][C]; may alias. */
void layernorm_forward(float *out, const float *x, const float *w, const float *b, size_t rows, int C);
void layernorm_ref(float *out, const float *x, const float *w, const float *b, size_t rows, int C);

/* LayerNorm backward, mean and variance recomputed from x: dx += dL/dx,
 * dw += sum over rows of dy xhat, db += sum of dy. dy, x, dx: [rows][C]. */
void layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
			const float *w, size_t rows, int C);
void layernorm_backward_ref(float *dx, float *dw, float *db, const float *dy, const float *x,
			    const float *w, size_t rows, int C);

/* Folds eval-mode BatchNorm into the preceding convolution:
 * w[o][...] *= g[o] / sqrt(var[o] + eps); b[o] = (b[o] - mean[o]) * that + beta[o].
 * w: [out][per_out] (per_out weights for each output channel). */
void batchnorm_fold(float *w, float *b, size_t out, size_t per_out, const float *gamma,
		    const float *beta, const float *mean, const float *var);

#endif
