/* Normalisations. */
#ifndef TF_NORM_H
#define TF_NORM_H
#include <stddef.h>

#include "cpu.h"

#define LN_EPS 1e-5f
#define BN_EPS 1e-5

/* LayerNorm over the C channels of each row: out[r] = (x[r] - mean) /
 * sqrt(var + eps) * w + b, biased variance. x, out: [rows][C]; may alias. */
void layernorm_forward(float *out, const float *x, const float *w, const float *b, size_t rows, int C);
void layernorm_ref(float *out, const float *x, const float *w, const float *b, size_t rows, int C);
/* layernorm_forward on a given path of cpu.h (tests): 0, or -1 and nothing
 * done if this CPU cannot run it. The AVX2 path has its own code for C = 8
 * only; other C run the plain loop there. */
int layernorm_forward_path(enum simd_path path, float *out, const float *x, const float *w, const float *b,
			   size_t rows, int C);
/* The AVX-512 version without its C = 8 special case (rows of 8 two to a
 * vector), which must give the same bits: for the test. -1 (nothing
 * done) on a CPU without AVX-512. */
int layernorm_rows16(float *out, const float *x, const float *w, const float *b, size_t rows, int C);

/* LayerNorm backward, mean and variance recomputed from x: dx += dL/dx,
 * dw += sum over rows of dy xhat, db += sum of dy. dy, x, dx: [rows][C]. */
void layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
			const float *w, size_t rows, int C);
void layernorm_backward_ref(float *dx, float *dw, float *db, const float *dy, const float *x,
			    const float *w, size_t rows, int C);
/* layernorm_backward on a given path of cpu.h (tests): 0, or -1 and
 * nothing done if this CPU cannot run it. Only AVX-512 has a kernel of its
 * own (16 rows at a time); the AVX2 path runs the plain loop compiled for
 * AVX2. */
int layernorm_backward_path(enum simd_path path, float *dx, float *dw, float *db, const float *dy, const float *x,
			    const float *w, size_t rows, int C);

/* Folds eval-mode BatchNorm into the preceding convolution, whichever axis
 * of its weight indexes output channels: w [outer][out][inner] (a
 * convolution's [co][ci][k][k]: outer 1; a transposed one's [ci][co][k][k]:
 * outer ci, inner k*k), w[..][o][..] *= f[o] = g[o] / sqrt(var[o] + eps);
 * b[o] = (b[o] - mean[o]) * f[o] + beta[o]. w NULL: the bias only; factor
 * (NULL: not wanted) receives f, for weights whose scales take it. */
void batchnorm_fold(float *w, float *b, size_t outer, size_t out, size_t inner, const float *gamma,
		    const float *beta, const float *mean, const float *var, double *factor);

#endif
