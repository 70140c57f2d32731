#include <math.h>
#include <stdlib.h>

#include "error.h"
#include "tensor.h"
#include "train/loss.h"

static float sign(float x)
{
	return (float)((x > 0) - (x < 0));
}

static double sum_rows(const double *row, int n)
{
	double s = 0;
	for (int i = 0; i < n; i++)
		s += row[i];
	return s;
}

double loss_spec_l1(const struct loss_shape *sh, const float *masks, const float *mix,
		    const float *target, float *dmasks)
{
	int B = sh->B, S = sh->S, C = sh->C, rows = B * S * C;
	size_t plane = (size_t)sh->F * sh->T;
	double n = (double)rows * (double)plane * 2.0, *row = calloc((size_t)rows, sizeof *row);
	float inv = (float)(1.0 / n);
	if (!row)
		return tf_seterr("out of memory"), NAN;
#pragma omp parallel for schedule(static)
	for (int r = 0; r < rows; r++) {
		int b = r / (S * C), c = r % C;
		const float *m = masks + (size_t)r * plane, *x = mix + ((size_t)b * C + c) * plane * 2,
			    *y = target + (size_t)r * plane * 2;
		float *d = dmasks + (size_t)r * plane;
		double acc = 0;
		for (size_t i = 0; i < plane; i++) {
			float xr = x[2 * i], xi = x[2 * i + 1];
			float er = m[i] * xr - y[2 * i], ei = m[i] * xi - y[2 * i + 1];
			acc += fabs((double)er) + fabs((double)ei);
			d[i] = inv * (sign(er) * xr + sign(ei) * xi);
		}
		row[r] = acc;
	}
	double loss = sum_rows(row, rows) / n;
	free(row);
	return loss;
}

double loss_wave_l1(const struct loss_shape *sh, const struct spec *sp, const float *masks,
		    const float *mix, const float *wave, int64_t L, double weight, float *dmasks)
{
	int B = sh->B, S = sh->S, C = sh->C, F = sh->F, T = sh->T, rows = B * S * C, failed = 0;
	size_t plane = (size_t)F * T;
	double n = (double)rows * (double)L, *row = calloc((size_t)rows, sizeof *row);
	float inv = (float)(weight / n);
	if (!row)
		return tf_seterr("out of memory"), NAN;
#pragma omp parallel
	{
		float *est = tf_alloc(plane * 2, sizeof(float)), *y = tf_alloc((size_t)L, sizeof(float));
		if (!est || !y) {
#pragma omp atomic write
			failed = 1;
		}
#pragma omp for schedule(static)
		for (int r = 0; r < rows; r++) {
			if (!est || !y)
				continue;
			int b = r / (S * C), c = r % C;
			const float *m = masks + (size_t)r * plane, *x = mix + ((size_t)b * C + c) * plane * 2,
				    *w = wave + (size_t)r * (size_t)L;
			float *d = dmasks + (size_t)r * plane;
			for (size_t i = 0; i < plane; i++)
				est[2 * i] = m[i] * x[2 * i], est[2 * i + 1] = m[i] * x[2 * i + 1];
			if (spec_istft(sp, est, T, L, y)) {
#pragma omp atomic write
				failed = 1;
				continue;
			}
			double acc = 0;
			for (int64_t i = 0; i < L; i++) {
				float e = y[i] - w[i];
				acc += fabs((double)e);
				y[i] = inv * sign(e);
			}
			row[r] = acc;
			/* est now receives dLoss/d(estimate), re and im */
			if (spec_istft_adjoint(sp, y, T, L, est)) {
#pragma omp atomic write
				failed = 1;
				continue;
			}
			for (size_t i = 0; i < plane; i++)
				d[i] += est[2 * i] * x[2 * i] + est[2 * i + 1] * x[2 * i + 1];
		}
		free(est), free(y);
	}
	double loss = sum_rows(row, rows) / n;
	free(row);
	if (failed)
		return tf_seterr("waveform loss: out of memory"), NAN;
	return loss;
}
