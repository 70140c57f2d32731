#include <complex.h>
#include <fftw3.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "xcorr.h"

/* Smallest power of two >= n. */
static int pow2_at_least(int64_t n)
{
	int m = 1;
	while (m < n)
		m *= 2;
	return m;
}

/* acc += conj(h) x over n complex numbers, written out in real and
 * imaginary parts: C's complex product checks for infinities and does not
 * vectorise. */
static void mac_conj(double *restrict acc, const double *restrict h, const double *restrict x, int n)
{
#pragma omp simd
	for (int f = 0; f < n; f++) {
		double hr = h[2 * f], hi = h[2 * f + 1], xr = x[2 * f], xi = x[2 * f + 1];
		acc[2 * f] += hr * xr + hi * xi;
		acc[2 * f + 1] += hr * xi - hi * xr;
	}
}

/* Per-thread state: the spectra of one block of every signal and the sums
 * of the pairs' cross-spectra. */
struct work {
	double *time;
	fftw_complex *head, *wide; /* [nsig][bins]: block alone, block with margins */
	fftw_complex *acc;         /* [npairs][bins] */
};

static void work_free(struct work *w)
{
	fftw_free(w->time);
	fftw_free(w->head);
	fftw_free(w->wide);
	fftw_free(w->acc);
}

static int work_alloc(struct work *w, int nsig, int npairs, int m, int bins)
{
	w->time = fftw_malloc(sizeof(double) * m);
	w->head = fftw_malloc(sizeof(fftw_complex) * nsig * bins);
	w->wide = fftw_malloc(sizeof(fftw_complex) * nsig * bins);
	w->acc = fftw_malloc(sizeof(fftw_complex) * npairs * bins);
	if (!w->time || !w->head || !w->wide || !w->acc)
		return -1;
	memset(w->acc, 0, sizeof(fftw_complex) * npairs * bins);
	return 0;
}

/* Samples [from, from + n) of s into buf[at...], zeros elsewhere in buf[0, m);
 * samples outside [0, frames) are zeros. */
static void load(double *buf, int m, const struct signal *s, int64_t frames, int64_t from, int n, int at)
{
	memset(buf, 0, sizeof(double) * m);
	for (int i = 0; i < n; i++) {
		int64_t t = from + i;
		if (t >= 0 && t < frames)
			buf[at + i] = s->x[t * s->stride];
	}
}

int xcorr_lags(const struct signal *sig, int nsig, int64_t frames, const int (*pairs)[2], int npairs, int maxlag,
	       double *r)
{
	/* blocks of `block` samples of a, each with 2 maxlag more of b: a
	 * transform of m >= block + 2 maxlag leaves the wanted lags unwrapped */
	int m = pow2_at_least(8 * (int64_t)(2 * maxlag + 1));
	if (m < 4096)
		m = 4096;
	int block = m - 2 * maxlag, bins = m / 2 + 1, nthreads = omp_get_max_threads();
	int64_t nblocks = (frames + block - 1) / block;
	int need_head[nsig], need_wide[nsig];
	memset(need_head, 0, sizeof need_head);
	memset(need_wide, 0, sizeof need_wide);
	for (int p = 0; p < npairs; p++)
		need_head[pairs[p][0]] = need_wide[pairs[p][1]] = 1;

	struct work *work = calloc((size_t)nthreads, sizeof *work);
	double *tbuf = fftw_malloc(sizeof(double) * m);
	fftw_complex *fbuf = fftw_malloc(sizeof(fftw_complex) * bins);
	fftw_plan fwd = NULL, inv = NULL;
	int err = !work || !tbuf || !fbuf;
	for (int t = 0; t < nthreads && !err; t++)
		err = work_alloc(&work[t], nsig, npairs, m, bins);
	if (!err) {
		fwd = fftw_plan_dft_r2c_1d(m, tbuf, fbuf, FFTW_ESTIMATE);
		inv = fftw_plan_dft_c2r_1d(m, fbuf, tbuf, FFTW_ESTIMATE);
		err = !fwd || !inv;
	}
	if (err) {
		for (int t = 0; work && t < nthreads; t++)
			work_free(&work[t]);
		free(work);
		fftw_free(tbuf);
		fftw_free(fbuf);
		return tf_seterr("cross-correlations: out of memory");
	}

#pragma omp parallel num_threads(nthreads)
	{
		struct work *w = &work[omp_get_thread_num()];
#pragma omp for schedule(static)
		for (int64_t b = 0; b < nblocks; b++) {
			int64_t start = b * block;
			for (int s = 0; s < nsig; s++) {
				if (need_head[s]) {
					load(w->time, m, &sig[s], frames, start, block, 0);
					fftw_execute_dft_r2c(fwd, w->time, w->head + (size_t)s * bins);
				}
				if (need_wide[s]) {
					/* b from start - maxlag on: b[m + k] sits at index
					 * (m - start) + maxlag + k */
					load(w->time, m, &sig[s], frames, start - maxlag, block + 2 * maxlag, 0);
					fftw_execute_dft_r2c(fwd, w->time, w->wide + (size_t)s * bins);
				}
			}
			/* circular correlation: sum_t head[t] wide[t + j] <-> conj(H) W */
			for (int p = 0; p < npairs; p++)
				mac_conj((double *)(w->acc + (size_t)p * bins),
					 (const double *)(w->head + (size_t)pairs[p][0] * bins),
					 (const double *)(w->wide + (size_t)pairs[p][1] * bins), bins);
		}
	}

	/* the threads' sums, one inverse transform per pair; lag k is at
	 * index maxlag + k */
	int nlags = 2 * maxlag + 1;
	for (int p = 0; p < npairs; p++) {
		for (int f = 0; f < bins; f++) {
			fftw_complex s = 0;
			for (int t = 0; t < nthreads; t++)
				s += work[t].acc[(size_t)p * bins + f];
			fbuf[f] = s;
		}
		fftw_execute(inv);
		for (int k = 0; k < nlags; k++)
			r[(size_t)p * nlags + k] = tbuf[k] / m;
	}

	for (int t = 0; t < nthreads; t++)
		work_free(&work[t]);
	free(work);
	fftw_destroy_plan(fwd);
	fftw_destroy_plan(inv);
	fftw_free(tbuf);
	fftw_free(fbuf);
	return 0;
}
