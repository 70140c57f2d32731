#include <math.h>
#include <stdint.h>
#include <string.h>

#include "activation.h"
#include "fastexp.h"

/* erf(x) by Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7):
 * 1 - (a1 t + ... + a5 t^5) e^{-x^2}, t = 1 / (1 + p |x|), sign restored. */
static inline float erf_fast(float x)
{
	float a = fabsf(x);
	float t = 1.0f / (1.0f + 0.3275911f * a);
	float y = 1.061405429f;
	y = y * t - 1.453152027f;
	y = y * t + 1.421413741f;
	y = y * t - 0.284496736f;
	y = y * t + 0.254829592f;
	y = 1.0f - y * t * exp_nonpos(-a * a);
	return x < 0 ? -y : y;
}

static inline float gelu1(float x)
{
	return 0.5f * x * (1.0f + erf_fast(x * 0.70710678118654752f));
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void gelu_forward(float *x, size_t n)
{
#pragma omp simd
	for (size_t i = 0; i < n; i++)
		x[i] = gelu1(x[i]);
}

void gelu_ref(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0))));
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void bias_gelu_forward(float *x, const float *bias, size_t rows, int C)
{
	for (size_t r = 0; r < rows; r++) {
		float *row = x + r * (size_t)C;
#pragma omp simd
		for (int c = 0; c < C; c++)
			row[c] = gelu1(row[c] + bias[c]);
	}
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void bias_add_forward(float *x, const float *bias, size_t rows, int C)
{
	for (size_t r = 0; r < rows; r++) {
		float *row = x + r * (size_t)C;
#pragma omp simd
		for (int c = 0; c < C; c++)
			row[c] += bias[c];
	}
}

void sigmoid_forward(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = 1.0f / (1.0f + expf(-x[i]));
}

/* d/dx gelu(x) = Phi(x) + x phi(x), with the same erf as the forward pass. */
static inline float gelu_grad1(float x)
{
	float cdf = 0.5f * (1.0f + erf_fast(x * 0.70710678118654752f));
	return cdf + x * 0.39894228040143268f * exp_nonpos(-0.5f * x * x);
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void gelu_backward(float *dx, const float *dy, const float *x, size_t n)
{
#pragma omp simd
	for (size_t i = 0; i < n; i++)
		dx[i] = dy[i] * gelu_grad1(x[i]);
}

void gelu_backward_ref(float *dx, const float *dy, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double v = x[i];
		double g = 0.5 * (1.0 + erf(v / sqrt(2.0))) + v * exp(-0.5 * v * v) / sqrt(2.0 * M_PI);
		dx[i] = (float)(dy[i] * g);
	}
}
