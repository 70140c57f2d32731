/* Element-wise activations, in place (or from x into y). */
#ifndef TF_ACTIVATION_H
#define TF_ACTIVATION_H
#include <stddef.h>

#include "cpu.h"

/* GELU, exact erf form: 0.5 x (1 + erf(x / sqrt 2)). The fast version uses a
 * vectorisable erf with absolute error below 2e-7; gelu_ref uses libm's erf. */
void gelu_forward(float *x, size_t n);
/* y = gelu(x) (y may be x): the training's backward pass recomputes the
 * MLP's activations from their inputs without a copy first. */
void gelu_forward_to(float *y, const float *x, size_t n);
void gelu_ref(float *x, size_t n);
/* y = gelu(y + bias[c]) over rows of C channels: x is [rows][C]. */
void bias_gelu_forward(float *x, const float *bias, size_t rows, int C);
/* The two on a given path of cpu.h (tests): 0, or -1 and nothing done if
 * this CPU cannot run it. */
int gelu_forward_path(enum simd_path path, float *x, size_t n);
int gelu_forward_to_path(enum simd_path path, float *y, const float *x, size_t n);
int bias_gelu_forward_path(enum simd_path path, float *x, const float *bias, size_t rows, int C);
/* x = x + bias[c] over rows of C channels. */
void bias_add_forward(float *x, const float *bias, size_t rows, int C);
/* dx = dy * gelu'(x): x is the GELU's input. dx may be dy or x. */
void gelu_backward(float *dx, const float *dy, const float *x, size_t n);
void gelu_backward_ref(float *dx, const float *dy, const float *x, size_t n);
/* gelu_backward on a given path of cpu.h (tests): 0, or -1 and nothing
 * done. The AVX2 and AVX-512 paths use gelu_forward's erf and exponential
 * (within 5e-7 of the plain path's). */
int gelu_backward_path(enum simd_path path, float *dx, const float *dy, const float *x, size_t n);
/* Logistic sigmoid 1 / (1 + exp(-x)). */
void sigmoid_forward(float *x, size_t n);

#endif
