#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "carve.h"
#include "error.h"
#include "parallel.h"
#include "tensor.h"
#include "train/loss.h"

struct loss_work {
	struct loss_shape sh;
	const struct spec *sp; /* the waveform loss's, or NULL */
	int64_t L;
	int threads;
	double *row;           /* a sum per (b, s, c) row */
	float *scratch;        /* the waveform loss's: threads x per_thread floats */
	size_t per_thread;
};

/* A thread's waveform scratch: the estimate's spectrogram [F][T] complex,
 * its signal [L], and the inverse STFT's scratch, each 64-byte aligned. */
struct wave_scratch {
	float *est, *y, *istft;
};

/* Carves (or with base NULL only counts) a thread's waveform scratch;
 * returns its size in floats. */
static size_t wave_scratch(const struct loss_work *w, float *base, struct wave_scratch *s)
{
	struct carve c = {(char *)base, 0};
	*s = (struct wave_scratch){carve(&c, (size_t)w->sh.F * w->sh.T * 2, sizeof(float)),
				   carve(&c, (size_t)w->L, sizeof(float)),
				   carve(&c, spec_istft_scratch(w->sp, w->sh.T), sizeof(float))};
	return ((c.used + 63) & ~(size_t)63) / sizeof(float); /* whole 64-byte lines: slices stay aligned */
}

struct loss_work *loss_work_new(const struct loss_shape *sh, const struct spec *sp, int64_t L, int threads)
{
	struct loss_work *w = calloc(1, sizeof *w);
	if (!w)
		return tf_seterr("out of memory"), NULL;
	*w = (struct loss_work){*sh, sp, L, threads > 0 ? threads : 1, NULL, NULL, 0};
	w->row = tf_alloc((size_t)sh->B * sh->S * sh->C, sizeof *w->row);
	if (w->row && sp) {
		struct wave_scratch unused;
		w->per_thread = wave_scratch(w, NULL, &unused);
		w->scratch = tf_alloc_aligned(w->per_thread * (size_t)w->threads, sizeof(float));
	}
	if (!w->row || (sp && !w->scratch)) {
		loss_work_free(w);
		return NULL;
	}
	return w;
}

void loss_work_free(struct loss_work *w)
{
	if (!w)
		return;
	free(w->row), free(w->scratch);
	free(w);
}

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

/* Each row's sum into w->row, its gradient into dmasks. */
static void spec_rows(struct loss_work *w, const float *masks, const float *mix, const float *target, float *dmasks,
		      float inv)
{
	int S = w->sh.S, C = w->sh.C, rows = w->sh.B * S * C;
	size_t plane = (size_t)w->sh.F * w->sh.T;
#pragma omp for schedule(static)
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
		w->row[r] = acc;
	}
}

double loss_spec_l1(struct loss_work *w, const float *masks, const float *mix, const float *target, float *dmasks)
{
	int rows = w->sh.B * w->sh.S * w->sh.C;
	double n = (double)rows * (double)w->sh.F * (double)w->sh.T * 2.0;
	PARALLEL_ON(w->threads, spec_rows(w, masks, mix, target, dmasks, (float)(1.0 / n)));
	return sum_rows(w->row, rows) / n;
}

static void wave_rows(struct loss_work *w, const float *masks, const float *mix, const float *wave, float inv,
		      float *dmasks)
{
	int S = w->sh.S, C = w->sh.C, T = w->sh.T, rows = w->sh.B * S * C;
	int64_t L = w->L;
	size_t plane = (size_t)w->sh.F * T;
	struct wave_scratch s;
	wave_scratch(w, w->scratch + (size_t)omp_get_thread_num() * w->per_thread, &s);
	float *est = s.est, *y = s.y;
#pragma omp for schedule(static)
	for (int r = 0; r < rows; r++) {
		int b = r / (S * C), c = r % C;
		const float *m = masks + (size_t)r * plane, *x = mix + ((size_t)b * C + c) * plane * 2,
			    *wv = wave + (size_t)r * (size_t)L;
		float *d = dmasks + (size_t)r * plane;
		for (size_t i = 0; i < plane; i++)
			est[2 * i] = m[i] * x[2 * i], est[2 * i + 1] = m[i] * x[2 * i + 1];
		spec_istft_work(w->sp, est, T, L, y, s.istft);
		double acc = 0;
		for (int64_t i = 0; i < L; i++) {
			float e = y[i] - wv[i];
			acc += fabs((double)e);
			y[i] = inv * sign(e);
		}
		w->row[r] = acc;
		/* est now receives dLoss/d(estimate), re and im */
		spec_istft_adjoint_work(w->sp, y, T, L, est, s.istft);
		for (size_t i = 0; i < plane; i++)
			d[i] += est[2 * i] * x[2 * i] + est[2 * i + 1] * x[2 * i + 1];
	}
}

double loss_wave_l1(struct loss_work *w, const float *masks, const float *mix, const float *wave, double weight,
		    float *dmasks)
{
	int rows = w->sh.B * w->sh.S * w->sh.C;
	double n = (double)rows * (double)w->L;
	if (!w->sp)
		return tf_seterr("waveform loss: no workspace for it"), NAN;
	PARALLEL_ON(w->threads, wave_rows(w, masks, mix, wave, (float)(weight / n), dmasks));
	return sum_rows(w->row, rows) / n;
}
