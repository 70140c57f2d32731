/* Separation metrics (lib/metrics): BSS Eval v4 against the numbers museval
 * itself gives on the fixture signals of tests/data/eval/fixtures.py (made
 * here again, sample for sample, from the same integer recipe), the global
 * SDR and SI-SDR against numpy and on analytic cases, and the pieces: the
 * lag-limited cross-correlations, the Cholesky solver, the median. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/bsseval.h"
#include "metrics/cholesky.h"
#include "metrics/sdr.h"
#include "metrics/xcorr.h"
#include "test.h"

#define RATE 44100
#define MUSEVAL "tests/data/eval/museval.txt"
#define MAXCH 2
#define MAXSTEMS 3

/* ---- the fixture signals: fixtures.py's integer recipe, in C ---- */

static int64_t *sig_new(int64_t n)
{
	int64_t *x = calloc((size_t)n, sizeof *x);
	if (!x)
		abort();
	return x;
}

/* Not lib/rng: tests/data/eval/fixtures.py computes the same noise (a
 * splitmix64 of seed and index) for the stored museval scores, which match
 * only when the signals are bit for bit these. */
static int64_t *noise(uint64_t seed, int64_t n)
{
	int64_t *x = sig_new(n);
	for (int64_t i = 0; i < n; i++) {
		uint64_t z = ((seed << 32) + (uint64_t)i + 1) * 0x9E3779B97F4A7C15ull;
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
		z ^= z >> 31;
		x[i] = (int64_t)(z >> 48) - 32768;
	}
	return x;
}

/* In place: x = f(x), the argument consumed. */
static int64_t *lowpass(int64_t *x, int64_t n, int k)
{
	int64_t *y = sig_new(n), sum = 0;
	for (int64_t i = 0; i < n; i++) {
		sum += x[i] - (i >= (1 << k) ? x[i - (1 << k)] : 0);
		y[i] = sum >> k;
	}
	free(x);
	return y;
}

static int64_t *delay(const int64_t *x, int64_t n, int d)
{
	int64_t *y = sig_new(n);
	for (int64_t i = d; i < n; i++)
		y[i] = x[i - d];
	return y;
}

static int64_t *highpass(int64_t *x, int64_t n)
{
	int64_t *y = sig_new(n);
	for (int64_t i = 0; i < n; i++)
		y[i] = (x[i] - (i ? x[i - 1] : 0)) >> 1;
	free(x);
	return y;
}

static int64_t *tri(int64_t n, int64_t period, int64_t amp)
{
	int64_t *y = sig_new(n);
	for (int64_t i = 0; i < n; i++) {
		int64_t p = i % period;
		y[i] = 2 * p < period ? (4 * amp * p) / period - amp : 3 * amp - (4 * amp * p) / period;
	}
	return y;
}

static int64_t *gate(int64_t *x, int64_t n, int k)
{
	for (int64_t i = 0; i < n; i++)
		x[i] = (x[i] * ((1 << k) - (i & ((1 << k) - 1)))) >> k;
	return x;
}

/* y += x >> shift (x consumed) */
static int64_t *add(int64_t *y, int64_t *x, int64_t n, int shift)
{
	for (int64_t i = 0; i < n; i++)
		y[i] += x[i] >> shift;
	free(x);
	return y;
}

static int64_t *copy(const int64_t *x, int64_t n)
{
	int64_t *y = sig_new(n);
	memcpy(y, x, sizeof *y * n);
	return y;
}

static void silence(int64_t *x, int64_t a, int64_t b)
{
	memset(x + a, 0, sizeof *x * (b - a));
}

struct fixture {
	const char *name;
	int nstems, nch;
	int64_t n;
	const char *stems[MAXSTEMS];
	int64_t *r[MAXSTEMS][MAXCH], *e[MAXSTEMS][MAXCH];
	float *ref[MAXSTEMS], *est[MAXSTEMS]; /* interleaved, as a 16-bit WAV reads */
};

static void case_three(struct fixture *f)
{
	int64_t n = 6 * RATE;
	*f = (struct fixture){.name = "three", .nstems = 3, .nch = 2, .n = n, .stems = {"bass", "drums", "vocals"}};
	for (int c = 0; c < 2; c++) {
		int64_t *lp = lowpass(noise(10 + c, n), n, 5);
		for (int64_t i = 0; i < n; i++)
			lp[i] *= 2;
		f->r[0][c] = add(add(lp, tri(n, 200 + 3 * c, 6000), n, 0), noise(15 + c, n), n, 6);
		f->r[1][c] = add(gate(highpass(noise(20 + c, n), n), n, 14), noise(25 + c, n), n, 6);
		f->r[2][c] = add(add(tri(n, 100 + c, 5000), lowpass(noise(30 + c, n), n, 2), n, 1), noise(35 + c, n),
				 n, 6);
		silence(f->r[2][c], 3 * RATE, 4 * RATE);
	}
	for (int c = 0; c < 2; c++) {
		f->e[0][c] = add(add(copy(f->r[0][c], n), copy(f->r[1][c], n), n, 3), noise(40 + c, n), n, 5);
		f->e[1][c] = sig_new(n);
		int64_t *d = delay(f->r[1][c], n, 1);
		for (int64_t i = 0; i < n; i++)
			f->e[1][c][i] = (f->r[1][c][i] + d[i]) >> 1;
		free(d);
		add(add(f->e[1][c], copy(f->r[2][c], n), n, 4), noise(50 + c, n), n, 5);
		f->e[2][c] = add(add(delay(f->r[2][c], n, 5), copy(f->r[0][c], n), n, 4), noise(60 + c, n), n, 4);
	}
	add(f->e[0][1], copy(f->r[0][0], n), n, 3);
}

static void case_mono(struct fixture *f)
{
	int64_t n = 9 * RATE / 2;
	*f = (struct fixture){.name = "mono", .nstems = 2, .nch = 1, .n = n, .stems = {"other", "vocals"}};
	f->r[0][0] = add(add(lowpass(noise(110, n), n, 3), tri(n, 147, 4000), n, 0), noise(111, n), n, 6);
	f->r[1][0] = add(gate(noise(120, n), n, 13), noise(121, n), n, 6);
	f->e[0][0] = add(add(copy(f->r[0][0], n), copy(f->r[1][0], n), n, 2), noise(130, n), n, 5);
	int64_t *e1 = copy(f->r[1][0], n);
	for (int64_t i = 0; i < n; i++)
		e1[i] -= f->r[1][0][i] >> 3;
	f->e[1][0] = add(add(e1, copy(f->r[0][0], n), n, 3), noise(140, n), n, 5);
	silence(f->e[1][0], RATE, 2 * RATE);
}

static void case_short(struct fixture *f)
{
	int64_t n = RATE / 2;
	*f = (struct fixture){.name = "short", .nstems = 2, .nch = 2, .n = n, .stems = {"drums", "other"}};
	for (int c = 0; c < 2; c++) {
		f->r[0][c] = add(tri(n, 90 + c, 7000), noise(210 + c, n), n, 5);
		int64_t *lp = lowpass(noise(220 + c, n), n, 1);
		for (int64_t i = 0; i < n; i++)
			lp[i] >>= 1;
		f->r[1][c] = add(lp, noise(225 + c, n), n, 6);
	}
	for (int c = 0; c < 2; c++) {
		f->e[0][c] = add(add(copy(f->r[0][c], n), copy(f->r[1][c], n), n, 2), noise(230 + c, n), n, 6);
		f->e[1][c] = add(add(delay(f->r[1][c], n, 2), copy(f->r[0][1 - c], n), n, 3), noise(240 + c, n), n, 5);
	}
}

static float *interleave(int64_t *const *ch, int nch, int64_t n)
{
	float *x = malloc(sizeof *x * n * nch);
	if (!x)
		abort();
	for (int64_t i = 0; i < n; i++)
		for (int c = 0; c < nch; c++) {
			int64_t v = ch[c][i] < -32768 ? -32768 : ch[c][i] > 32767 ? 32767 : ch[c][i];
			x[i * nch + c] = (float)v / 32768;
		}
	return x;
}

static void fixture_make(struct fixture *f, void (*make)(struct fixture *))
{
	make(f);
	for (int j = 0; j < f->nstems; j++) {
		f->ref[j] = interleave(f->r[j], f->nch, f->n);
		f->est[j] = interleave(f->e[j], f->nch, f->n);
		for (int c = 0; c < f->nch; c++)
			free(f->r[j][c]), free(f->e[j][c]);
	}
}

static void fixture_free(struct fixture *f)
{
	for (int j = 0; j < f->nstems; j++)
		free(f->ref[j]), free(f->est[j]);
}

/* ---- museval's numbers ---- */

static const char *metric_names[4] = {"SDR", "ISR", "SIR", "SAR"};

struct worst {
	double diff;
	char where[160];
	int nan_mismatch, count;
};

static void note(struct worst *w, double got, double want, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void note(struct worst *w, double got, double want, const char *fmt, ...)
{
	w->count++;
	if (isnan(got) != isnan(want) || (isinf(want) && got != want)) {
		w->nan_mismatch++;
		w->diff = INFINITY;
	} else if (isfinite(want) && fabs(got - want) > w->diff) {
		w->diff = fabs(got - want);
	} else {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(w->where, sizeof w->where, fmt, ap);
	va_end(ap);
	snprintf(w->where + k, sizeof w->where - k, " (got %.6f, museval %.6f)", got, want);
}

static void against_museval(struct fixture *f, FILE *data)
{
	struct bss_params p = {RATE, RATE, 512};
	struct bss_scores s;
	const float *refs[MAXSTEMS], *ests[MAXSTEMS];
	for (int j = 0; j < f->nstems; j++)
		refs[j] = f->ref[j], ests[j] = f->est[j];
	if (!ok(!bss_eval(refs, ests, f->nstems, f->nch, f->n, &p, &s), "%s: bss_eval runs", f->name))
		return;
	ok(s.nwin == bss_windows(f->n, RATE, RATE) && !s.regularised, "%s: %d windows, no regularisation", f->name,
	   s.nwin);
	struct worst win = {0}, med = {0}, glob = {0};
	char line[512], kind[16], name[32], stem[32];
	rewind(data);
	while (fgets(line, sizeof line, data)) {
		double v[4];
		int t, j, nread;
		if (sscanf(line, "%15s %31s %31s %n", kind, name, stem, &nread) != 3 || strcmp(name, f->name))
			continue;
		for (j = 0; j < f->nstems && strcmp(f->stems[j], stem); j++)
			;
		if (j == f->nstems) {
			ok(0, "%s: %s names an unknown stem %s", f->name, MUSEVAL, stem);
			continue;
		}
		const char *rest = line + nread;
		double *m[4] = {s.sdr + j * s.nwin, s.isr + j * s.nwin, s.sir + j * s.nwin, s.sar + j * s.nwin};
		if (!strcmp(kind, "window") && sscanf(rest, "%d %lf %lf %lf %lf", &t, &v[0], &v[1], &v[2], &v[3]) == 5 &&
		    t >= 0 && t < s.nwin) {
			for (int k = 0; k < 4; k++)
				note(&win, m[k][t], v[k], "%s %s window %d %s", f->name, stem, t, metric_names[k]);
		} else if (!strcmp(kind, "median") && sscanf(rest, "%lf %lf %lf %lf", &v[0], &v[1], &v[2], &v[3]) == 4) {
			for (int k = 0; k < 4; k++)
				note(&med, bss_median(m[k], s.nwin), v[k], "%s %s median %s", f->name, stem,
				     metric_names[k]);
		} else if (!strcmp(kind, "global") && sscanf(rest, "%lf %lf", &v[0], &v[1]) == 2) {
			size_t n = (size_t)f->n * f->nch;
			note(&glob, global_sdr(f->ref[j], f->est[j], n), v[0], "%s %s global SDR", f->name, stem);
			note(&glob, si_sdr(f->ref[j], f->est[j], n), v[1], "%s %s SI-SDR", f->name, stem);
		}
	}
	ok(win.count == 4 * f->nstems * s.nwin && !win.nan_mismatch && win.diff <= 0.01,
	   "%s: %d per-window values within 0.01 dB of museval: largest difference %.2g dB at %s", f->name, win.count,
	   win.diff, win.where);
	ok(med.count == 4 * f->nstems && !med.nan_mismatch && med.diff <= 0.01,
	   "%s: medians within 0.01 dB of museval: largest difference %.2g dB at %s", f->name, med.diff, med.where);
	ok(glob.count == 2 * f->nstems && !glob.nan_mismatch && glob.diff <= 1e-6,
	   "%s: global SDR and SI-SDR within 1e-6 dB of numpy: largest difference %.2g dB at %s", f->name,
	   glob.diff, glob.where);
	bss_scores_free(&s);
}

/* ---- analytic cases and the pieces ---- */

static double urand(void)
{
	return rng_uniform(fixed_rng()) * 2 - 1;
}

static void test_sdr_analytic(void)
{
	enum { N = 20000 };
	static float s[N], x[N], z[N];
	for (int i = 0; i < N; i++)
		s[i] = (float)(0.5 * urand()), x[i] = 0.25f * s[i];
	ok(isinf(si_sdr(s, x, N)) && si_sdr(s, x, N) > 0, "SI-SDR of a scaled copy is +inf");
	ok(global_sdr(s, s, N) > 60, "global SDR of an exact copy is finite and large: %.2f dB",
	   global_sdr(s, s, N));
	/* the reference 0.5 everywhere, the error +-0.05: 20 dB, up to delta */
	for (int i = 0; i < N; i++)
		s[i] = 0.5f, x[i] = 0.5f + (i % 2 ? 0.05f : -0.05f);
	double num = 0, den = 0;
	for (int i = 0; i < N; i++)
		num += (double)s[i] * s[i], den += ((double)s[i] - x[i]) * ((double)s[i] - x[i]);
	double want = 10 * log10((num + 1e-7) / (den + 1e-7));
	ok(fabs(global_sdr(s, x, N) - want) < 1e-9 && fabs(want - 20) < 1e-4,
	   "global SDR with a known noise power: %.6f dB (want %.6f, about 20)", global_sdr(s, x, N), want);
	/* the estimate is orthogonal to the reference there: the scale is 0.5 */
	ok(fabs(si_sdr(s, x, N) - 20) < 1e-4, "SI-SDR of an offset plus orthogonal noise: %.6f dB", si_sdr(s, x, N));
	ok(global_sdr(z, z, N) == 0, "global SDR of silence against silence is 0 dB (the delta)");
	ok(fabs(global_sdr(z, s, N) - 10 * log10(1e-7 / (N * 0.25 + 1e-7))) < 1e-9,
	   "global SDR of a silent reference: %.2f dB", global_sdr(z, s, N));
	ok(isnan(si_sdr(z, s, N)), "SI-SDR of a silent reference is NaN");
	ok(isnan(si_sdr(s, z, N)), "SI-SDR of a silent (all-zero) estimate is NaN, not +inf (0/0)");
	for (int i = 0; i < N; i++) /* x orthogonal to s: nothing of s in it */
		x[i] = (i / 2) % 2 ? s[i] : -s[i];
	double orth = si_sdr(s, x, N);
	ok(isinf(orth) && orth < 0, "SI-SDR of an estimate orthogonal to the reference is -inf (%g)", orth);
}

static void test_median(void)
{
	double a[] = {3, NAN, 1, INFINITY, 2, -INFINITY}, b[] = {4, 1, NAN, 3, 2}, c[] = {NAN, INFINITY};
	ok(bss_median(a, 6) == 2, "median of 1 2 3 with NaN and infinities left out: %g", bss_median(a, 6));
	ok(bss_median(b, 5) == 2.5, "median of an even count is the mean of the middle two: %g", bss_median(b, 5));
	ok(isnan(bss_median(c, 2)) && isnan(bss_median(c, 0)), "median of nothing finite is NaN");
	ok(bss_windows(6 * RATE, RATE, RATE) == 6 && bss_windows(6 * RATE - 1, RATE, RATE) == 5 &&
		   bss_windows(100, RATE, RATE) == 1 && bss_windows(10 * RATE, 2 * RATE, RATE) == 9,
	   "museval's window counts");
}

static void test_xcorr(void)
{
	enum { N = 30011, CH = 2, LAG = 37 };
	static float x[N * CH], y[N];
	for (int i = 0; i < N * CH; i++)
		x[i] = (float)urand();
	for (int i = 0; i < N; i++)
		y[i] = (float)urand();
	struct signal sig[3] = {{x, CH}, {x + 1, CH}, {y, 1}};
	int pairs[4][2] = {{0, 0}, {0, 1}, {1, 2}, {2, 0}};
	double r[4 * (2 * LAG + 1)], worst = 0;
	ok(!xcorr_lags(sig, 3, N, (const int(*)[2])pairs, 4, LAG, r), "xcorr_lags runs");
	for (int p = 0; p < 4; p++)
		for (int k = -LAG; k <= LAG; k++) {
			double s = 0;
			for (int m = 0; m < N; m++)
				if (m + k >= 0 && m + k < N)
					s += (double)sig[pairs[p][0]].x[m * sig[pairs[p][0]].stride] *
					     sig[pairs[p][1]].x[(m + k) * sig[pairs[p][1]].stride];
			double d = fabs(r[p * (2 * LAG + 1) + LAG + k] - s);
			worst = d > worst ? d : worst;
		}
	ok(worst < 1e-9, "cross-correlations at lags -%d..%d match direct sums: largest difference %.2g", LAG, LAG,
	   worst);
}

static void test_cholesky(void)
{
	enum { N = 300, K = 320, R = 3 };
	double *B = malloc(sizeof(double) * N * K), *A = calloc(N * N, sizeof(double)), *F = malloc(sizeof(double) * N * N),
	       *G = malloc(sizeof(double) * N * N), x[N * R], rhs[N * R];
	for (int i = 0; i < N * K; i++)
		B[i] = urand();
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			for (int k = 0; k < K; k++)
				A[i * N + j] += B[i * K + k] * B[j * K + k];
	memcpy(F, A, sizeof(double) * N * N);
	memcpy(G, A, sizeof(double) * N * N);
	ok(!cholesky_factor(F, N) && !cholesky_factor_ref(G, N), "Cholesky factors an SPD matrix");
	double worst = 0;
	for (int i = 0; i < N; i++)
		for (int j = 0; j <= i; j++)
			worst = fmax(worst, fabs(F[i * N + j] - G[i * N + j]));
	ok(worst < 1e-9, "blocked Cholesky matches the plain one: %.2g", worst);
	for (int i = 0; i < N * R; i++)
		x[i] = urand();
	for (int i = 0; i < N; i++)
		for (int r = 0; r < R; r++) {
			double s = 0;
			for (int j = 0; j < N; j++)
				s += A[i * N + j] * x[j * R + r];
			rhs[i * R + r] = s;
		}
	cholesky_solve(F, N, rhs, R);
	worst = 0;
	for (int i = 0; i < N * R; i++)
		worst = fmax(worst, fabs(rhs[i] - x[i]));
	ok(worst < 1e-8, "Cholesky solve recovers x from A x: %.2g", worst);
	memcpy(F, A, sizeof(double) * N * N);
	F[5 * N + 5] = -1;
	ok(cholesky_factor(F, N) == 6, "an indefinite matrix is reported at its first bad pivot");
	free(A), free(B), free(F), free(G);
}

int main(void)
{
	FILE *data = fopen(MUSEVAL, "r");
	if (!ok(data != NULL, "%s opens", MUSEVAL))
		return test_done();
	void (*cases[])(struct fixture *) = {case_three, case_mono, case_short};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct fixture f;
		fixture_make(&f, cases[i]);
		against_museval(&f, data);
		fixture_free(&f);
	}
	fclose(data);
	test_sdr_analytic();
	test_median();
	test_xcorr();
	test_cholesky();
	return test_done();
}
