#include <math.h>

#include "norm.h"

__attribute__((target_clones("avx512f", "avx2", "default")))
void layernorm_forward(float *out, const float *x, const float *w, const float *b, size_t rows, int C)
{
	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * (size_t)C;
		float *o = out + r * (size_t)C;
		float mean = 0, var = 0;
#pragma omp simd reduction(+ : mean)
		for (int c = 0; c < C; c++)
			mean += xr[c];
		mean /= (float)C;
#pragma omp simd reduction(+ : var)
		for (int c = 0; c < C; c++)
			var += (xr[c] - mean) * (xr[c] - mean);
		float inv = 1.0f / sqrtf(var / (float)C + LN_EPS);
#pragma omp simd
		for (int c = 0; c < C; c++)
			o[c] = (xr[c] - mean) * inv * w[c] + b[c];
	}
}

void layernorm_ref(float *out, const float *x, const float *w, const float *b, size_t rows, int C)
{
	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * (size_t)C;
		double mean = 0, var = 0;
		for (int c = 0; c < C; c++)
			mean += xr[c];
		mean /= C;
		for (int c = 0; c < C; c++)
			var += (xr[c] - mean) * (xr[c] - mean);
		double inv = 1.0 / sqrt(var / C + LN_EPS);
		for (int c = 0; c < C; c++)
			out[r * (size_t)C + c] = (float)((xr[c] - mean) * inv * w[c] + b[c]);
	}
}

void batchnorm_fold(float *w, float *b, size_t out, size_t per_out, const float *gamma,
		    const float *beta, const float *mean, const float *var)
{
	for (size_t o = 0; o < out; o++) {
		double s = gamma[o] / sqrt((double)var[o] + BN_EPS);
		for (size_t k = 0; k < per_out; k++)
			w[o * per_out + k] = (float)(w[o * per_out + k] * s);
		b[o] = (float)(((double)b[o] - mean[o]) * s + beta[o]);
	}
}

/* With xhat = (x - mean) rstd: dxhat = dy w, and
 * dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)). */
__attribute__((target_clones("avx512f", "avx2", "default")))
void layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
			const float *w, size_t rows, int C)
{
	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * (size_t)C, *g = dy + r * (size_t)C;
		float *o = dx + r * (size_t)C;
		float mean = 0, var = 0, s1 = 0, s2 = 0;
#pragma omp simd reduction(+ : mean)
		for (int c = 0; c < C; c++)
			mean += xr[c];
		mean /= (float)C;
#pragma omp simd reduction(+ : var)
		for (int c = 0; c < C; c++)
			var += (xr[c] - mean) * (xr[c] - mean);
		float inv = 1.0f / sqrtf(var / (float)C + LN_EPS);
#pragma omp simd reduction(+ : s1, s2)
		for (int c = 0; c < C; c++) {
			float xh = (xr[c] - mean) * inv, d = g[c] * w[c];
			s1 += d;
			s2 += d * xh;
			dw[c] += g[c] * xh;
			db[c] += g[c];
		}
		s1 /= (float)C, s2 /= (float)C;
#pragma omp simd
		for (int c = 0; c < C; c++) {
			float xh = (xr[c] - mean) * inv;
			o[c] += inv * (g[c] * w[c] - s1 - xh * s2);
		}
	}
}

void layernorm_backward_ref(float *dx, float *dw, float *db, const float *dy, const float *x,
			    const float *w, size_t rows, int C)
{
	for (size_t r = 0; r < rows; r++) {
		const float *xr = x + r * (size_t)C, *g = dy + r * (size_t)C;
		double mean = 0, var = 0, s1 = 0, s2 = 0;
		for (int c = 0; c < C; c++)
			mean += xr[c];
		mean /= C;
		for (int c = 0; c < C; c++)
			var += (xr[c] - mean) * (xr[c] - mean);
		double inv = 1.0 / sqrt(var / C + LN_EPS);
		for (int c = 0; c < C; c++) {
			double xh = (xr[c] - mean) * inv;
			s1 += (double)g[c] * w[c];
			s2 += (double)g[c] * w[c] * xh;
			dw[c] = (float)(dw[c] + g[c] * xh);
			db[c] += g[c];
		}
		for (int c = 0; c < C; c++) {
			double xh = (xr[c] - mean) * inv;
			dx[r * (size_t)C + c] = (float)(dx[r * (size_t)C + c] +
						       inv * ((double)g[c] * w[c] - s1 / C - xh * s2 / C));
		}
	}
}
