#include <complex.h>
#include <fftw3.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "bsseval.h"
#include "cholesky.h"
#include "error.h"
#include "xcorr.h"

int64_t bss_windows(int64_t frames, int window, int hop)
{
	if (window < frames)
		return (frames - window + hop) / hop;
	return 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double bss_median(const double *v, int64_t n)
{
	double *f = malloc(sizeof(double) * (n ? n : 1));
	int64_t k = 0;
	if (!f)
		return NAN;
	for (int64_t i = 0; i < n; i++)
		if (isfinite(v[i]))
			f[k++] = v[i];
	double m = NAN;
	if (k) {
		qsort(f, (size_t)k, sizeof *f, cmp_double);
		m = k % 2 ? f[k / 2] : (f[k / 2 - 1] + f[k / 2]) / 2;
	}
	free(f);
	return m;
}

void bss_scores_free(struct bss_scores *s)
{
	free(s->sdr);
	memset(s, 0, sizeof *s);
}

/* What the fit and the windows share. Channels are numbered a = j C + c
 * (source j, channel c), references first, then estimates. */
struct bss {
	int nsrc, nch, nrc, L;           /* nrc = nsrc * nch reference channels */
	int64_t frames;
	const float *const *refs, *const *ests;
	double *corr;                    /* the cross-correlations, lags -(L-1)..L-1 */
	int *pair_of;                    /* [a][b]: index of pair (min, max) or (ref, est) */
	double *filt_p, *filt_q;         /* P: [a][d][e c]; Pj: [j][c' d][c] */
	/* the window transforms */
	int m, bins, block;
	fftw_complex *hp, *hq;           /* filter spectra: [o][a][bins], [o][c'][bins] */
	fftw_plan fwd, inv;
	double *tbuf;
	fftw_complex *fbuf;
};

static double energy_db(double num, double den)
{
	return den == 0 ? INFINITY : 10 * log10(num / den);
}

/* rho_ab[k] = sum_m a[m] b[m + k] for |k| < L, a and b any channels
 * (references 0..nrc-1, estimates nrc..2nrc-1, with a a reference). */
static double rho(const struct bss *b, int x, int y, int k)
{
	int nlags = 2 * b->L - 1;
	if (x > y && y < b->nrc) {
		int t = x;
		x = y, y = t, k = -k;
	}
	return b->corr[(size_t)b->pair_of[x * 2 * b->nrc + y] * nlags + b->L - 1 + k];
}

/* The Gram matrix of the delayed channels chans[0..n) (row (i, d1), column
 * (i', d2): sum_n a[n - d1] b[n - d2] = rho_ab[d1 - d2]) plus load on the
 * diagonal. */
static void gram(const struct bss *b, const int *chans, int n, double load, double *G)
{
	int L = b->L, dim = n * L;
	for (int i = 0; i < n; i++)
		for (int i2 = 0; i2 <= i; i2++)
			for (int d1 = 0; d1 < L; d1++) {
				double *row = G + (size_t)(i * L + d1) * dim + (size_t)i2 * L;
				for (int d2 = 0; d2 < L; d2++)
					row[d2] = rho(b, chans[i], chans[i2], d1 - d2);
			}
	for (int k = 0; k < dim; k++)
		G[(size_t)k * dim + k] += load;
}

/* The condition number of G = L L^T (L in the lower triangle of Lf, row
 * stride n): its largest eigenvalue by power iteration on L L^T, its
 * smallest by inverse iteration through the factor, COND_ITERS steps each
 * from a fixed start. An estimate from below, close enough to tell 1e8 from
 * 1e15, which is all a warning needs; about a tenth of the factorisation's
 * cost. 0 when out of memory. */
#define COND_ITERS 8
static double gram_condition(const double *Lf, int n)
{
	double *v = malloc(sizeof(double) * n), *w = malloc(sizeof(double) * n), hi = 0, lo = 0, norm;
	if (!v || !w) {
		free(v), free(w);
		return 0;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < n; i++)
			v[i] = 1 + 0.1 * (i % 7);
		for (int it = 0; it < COND_ITERS; it++) {
			if (pass == 0) { /* v = L (L^T v) */
				for (int j = 0; j < n; j++) {
					double s = 0;
					for (int i = j; i < n; i++)
						s += Lf[(size_t)i * n + j] * v[i];
					w[j] = s;
				}
				for (int i = 0; i < n; i++) {
					double s = 0;
					const double *row = Lf + (size_t)i * n;
					for (int j = 0; j <= i; j++)
						s += row[j] * w[j];
					v[i] = s;
				}
			} else { /* v = G^-1 v */
				cholesky_solve(Lf, n, v, 1);
			}
			norm = 0;
			for (int i = 0; i < n; i++)
				norm += v[i] * v[i];
			norm = sqrt(norm);
			if (!(norm > 0) || !isfinite(norm))
				break;
			for (int i = 0; i < n; i++)
				v[i] /= norm;
			if (pass == 0)
				hi = norm;
			else
				lo = 1 / norm;
		}
	}
	free(v), free(w);
	return lo > 0 ? hi / lo : INFINITY;
}

/* Least-squares filters from the delayed channels chans[0..n) to the
 * estimate channels ecols[0..ncols): X[(i, d)][col]. -1 when out of memory. */
static int fit(const struct bss *b, const int *chans, int n, const int *ecols, int ncols, double *X, int *regularised,
	       double *cond)
{
	int L = b->L, dim = n * L;
	double *G = malloc(sizeof(double) * dim * dim);
	if (!G)
		return tf_seterr("BSS Eval: out of memory for a %dx%d Gram matrix", dim, dim);
	double mean_diag = 0;
	for (int i = 0; i < n; i++)
		mean_diag += rho(b, chans[i], chans[i], 0) / n;
	/* museval solves G + eps I; when that is not positive definite in
	 * floating point, load the diagonal until it is */
	double load = DBL_EPSILON;
	for (int tries = 0;; tries++) {
		gram(b, chans, n, load, G);
		if (!cholesky_factor(G, dim))
			break;
		if (tries == 6 || !(mean_diag > 0)) {
			free(G);
			return tf_seterr("BSS Eval: the references' Gram matrix cannot be factored%s",
					 isfinite(mean_diag) ? "" : " (the audio holds infinities or NaN)");
		}
		load = mean_diag * 1e-10 * pow(100, tries);
		*regularised = 1;
	}
	if (!(*cond = gram_condition(G, dim)))
		return tf_seterr("BSS Eval: out of memory");
	for (int i = 0; i < n; i++)
		for (int d = 0; d < L; d++)
			for (int c = 0; c < ncols; c++)
				X[(size_t)(i * L + d) * ncols + c] = rho(b, chans[i], ecols[c], d);
	cholesky_solve(G, dim, X, ncols);
	free(G);
	return 0;
}

/* acc += h x over n complex numbers, in real and imaginary parts (C's
 * complex product checks for infinities and does not vectorise). */
static void mac(double *restrict acc, const double *restrict h, const double *restrict x, int n)
{
#pragma omp simd
	for (int f = 0; f < n; f++) {
		double hr = h[2 * f], hi = h[2 * f + 1], xr = x[2 * f], xi = x[2 * f + 1];
		acc[2 * f] += hr * xr - hi * xi;
		acc[2 * f + 1] += hr * xi + hi * xr;
	}
}

/* Per-thread buffers for the windows. */
struct wwork {
	double *tin, *tp, *tq;          /* [m] */
	fftw_complex *spec, *fp, *fq;   /* [nrc][bins], [bins], [bins] */
	double *tail;                   /* [2 nrc][L - 1]: P then Pj overlap */
};

static void wwork_free(struct wwork *w)
{
	fftw_free(w->tin);
	fftw_free(w->tp);
	fftw_free(w->tq);
	fftw_free(w->spec);
	fftw_free(w->fp);
	fftw_free(w->fq);
	free(w->tail);
}

static int wwork_alloc(struct wwork *w, const struct bss *b)
{
	w->tin = fftw_malloc(sizeof(double) * b->m);
	w->tp = fftw_malloc(sizeof(double) * b->m);
	w->tq = fftw_malloc(sizeof(double) * b->m);
	w->spec = fftw_malloc(sizeof(fftw_complex) * b->nrc * b->bins);
	w->fp = fftw_malloc(sizeof(fftw_complex) * b->bins);
	w->fq = fftw_malloc(sizeof(fftw_complex) * b->bins);
	w->tail = malloc(sizeof(double) * 2 * b->nrc * b->L);
	return w->tin && w->tp && w->tq && w->spec && w->fp && w->fq && w->tail ? 0 : -1;
}

/* Filter spectra at the window transform size. */
static void filter_spectra(struct bss *b)
{
	int L = b->L, nrc = b->nrc, nch = b->nch;
	for (int o = 0; o < nrc; o++) {
		int e = o / nch, c = o % nch;
		for (int a = 0; a < nrc; a++) {
			memset(b->tbuf, 0, sizeof(double) * b->m);
			for (int d = 0; d < L; d++)
				b->tbuf[d] = b->filt_p[(size_t)(a * L + d) * nrc + o];
			fftw_execute_dft_r2c(b->fwd, b->tbuf, b->hp + ((size_t)o * nrc + a) * b->bins);
		}
		for (int c2 = 0; c2 < nch; c2++) {
			memset(b->tbuf, 0, sizeof(double) * b->m);
			for (int d = 0; d < L; d++)
				b->tbuf[d] = b->filt_q[((size_t)e * nch * L + c2 * L + d) * nch + c];
			fftw_execute_dft_r2c(b->fwd, b->tbuf, b->hq + ((size_t)o * nch + c2) * b->bins);
		}
	}
}

/* Whether source j of src is silent in [start, start + len): every frame's
 * channel sum exactly zero (museval's test). */
static int silent(const float *src, int nch, int64_t start, int64_t len)
{
	for (int64_t t = start; t < start + len; t++) {
		double s = 0;
		for (int c = 0; c < nch; c++)
			s += src[t * nch + c];
		if (s != 0)
			return 0;
	}
	return 1;
}

enum { E_S, E_XS, E_QS, E_Q, E_PQ, E_P, E_XP, N_ENERGY };

/* The energies of one window for every source: the references restricted
 * to [start, start + len) filtered by both sets of filters, block by block
 * (overlap-add), their output running L - 1 samples past the window. */
static void window_energies(const struct bss *b, struct wwork *w, int64_t start, int64_t len, double (*en)[N_ENERGY])
{
	int L = b->L, nrc = b->nrc, nch = b->nch, bins = b->bins;
	memset(w->tail, 0, sizeof(double) * 2 * nrc * L);
	memset(en, 0, sizeof(double) * N_ENERGY * b->nsrc);
	for (int64_t off = 0; off < len; off += b->block) {
		int nb = len - off < b->block ? (int)(len - off) : b->block;
		for (int a = 0; a < nrc; a++) {
			const float *x = b->refs[a / nch] + a % nch;
			memset(w->tin + nb, 0, sizeof(double) * (b->m - nb));
			for (int t = 0; t < nb; t++)
				w->tin[t] = x[(start + off + t) * nch];
			fftw_execute_dft_r2c(b->fwd, w->tin, w->spec + (size_t)a * bins);
		}
		for (int o = 0; o < nrc; o++) {
			int e = o / nch, c = o % nch;
			const fftw_complex *hp = b->hp + (size_t)o * nrc * bins, *hq = b->hq + (size_t)o * nch * bins;
			const fftw_complex *own = w->spec + (size_t)e * nch * bins;
			memset(w->fp, 0, sizeof(fftw_complex) * bins);
			memset(w->fq, 0, sizeof(fftw_complex) * bins);
			for (int a = 0; a < nrc; a++)
				mac((double *)w->fp, (const double *)(hp + (size_t)a * bins),
				    (const double *)(w->spec + (size_t)a * bins), bins);
			for (int c2 = 0; c2 < nch; c2++)
				mac((double *)w->fq, (const double *)(hq + (size_t)c2 * bins),
				    (const double *)(own + (size_t)c2 * bins), bins);
			fftw_execute_dft_c2r(b->inv, w->fp, w->tp);
			fftw_execute_dft_c2r(b->inv, w->fq, w->tq);
			double *tailp = w->tail + (size_t)o * L, *tailq = w->tail + (size_t)(nrc + o) * L;
			double scale = 1.0 / b->m;
			for (int t = 0; t < nb + L - 1; t++)
				w->tp[t] *= scale, w->tq[t] *= scale;
			for (int t = 0; t < L - 1; t++)
				w->tp[t] += tailp[t], w->tq[t] += tailq[t];
			memcpy(tailp, w->tp + nb, sizeof(double) * (L - 1));
			memcpy(tailq, w->tq + nb, sizeof(double) * (L - 1));
			const float *sref = b->refs[e] + c, *xest = b->ests[e] + c;
			double *acc = en[e];
			for (int t = 0; t < nb; t++) {
				int64_t at = (start + off + t) * nch;
				double s = sref[at], x = xest[at], p = w->tp[t], q = w->tq[t];
				acc[E_S] += s * s, acc[E_XS] += (x - s) * (x - s), acc[E_QS] += (q - s) * (q - s);
				acc[E_Q] += q * q, acc[E_PQ] += (p - q) * (p - q), acc[E_P] += p * p;
				acc[E_XP] += (x - p) * (x - p);
			}
		}
	}
	/* past the window: only the filters' ring-out; s and x are zero */
	for (int o = 0; o < nrc; o++) {
		const double *tailp = w->tail + (size_t)o * L, *tailq = w->tail + (size_t)(nrc + o) * L;
		double *acc = en[o / nch];
		for (int t = 0; t < L - 1; t++) {
			double p = tailp[t], q = tailq[t];
			acc[E_QS] += q * q, acc[E_Q] += q * q, acc[E_PQ] += (p - q) * (p - q);
			acc[E_P] += p * p, acc[E_XP] += p * p;
		}
	}
}

static void bss_free(struct bss *b)
{
	free(b->corr);
	free(b->pair_of);
	free(b->filt_p);
	free(b->filt_q);
	fftw_free(b->hp);
	fftw_free(b->hq);
	fftw_free(b->tbuf);
	fftw_free(b->fbuf);
	if (b->fwd)
		fftw_destroy_plan(b->fwd);
	if (b->inv)
		fftw_destroy_plan(b->inv);
}

/* The cross-correlations the fits need: every pair of reference channels,
 * every reference channel with every estimate channel. */
static int correlations(struct bss *b)
{
	int nrc = b->nrc, nsig = 2 * nrc, npairs = nrc * (nrc + 1) / 2 + nrc * nrc, p = 0;
	struct signal sig[2 * nrc];
	int(*pairs)[2] = malloc(sizeof(int[2]) * npairs);
	b->pair_of = malloc(sizeof(int) * nsig * nsig);
	b->corr = malloc(sizeof(double) * npairs * (2 * b->L - 1));
	if (!pairs || !b->pair_of || !b->corr) {
		free(pairs);
		return tf_seterr("BSS Eval: out of memory");
	}
	for (int a = 0; a < nsig; a++) {
		const float *const *src = a < nrc ? b->refs : b->ests;
		sig[a] = (struct signal){src[(a % nrc) / b->nch] + a % b->nch, b->nch};
	}
	for (int a = 0; a < nrc; a++)
		for (int y = a; y < nsig; y++) {
			pairs[p][0] = a, pairs[p][1] = y;
			b->pair_of[a * nsig + y] = p++;
		}
	int r = xcorr_lags(sig, nsig, b->frames, (const int(*)[2])pairs, npairs, b->L - 1, b->corr);
	free(pairs);
	return r;
}

/* The filters of P (all references) and of every source's Pj (its own). */
static int filters(struct bss *b, int *regularised, double *cond_all, double *cond)
{
	int nrc = b->nrc, nch = b->nch, L = b->L, chans[nrc], ecols[nrc];
	b->filt_p = malloc(sizeof(double) * nrc * L * nrc);
	b->filt_q = malloc(sizeof(double) * nrc * L * nch);
	if (!b->filt_p || !b->filt_q)
		return tf_seterr("BSS Eval: out of memory");
	for (int a = 0; a < nrc; a++)
		chans[a] = a, ecols[a] = nrc + a;
	if (fit(b, chans, nrc, ecols, nrc, b->filt_p, regularised, cond_all))
		return -1;
	for (int j = 0; j < b->nsrc; j++)
		if (fit(b, chans + j * nch, nch, ecols + j * nch, nch, b->filt_q + (size_t)j * nch * L * nch,
			regularised, &cond[j]))
			return -1;
	return 0;
}

int bss_eval(const float *const *refs, const float *const *ests, int nsrc, int channels, int64_t frames,
	     const struct bss_params *par, struct bss_scores *out)
{
	memset(out, 0, sizeof *out);
	if (nsrc < 1 || nsrc > BSS_MAX_SOURCES || channels < 1 || frames < 1 || par->window < 1 || par->hop < 1 ||
	    par->filter_len < 1 || par->filter_len > 1 << 16)
		return tf_seterr("BSS Eval: %d sources of %lld frames, window %d, hop %d, %d taps is out of range",
				 nsrc, (long long)frames, par->window, par->hop, par->filter_len);
	struct bss b = {.nsrc = nsrc, .nch = channels, .nrc = nsrc * channels, .L = par->filter_len,
			.frames = frames, .refs = refs, .ests = ests};
	int64_t nwin = bss_windows(frames, par->window, par->hop);
	int nthreads = omp_get_max_threads(), err = 0;
	if (nwin > INT32_MAX / BSS_MAX_SOURCES)
		return tf_seterr("BSS Eval: too many windows");
	out->nsrc = nsrc, out->nwin = (int)nwin;
	if (!(out->sdr = malloc(sizeof(double) * 4 * nsrc * nwin)))
		return tf_seterr("BSS Eval: out of memory");
	out->isr = out->sdr + nsrc * nwin, out->sir = out->isr + nsrc * nwin, out->sar = out->sir + nsrc * nwin;

	if (correlations(&b) || filters(&b, &out->regularised, &out->cond_all, out->cond))
		goto fail;
	free(b.corr), b.corr = NULL;

	/* transforms of at least 16 filter lengths, so that most of each is new samples */
	for (b.m = 4096; b.m < 16 * b.L; b.m *= 2)
		;
	b.bins = b.m / 2 + 1, b.block = b.m - b.L + 1;
	b.hp = fftw_malloc(sizeof(fftw_complex) * b.nrc * b.nrc * b.bins);
	b.hq = fftw_malloc(sizeof(fftw_complex) * b.nrc * b.nch * b.bins);
	b.tbuf = fftw_malloc(sizeof(double) * b.m);
	b.fbuf = fftw_malloc(sizeof(fftw_complex) * b.bins);
	if (!b.hp || !b.hq || !b.tbuf || !b.fbuf) {
		tf_seterr("BSS Eval: out of memory");
		goto fail;
	}
	b.fwd = fftw_plan_dft_r2c_1d(b.m, b.tbuf, b.fbuf, FFTW_ESTIMATE);
	b.inv = fftw_plan_dft_c2r_1d(b.m, b.fbuf, b.tbuf, FFTW_ESTIMATE);
	if (!b.fwd || !b.inv) {
		tf_seterr("BSS Eval: cannot plan a transform of %d", b.m);
		goto fail;
	}
	filter_spectra(&b);

#pragma omp parallel num_threads(nthreads)
	{
		struct wwork w = {0};
		double(*en)[N_ENERGY] = malloc(sizeof(double[N_ENERGY]) * nsrc);
		int ok = !wwork_alloc(&w, &b) && en;
		if (!ok) {
#pragma omp atomic write
			err = 1;
		}
#pragma omp for schedule(dynamic)
		for (int t = 0; t < (int)nwin; t++) {
			int64_t start = nwin == 1 ? 0 : (int64_t)t * par->hop;
			int64_t len = frames - start < par->window ? frames - start : par->window;
			int quiet = 0;
			for (int j = 0; j < nsrc && !quiet; j++)
				quiet = silent(refs[j], channels, start, len) || silent(ests[j], channels, start, len);
			if (quiet || !ok) {
				for (int j = 0; j < nsrc; j++)
					out->sdr[j * nwin + t] = out->isr[j * nwin + t] = out->sir[j * nwin + t] =
						out->sar[j * nwin + t] = NAN;
				continue;
			}
			window_energies(&b, &w, start, len, en);
			for (int j = 0; j < nsrc; j++) {
				const double *e = en[j];
				out->sdr[j * nwin + t] = energy_db(e[E_S], e[E_XS]);
				out->isr[j * nwin + t] = energy_db(e[E_S], e[E_QS]);
				out->sir[j * nwin + t] = energy_db(e[E_Q], e[E_PQ]);
				out->sar[j * nwin + t] = energy_db(e[E_P], e[E_XP]);
			}
		}
		wwork_free(&w);
		free(en);
	}
	if (err) {
		tf_seterr("BSS Eval: out of memory");
		goto fail;
	}
	bss_free(&b);
	return 0;
fail:
	bss_free(&b);
	bss_scores_free(out);
	return -1;
}
