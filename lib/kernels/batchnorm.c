#include <math.h>
#include <stdlib.h>

#include "batchnorm.h"
#include "norm.h"

void batchnorm_sum(double *s, const float *z, size_t rows, int C)
{
	for (int c = 0; c < C; c++)
		s[c] = 0;
	for (size_t r = 0; r < rows; r++)
		for (int c = 0; c < C; c++)
			s[c] += z[r * C + c];
}

void batchnorm_sqdev(double *s, const float *z, const double *mean, size_t rows, int C)
{
	for (int c = 0; c < C; c++)
		s[c] = 0;
	for (size_t r = 0; r < rows; r++)
		for (int c = 0; c < C; c++) {
			double d = z[r * C + c] - mean[c];
			s[c] += d * d;
		}
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void batchnorm_apply(float *y, const float *z, const float *mean, const float *invstd,
		     const float *g, const float *b, size_t rows, int C)
{
	for (size_t r = 0; r < rows; r++)
#pragma omp simd
		for (int c = 0; c < C; c++)
			y[r * C + c] = (z[r * C + c] - mean[c]) * invstd[c] * g[c] + b[c];
}

void batchnorm_grad_sums(double *sdy, double *sdyx, const float *dy, const float *z,
			 const float *mean, const float *invstd, size_t rows, int C)
{
	for (int c = 0; c < C; c++)
		sdy[c] = sdyx[c] = 0;
	for (size_t r = 0; r < rows; r++)
		for (int c = 0; c < C; c++) {
			float g = dy[r * C + c];
			sdy[c] += g;
			sdyx[c] += g * ((z[r * C + c] - mean[c]) * invstd[c]);
		}
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void batchnorm_backward_apply(float *dz, const float *dy, const float *z, const float *mean,
			      const float *invstd, const float *g, const float *mdy,
			      const float *mdyx, size_t rows, int C)
{
	for (size_t r = 0; r < rows; r++)
#pragma omp simd
		for (int c = 0; c < C; c++) {
			float xh = (z[r * C + c] - mean[c]) * invstd[c];
			dz[r * C + c] = g[c] * invstd[c] * (dy[r * C + c] - mdy[c] - xh * mdyx[c]);
		}
}

void batchnorm_train_ref(float *y, double *mean, double *var, const float *z, const float *g,
			 const float *b, size_t rows, int C)
{
	for (int c = 0; c < C; c++) {
		double m = 0, v = 0;
		for (size_t r = 0; r < rows; r++)
			m += z[r * C + c];
		m /= (double)rows;
		for (size_t r = 0; r < rows; r++)
			v += (z[r * C + c] - m) * (z[r * C + c] - m);
		v /= (double)rows;
		mean[c] = m, var[c] = v;
		for (size_t r = 0; r < rows; r++)
			y[r * C + c] = (float)((z[r * C + c] - m) / sqrt(v + BN_EPS) * g[c] + b[c]);
	}
}

void batchnorm_backward_ref(float *dz, float *dg, float *db, const float *dy, const float *z,
			    const float *g, size_t rows, int C)
{
	for (int c = 0; c < C; c++) {
		double m = 0, v = 0, sdy = 0, sdyx = 0;
		for (size_t r = 0; r < rows; r++)
			m += z[r * C + c];
		m /= (double)rows;
		for (size_t r = 0; r < rows; r++)
			v += (z[r * C + c] - m) * (z[r * C + c] - m);
		double inv = 1.0 / sqrt(v / (double)rows + BN_EPS);
		for (size_t r = 0; r < rows; r++) {
			sdy += dy[r * C + c];
			sdyx += dy[r * C + c] * (z[r * C + c] - m) * inv;
		}
		dg[c] = (float)sdyx, db[c] = (float)sdy;
		for (size_t r = 0; r < rows; r++) {
			double xh = (z[r * C + c] - m) * inv;
			dz[r * C + c] = (float)(g[c] * inv * (dy[r * C + c] - sdy / rows - xh * sdyx / rows));
		}
	}
}
