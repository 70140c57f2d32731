#include <math.h>
#include <stdint.h>
#include <string.h>

#include "activation.h"
#include "cpu.h"
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

#ifdef __x86_64__
#include <immintrin.h>

#include "exp2_avx2.h"
#include "exp2_avx512.h"

/* gelu1 on 16 lanes, written out because the build does not contract a*b+c
 * into FMAs (-std=c11) and the auto-vectorised loop was 1.5 times slower:
 * the same erf, with FMAs and the reciprocal by vrcp14ps and one Newton
 * step (relative error ~2^-28) instead of a division; e^(-z^2) as
 * 2^(-w^2), w = z sqrt(log2 e), by the attention kernel's exponential
 * (exp2_avx512.h: 32-entry table, degree-2 polynomial, vscalefps; relative
 * error 5.3e-8), as gelu8 does with AVX2's. -w^2 is clamped at -200 so that
 * an infinite input gives 2^-200 = 0 rather than inf - inf. */
/* erf(x / sqrt 2) and e^(-x^2 / 2) of 16 lanes, the parts gelu16 and
 * gelu_grad16 share. */
static inline TARGET_AVX512 __attribute__((always_inline)) void
erf_exp16(const struct exp2c512 *ex, __m512 x, __m512 *erf_out, __m512 *exp_out)
{
	const __m512 one = _mm512_set1_ps(1.0f);
	/* w = x sqrt(log2 e) / sqrt 2 = z sqrt(log2 e); 1 + p|z| = 1 + p' |w| */
	__m512 w = _mm512_mul_ps(x, _mm512_set1_ps(0.84932180028801904f));
	__m512 a = _mm512_abs_ps(w);
	__m512 den = _mm512_fmadd_ps(_mm512_set1_ps(0.27273748087922250f), a, one);
	__m512 t = _mm512_rcp14_ps(den);
	t = _mm512_mul_ps(t, _mm512_fnmadd_ps(den, t, _mm512_set1_ps(2.0f)));
	__m512 y = _mm512_fmadd_ps(_mm512_set1_ps(1.061405429f), t, _mm512_set1_ps(-1.453152027f));
	y = _mm512_fmadd_ps(y, t, _mm512_set1_ps(1.421413741f));
	y = _mm512_fmadd_ps(y, t, _mm512_set1_ps(-0.284496736f));
	y = _mm512_fmadd_ps(y, t, _mm512_set1_ps(0.254829592f));
	y = _mm512_mul_ps(y, t);
	__m512 e = _mm512_max_ps(_mm512_fnmadd_ps(a, a, _mm512_setzero_ps()), _mm512_set1_ps(-200.0f));
	__m512 p = exp2_512(ex, 0xffff, e);
	__m512 erf = _mm512_fnmadd_ps(y, p, one); /* erf(|z|) */
	*erf_out = _mm512_xor_ps(erf, _mm512_and_ps(w, _mm512_set1_ps(-0.0f)));
	*exp_out = p;
}

static inline TARGET_AVX512 __m512 gelu16(const struct exp2c512 *ex, __m512 x)
{
	__m512 erf, p;
	erf_exp16(ex, x, &erf, &p);
	__m512 h = _mm512_mul_ps(x, _mm512_set1_ps(0.5f));
	return _mm512_fmadd_ps(h, erf, h);
}

/* gelu'(x) = Phi(x) + x phi(x) = (1 + erf) / 2 + x e^(-x^2/2) / sqrt(2 pi) */
static inline TARGET_AVX512 __m512 gelu_grad16(const struct exp2c512 *ex, __m512 x)
{
	__m512 erf, p;
	erf_exp16(ex, x, &erf, &p);
	__m512 cdf = _mm512_fmadd_ps(erf, _mm512_set1_ps(0.5f), _mm512_set1_ps(0.5f));
	return _mm512_fmadd_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.39894228040143268f)), p, cdf);
}

/* y = gelu(x) (dy NULL) or y = dy gelu'(x), over n values: one loop for
 * both, dy a constant after inlining. */
static inline __attribute__((always_inline)) TARGET_AVX512 void gelu_map512(float *y, const float *dy, const float *x,
									  size_t n)
{
	const struct exp2c512 ex = exp2c512_load();
	for (size_t i = 0; i < n; i += 16) {
		__mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
		__m512 v = _mm512_maskz_loadu_ps(k, x + i);
		v = dy ? _mm512_mul_ps(_mm512_maskz_loadu_ps(k, dy + i), gelu_grad16(&ex, v)) : gelu16(&ex, v);
		if (k == 0xffff)
			_mm512_storeu_ps(y + i, v);
		else
			_mm512_mask_storeu_ps(y + i, k, v);
	}
}

static TARGET_AVX512 void gelu_avx512(float *y, const float *x, size_t n)
{
	gelu_map512(y, NULL, x, n);
}

static TARGET_AVX512 void gelu_backward_avx512(float *dx, const float *dy, const float *x, size_t n)
{
	gelu_map512(dx, dy, x, n);
}

static TARGET_AVX512 void bias_gelu_avx512(float *x, const float *bias, size_t rows, int C)
{
	const struct exp2c512 ex = exp2c512_load();
	for (size_t r = 0; r < rows; r++) {
		float *row = x + r * (size_t)C;
		for (int c = 0; c < C; c += 16) {
			__mmask16 k = C - c >= 16 ? 0xffff : (__mmask16)((1u << (C - c)) - 1);
			__m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(k, row + c), _mm512_maskz_loadu_ps(k, bias + c));
			_mm512_mask_storeu_ps(row + c, k, gelu16(&ex, v));
		}
	}
}

/* gelu16 on 8 lanes for AVX2 machines, where the auto-vectorised gelu1
 * (target_clones cannot ask for FMA) was a tenth of the compact model's
 * time: the same erf, with a division where AVX2 has no 14-bit reciprocal,
 * and e^(-z^2) as 2^(-w^2), w = z sqrt(log2 e), by the attention's table
 * exponential (exp2_avx2.h, relative error 1.3e-7): 15 operations on the
 * FMA pipes per 8 values instead of 22, 1.3-1.4x faster on Zen 3. Not
 * gelu1's bits: within 2.4e-7 of them for |x| < 4 and 4.8e-7 to 6, as the
 * Taylor exponential before (where 1 + erf cancels, x below -2, neither
 * keeps gelu1's relative precision). */
static inline TARGET_AVX2 __attribute__((always_inline)) void erf_exp8(__m256 x, __m256 *erf_out, __m256 *exp_out)
{
	const __m256 one = _mm256_set1_ps(1.0f);
	/* w = x sqrt(log2 e) / sqrt 2 = z sqrt(log2 e); 1 + p|z| = 1 + p' |w| */
	__m256 w = _mm256_mul_ps(x, _mm256_set1_ps(0.84932180028801904f));
	__m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), w);
	__m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.27273748087922250f), a, one));
	__m256 y = _mm256_fmadd_ps(_mm256_set1_ps(1.061405429f), t, _mm256_set1_ps(-1.453152027f));
	y = _mm256_fmadd_ps(y, t, _mm256_set1_ps(1.421413741f));
	y = _mm256_fmadd_ps(y, t, _mm256_set1_ps(-0.284496736f));
	y = _mm256_fmadd_ps(y, t, _mm256_set1_ps(0.254829592f));
	y = _mm256_mul_ps(y, t);
	__m256 p = exp2_256(_mm256_castsi256_ps(_mm256_set1_epi32(-1)), _mm256_fnmadd_ps(a, a, _mm256_setzero_ps()));
	__m256 erf = _mm256_fnmadd_ps(y, p, one);
	*erf_out = _mm256_xor_ps(erf, _mm256_and_ps(w, _mm256_set1_ps(-0.0f)));
	*exp_out = p;
}

static inline TARGET_AVX2 __m256 gelu8(__m256 x)
{
	__m256 erf, p;
	erf_exp8(x, &erf, &p);
	__m256 h = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
	return _mm256_fmadd_ps(h, erf, h);
}

static inline TARGET_AVX2 __m256 gelu_grad8(__m256 x)
{
	__m256 erf, p;
	erf_exp8(x, &erf, &p);
	__m256 cdf = _mm256_fmadd_ps(erf, _mm256_set1_ps(0.5f), _mm256_set1_ps(0.5f));
	return _mm256_fmadd_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.39894228040143268f)), p, cdf);
}

/* The lanes below n of a vector, for the last partial one. */
static inline TARGET_AVX2 __m256i lanes_below(int n)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* gelu_map512 on 8 lanes */
static inline __attribute__((always_inline)) TARGET_AVX2 void gelu_map256(float *y, const float *dy, const float *x,
									size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 v = _mm256_loadu_ps(x + i);
		_mm256_storeu_ps(y + i, dy ? _mm256_mul_ps(_mm256_loadu_ps(dy + i), gelu_grad8(v)) : gelu8(v));
	}
	if (i < n) {
		__m256i k = lanes_below((int)(n - i));
		__m256 v = _mm256_maskload_ps(x + i, k);
		_mm256_maskstore_ps(y + i, k, dy ? _mm256_mul_ps(_mm256_maskload_ps(dy + i, k), gelu_grad8(v)) : gelu8(v));
	}
}

static TARGET_AVX2 void gelu_avx2(float *y, const float *x, size_t n)
{
	gelu_map256(y, NULL, x, n);
}

static TARGET_AVX2 void gelu_backward_avx2(float *dx, const float *dy, const float *x, size_t n)
{
	gelu_map256(dx, dy, x, n);
}

static TARGET_AVX2 void bias_gelu_avx2(float *x, const float *bias, size_t rows, int C)
{
	__m256i k = lanes_below(C % 8);
	for (size_t r = 0; r < rows; r++) {
		float *row = x + r * (size_t)C;
		int c = 0;
		for (; c + 8 <= C; c += 8)
			_mm256_storeu_ps(row + c, gelu8(_mm256_add_ps(_mm256_loadu_ps(row + c), _mm256_loadu_ps(bias + c))));
		if (c < C) {
			__m256 v = _mm256_add_ps(_mm256_maskload_ps(row + c, k), _mm256_maskload_ps(bias + c, k));
			_mm256_maskstore_ps(row + c, k, gelu8(v));
		}
	}
}

#endif

__attribute__((target_clones("avx2", "default")))
static void gelu_plain(float *y, const float *x, size_t n)
{
#pragma omp simd
	for (size_t i = 0; i < n; i++)
		y[i] = gelu1(x[i]);
}

int gelu_forward_to_path(enum simd_path path, float *y, const float *x, size_t n)
{
	if (!simd_path_supported(path))
		return -1;
#ifdef __x86_64__
	if (path == SIMD_AVX512)
		return gelu_avx512(y, x, n), 0;
	if (path == SIMD_AVX2)
		return gelu_avx2(y, x, n), 0;
#endif
	gelu_plain(y, x, n);
	return 0;
}

int gelu_forward_path(enum simd_path path, float *x, size_t n)
{
	return gelu_forward_to_path(path, x, x, n);
}

void gelu_forward(float *x, size_t n)
{
	gelu_forward_to_path(simd_best_path(), x, x, n);
}

void gelu_forward_to(float *y, const float *x, size_t n)
{
	gelu_forward_to_path(simd_best_path(), y, x, n);
}

void gelu_ref(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0))));
}

__attribute__((target_clones("avx2", "default")))
static void bias_gelu_plain(float *x, const float *bias, size_t rows, int C)
{
	for (size_t r = 0; r < rows; r++) {
		float *row = x + r * (size_t)C;
#pragma omp simd
		for (int c = 0; c < C; c++)
			row[c] = gelu1(row[c] + bias[c]);
	}
}

int bias_gelu_forward_path(enum simd_path path, float *x, const float *bias, size_t rows, int C)
{
	if (!simd_path_supported(path))
		return -1;
#ifdef __x86_64__
	if (path == SIMD_AVX512)
		return bias_gelu_avx512(x, bias, rows, C), 0;
	if (path == SIMD_AVX2)
		return bias_gelu_avx2(x, bias, rows, C), 0;
#endif
	bias_gelu_plain(x, bias, rows, C);
	return 0;
}

void bias_gelu_forward(float *x, const float *bias, size_t rows, int C)
{
	bias_gelu_forward_path(simd_best_path(), x, bias, rows, C);
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

__attribute__((target_clones("avx2", "default")))
static void gelu_backward_plain(float *dx, const float *dy, const float *x, size_t n)
{
#pragma omp simd
	for (size_t i = 0; i < n; i++)
		dx[i] = dy[i] * gelu_grad1(x[i]);
}

int gelu_backward_path(enum simd_path path, float *dx, const float *dy, const float *x, size_t n)
{
	if (!simd_path_supported(path))
		return -1;
#ifdef __x86_64__
	if (path == SIMD_AVX512)
		return gelu_backward_avx512(dx, dy, x, n), 0;
	if (path == SIMD_AVX2)
		return gelu_backward_avx2(dx, dy, x, n), 0;
#endif
	gelu_backward_plain(dx, dy, x, n);
	return 0;
}

void gelu_backward(float *dx, const float *dy, const float *x, size_t n)
{
	gelu_backward_path(simd_best_path(), dx, dy, x, n);
}

void gelu_backward_ref(float *dx, const float *dy, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double v = x[i];
		double g = 0.5 * (1.0 + erf(v / sqrt(2.0))) + v * exp(-0.5 * v * v) / sqrt(2.0 * M_PI);
		dx[i] = (float)(dy[i] * g);
	}
}
