#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "carve.h"
#include "error.h"
#include "tensor.h"
#include "train/spec.h"

/* Below this the window envelope counts as zero (torch.istft's NOLA bound,
 * as in lib/stft.c). */
#define ENVELOPE_MIN 1e-11f

struct spec {
	int n_fft, hop, bins, pad;
	float *window;
	fftwf_plan r2c, c2r;
};

struct spec *spec_new(int n_fft, int hop)
{
	if (n_fft < 4 || n_fft > (1 << 20) || n_fft % 2 || hop < 1 || hop >= n_fft) {
		tf_seterr("n_fft %d, hop %d: n_fft must be even, 4 to 2^20, and hop 1 to n_fft - 1", n_fft, hop);
		return NULL;
	}
	struct spec *sp = calloc(1, sizeof *sp);
	float *in = fftwf_alloc_real((size_t)n_fft);
	fftwf_complex *out = fftwf_alloc_complex((size_t)n_fft / 2 + 1);
	if (!sp || !in || !out || !(sp->window = fftwf_alloc_real((size_t)n_fft))) {
		free(sp);
		fftwf_free(in), fftwf_free(out);
		tf_seterr("out of memory");
		return NULL;
	}
	sp->n_fft = n_fft, sp->hop = hop, sp->bins = n_fft / 2 + 1, sp->pad = n_fft / 2;
	for (int i = 0; i < n_fft; i++)
		sp->window[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * i / n_fft));
	sp->r2c = fftwf_plan_dft_r2c_1d(n_fft, in, out, FFTW_ESTIMATE);
	sp->c2r = fftwf_plan_dft_c2r_1d(n_fft, out, in, FFTW_ESTIMATE);
	fftwf_free(in), fftwf_free(out);
	if (!sp->r2c || !sp->c2r) {
		spec_free(sp);
		tf_seterr("FFTW could not plan a transform of %d points", n_fft);
		return NULL;
	}
	return sp;
}

void spec_free(struct spec *sp)
{
	if (!sp)
		return;
	if (sp->r2c)
		fftwf_destroy_plan(sp->r2c);
	if (sp->c2r)
		fftwf_destroy_plan(sp->c2r);
	fftwf_free(sp->window);
	free(sp);
}

int spec_bins(const struct spec *sp) { return sp->bins; }
int64_t spec_frames(const struct spec *sp, int64_t samples) { return 1 + samples / sp->hop; }

static int check_length(const struct spec *sp, int64_t L)
{
	if (L <= sp->pad)
		return tf_seterr("a signal of %lld samples is too short for n_fft %d (more than %d needed)",
				 (long long)L, sp->n_fft, sp->pad);
	return 0;
}

int spec_stft(const struct spec *sp, const float *x, int64_t L, float *X)
{
	int N = sp->n_fft, F = sp->bins;
	int64_t T = spec_frames(sp, L);
	if (check_length(sp, L))
		return -1;
	float *buf = fftwf_alloc_real((size_t)N);
	fftwf_complex *out = fftwf_alloc_complex((size_t)F);
	if (!buf || !out) {
		fftwf_free(buf), fftwf_free(out);
		return tf_seterr("out of memory");
	}
	for (int64_t t = 0; t < T; t++) {
		int64_t j0 = t * sp->hop - sp->pad;
		for (int i = 0; i < N; i++) {
			int64_t j = j0 + i;
			if (j < 0)
				j = -j;
			else if (j >= L)
				j = 2 * (L - 1) - j;
			buf[i] = x[j] * sp->window[i];
		}
		fftwf_execute_dft_r2c(sp->r2c, buf, out);
		for (int k = 0; k < F; k++) {
			X[((size_t)k * T + t) * 2] = out[k][0];
			X[((size_t)k * T + t) * 2 + 1] = out[k][1];
		}
	}
	fftwf_free(buf), fftwf_free(out);
	return 0;
}

/* The scratch of the inverse and its adjoint for T frames: the overlap-add
 * (or the divided gradient), the window-sum-square envelope, one frame and
 * its spectrum, each 64-byte aligned when the scratch is (FFTW's arrays
 * must be aligned as its plans' were). With base NULL, only the size. */
struct istft_scratch {
	float *acc, *env, *buf;
	fftwf_complex *bins;
};

static size_t istft_scratch(const struct spec *sp, int T, float *base, struct istft_scratch *s)
{
	size_t n = (size_t)(T - 1) * sp->hop + sp->n_fft;
	struct carve c = {(char *)base, 0};
	*s = (struct istft_scratch){carve(&c, n, sizeof(float)), carve(&c, n, sizeof(float)),
				    carve(&c, (size_t)sp->n_fft, sizeof(float)),
				    carve(&c, (size_t)sp->bins, sizeof(fftwf_complex))};
	return ((c.used + 63) & ~(size_t)63) / sizeof(float); /* whole 64-byte lines: slices stay aligned */
}

size_t spec_istft_scratch(const struct spec *sp, int T)
{
	struct istft_scratch unused;
	return istft_scratch(sp, T, NULL, &unused);
}

/* The window-sum-square envelope over padded positions [0, (T-1)*hop + N). */
static void envelope(const struct spec *sp, int T, float *env)
{
	size_t n = (size_t)(T - 1) * sp->hop + sp->n_fft;
	memset(env, 0, n * sizeof *env);
	for (int t = 0; t < T; t++)
		for (int i = 0; i < sp->n_fft; i++)
			env[(size_t)t * sp->hop + i] += sp->window[i] * sp->window[i];
}

int spec_istft_work(const struct spec *sp, const float *X, int T, int64_t L, float *y, float *scratch)
{
	int N = sp->n_fft, F = sp->bins;
	size_t n = (size_t)(T - 1) * sp->hop + N;
	const float scale = 1.0f / (float)N; /* FFTW's inverse is unnormalised */
	struct istft_scratch s;
	istft_scratch(sp, T, scratch, &s);
	float *acc = s.acc, *env = s.env, *buf = s.buf;
	fftwf_complex *in = s.bins;
	memset(acc, 0, n * sizeof *acc);
	envelope(sp, T, env);
	for (int t = 0; t < T; t++) {
		for (int k = 0; k < F; k++) {
			in[k][0] = X[((size_t)k * T + t) * 2];
			in[k][1] = X[((size_t)k * T + t) * 2 + 1];
		}
		in[0][1] = in[F - 1][1] = 0.0f; /* a real signal's DC and Nyquist bins are real */
		fftwf_execute_dft_c2r(sp->c2r, in, buf);
		float *a = acc + (size_t)t * sp->hop;
		for (int i = 0; i < N; i++)
			a[i] += buf[i] * scale * sp->window[i];
	}
	for (int64_t i = 0; i < L; i++) {
		size_t p = (size_t)(i + sp->pad);
		y[i] = p < n && env[p] > ENVELOPE_MIN ? acc[p] / env[p] : 0.0f;
	}
	return 0;
}

int spec_istft_adjoint_work(const struct spec *sp, const float *g, int T, int64_t L, float *G, float *scratch)
{
	int N = sp->n_fft, F = sp->bins;
	size_t n = (size_t)(T - 1) * sp->hop + N;
	const float scale = 1.0f / (float)N;
	struct istft_scratch s;
	istft_scratch(sp, T, scratch, &s);
	/* h: g divided by the envelope at the padded positions the output keeps */
	float *h = s.acc, *env = s.env, *buf = s.buf;
	fftwf_complex *out = s.bins;
	memset(h, 0, n * sizeof *h);
	envelope(sp, T, env);
	for (int64_t i = 0; i < L; i++) {
		size_t p = (size_t)(i + sp->pad);
		if (p < n && env[p] > ENVELOPE_MIN)
			h[p] = g[i] / env[p];
	}
	for (int t = 0; t < T; t++) {
		const float *a = h + (size_t)t * sp->hop;
		for (int i = 0; i < N; i++)
			buf[i] = a[i] * scale * sp->window[i];
		fftwf_execute_dft_r2c(sp->r2c, buf, out);
		for (int k = 0; k < F; k++) {
			/* irfft counts bins 1..N/2-1 twice (their conjugate mirrors) */
			float c = k == 0 || k == F - 1 ? 1.0f : 2.0f;
			G[((size_t)k * T + t) * 2] = c * out[k][0];
			G[((size_t)k * T + t) * 2 + 1] = k == 0 || k == F - 1 ? 0.0f : c * out[k][1];
		}
	}
	return 0;
}

/* The allocating forms: their scratch for one call. */
typedef int (*istft_work_fn)(const struct spec *, const float *, int, int64_t, float *, float *);

static int with_scratch(istft_work_fn work, const struct spec *sp, const float *in, int T, int64_t L, float *out)
{
	float *scratch = tf_alloc_aligned(spec_istft_scratch(sp, T), sizeof(float));
	if (!scratch)
		return tf_seterr("out of memory");
	int rc = work(sp, in, T, L, out, scratch);
	free(scratch);
	return rc;
}

int spec_istft(const struct spec *sp, const float *X, int T, int64_t L, float *y)
{
	return with_scratch(spec_istft_work, sp, X, T, L, y);
}

int spec_istft_adjoint(const struct spec *sp, const float *g, int T, int64_t L, float *G)
{
	return with_scratch(spec_istft_adjoint_work, sp, g, T, L, G);
}
