/* bfloat16 products: every path this CPU runs (AVX512-BF16, plain C from
 * the packed weights) against the reference from the unpacked ones, bit for
 * bit, over odd sizes and tails, with and without accumulation, and with
 * values small enough that inputs, products and sums fall below the
 * smallest normal float (flushed as vdpbf16ps flushes them, products
 * not); the rounding
 * of rows to bf16 (ties to even, subnormals to zero, NaN quiet, padding)
 * equal on every path; and the sums against exact ones within the bound
 * that bf16 inputs allow. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels/bgemm.h"
#include "test.h"

static uint32_t next(void)
{
	return (uint32_t)(rng_next(fixed_rng()) >> 32);
}

static float unit(void) /* [-1, 1) */
{
	return (float)next() / 2147483648.0f - 1.0f;
}

static float bits_f(uint32_t b)
{
	float f;
	memcpy(&f, &b, sizeof f);
	return f;
}

static float widen(uint16_t h)
{
	return bits_f((uint32_t)h << 16);
}

/* A random value: fill 0 in [-1, 1); fill 1 with exponents from 2^-70 to
 * 2^4, so that products and sums underflow now and then. */
static const char *const names[] = {"scalar", "avx512bf16"};

static float value(int fill)
{
	float v = unit();
	return fill ? ldexpf(v, -(int)(next() % 75) + 4) : v;
}

/* One product M x N x K on every path against the reference. Returns the
 * number of mismatching values; *paths_run counts the paths taken. */
static long compare_paths(int M, int N, int K, int fill, int *paths_run)
{
	int Kp = (K + 1) & ~1, lda = Kp + 6, ldx = K + 3, ldw = K + 1, ldc = N + 5;
	float *x = malloc((size_t)M * ldx * sizeof *x), *wf = malloc((size_t)N * ldw * sizeof *wf);
	uint16_t *a = malloc((size_t)M * lda * sizeof *a), *w = malloc((size_t)N * ldw * sizeof *w);
	float *want = malloc((size_t)M * ldc * sizeof *want), *got = malloc((size_t)M * ldc * sizeof *got);
	long bad = 0;
	for (size_t i = 0; i < (size_t)M * ldx; i++)
		x[i] = value(fill);
	for (size_t i = 0; i < (size_t)N * ldw; i++)
		wf[i] = value(fill), w[i] = bf16_round(wf[i]);
	struct bmat W;
	if (bmat_init(&W, wf, ldw, N, K)) {
		ok(0, "bmat_init %dx%d: %s", N, K, tf_strerror());
		return 1;
	}
	for (int p = 0; p < 2; p++) {
		/* the rows as this path rounds them: the same as the plain path's */
		for (size_t i = 0; i < (size_t)M * lda; i++)
			a[i] = 0xdead;
		if (bf16_rows_path((enum bgemm_path)p, a, lda, x, ldx, M, K, Kp))
			continue;
		for (int m = 0; m < M; m++)
			for (int k = 0; k < Kp; k++)
				bad += a[(size_t)m * lda + k] != (k < K ? bf16_round(x[(size_t)m * ldx + k]) : 0);
		for (int acc = 0; acc < 2; acc++) {
			for (size_t i = 0; i < (size_t)M * ldc; i++)
				want[i] = got[i] = acc ? value(fill) : NAN; /* not read without acc */
			bgemm_ref(M, N, K, a, lda, w, ldw, acc, want, ldc);
			bgemm_path((enum bgemm_path)p, M, a, lda, &W, acc, got, ldc);
			if (memcmp(want, got, (size_t)M * ldc * sizeof *got)) {
				bad++;
				for (size_t i = 0; i < (size_t)M * ldc; i++)
					if (memcmp(&want[i], &got[i], sizeof *got)) {
						printf("# %s %dx%dx%d fill %d acc %d: first difference at [%zu][%zu]: "
						       "%a, want %a\n", names[p], M, N, K, fill, acc, i / ldc, i % ldc,
						       got[i], want[i]);
						break;
					}
			}
		}
		(*paths_run)++;
	}
	bmat_free(&W);
	free(x), free(wf), free(a), free(w), free(want), free(got);
	return bad;
}

static void test_paths(void)
{
	static const int sizes[][3] = {{1, 1, 1},    {1, 16, 2},    {3, 5, 7},      {8, 32, 64},  {9, 17, 33},
				       {13, 33, 31}, {17, 48, 96},  {130, 47, 129}, {200, 40, 77}, {7, 100, 513},
				       {129, 31, 3}, {16, 256, 1024}};
	int n = (int)(sizeof sizes / sizeof *sizes), run = 0;
	long bad = 0;
	for (int fill = 0; fill < 2; fill++)
		for (int i = 0; i < n; i++)
			bad += compare_paths(sizes[i][0], sizes[i][1], sizes[i][2], fill, &run);
	ok(bad == 0 && run >= 2 * n, "%d products (odd sizes, tails, small values) on %d path runs: all equal to the "
	   "reference bit for bit (%ld differ); this CPU runs %s", 2 * n, run, bad, bgemm_kernel_name());
}

/* Rounding to bf16 as vcvtne2ps2bf16 does, on every path. */
static void test_rounding(void)
{
	ok(bf16_round(1.0f + 0x1p-8f) == 0x3f80 && bf16_round(1.0f + 3 * 0x1p-8f) == 0x3f82 &&
		   bf16_round(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81,
	   "ties to even: 1+2^-8 -> %04x, 1+3*2^-8 -> %04x", bf16_round(1.0f + 0x1p-8f),
	   bf16_round(1.0f + 3 * 0x1p-8f));
	ok(bf16_round(bits_f(0x00400000)) == 0x0000 && bf16_round(bits_f(0x807fffff)) == 0x8000 &&
		   bf16_round(FLT_MIN) == 0x0080 && bf16_round(-INFINITY) == 0xff80 &&
		   bf16_round(bits_f(0x7f800001)) == 0x7fc0,
	   "subnormals to zero of their sign, FLT_MIN kept, infinity kept, a signalling NaN made quiet");
	/* random bit patterns (every class of float), odd row lengths */
	enum { M = 5, K = 77, KP = 78, LDX = 80 };
	static float x[M * LDX];
	static uint16_t a[2][M * KP];
	for (int i = 0; i < M * LDX; i++)
		x[i] = bits_f(next() & (i % 3 ? 0xffffffffu : 0x807fffffu));
	int run = 0;
	long bad = 0;
	for (int p = 0; p < 2; p++)
		if (!bf16_rows_path((enum bgemm_path)p, a[p], KP, x, LDX, M, K, KP))
			run++;
	for (int i = 0; i < M * KP; i++) {
		int k = i % KP;
		uint16_t want = k < K ? bf16_round(x[i / KP * LDX + k]) : 0;
		bad += a[0][i] != want || (run > 1 && a[1][i] != want);
	}
	ok(bad == 0 && run >= 1, "%d paths round %d random bit patterns as vcvtne2ps2bf16 does (%ld differ)", run,
	   M * K, bad);
}

/* Against exact sums of the unrounded inputs: each input is off by at
 * most 2^-8 relative, so a product by at most 2^-7 (plus 2^-16), and the
 * f32 sum of 2K terms adds at most 2K * 2^-24 of the sum of |terms|:
 * |C - exact| <= (2^-7 + 2^-16 + 2K * 2^-24) * sum |x w|. */
static void test_accuracy(void)
{
	enum { M = 37, N = 29, K = 301 };
	static float x[M * K], wf[N * K], c[M * N];
	static uint16_t a[M * K + M];
	for (int i = 0; i < M * K; i++)
		x[i] = unit() * 3;
	for (int i = 0; i < N * K; i++)
		wf[i] = unit() * 0.1f;
	struct bmat W;
	if (!ok(bmat_init(&W, wf, K, N, K) == 0, "bmat_init"))
		return;
	int Kp = W.Kp;
	bf16_rows(a, Kp, x, K, M, K, Kp);
	bgemm(M, a, Kp, &W, 0, c, N);
	double worst = 0, worst_rel = 0;
	for (int m = 0; m < M; m++)
		for (int n = 0; n < N; n++) {
			double s = 0, mag = 0;
			for (int k = 0; k < K; k++)
				s += (double)x[m * K + k] * wf[n * K + k], mag += fabs((double)x[m * K + k] * wf[n * K + k]);
			double err = fabs(c[m * N + n] - s), bound = (0x1p-7 + 0x1p-16 + 2.0 * K * 0x1p-24) * mag;
			worst = err / bound > worst ? err / bound : worst;
			worst_rel = err / mag > worst_rel ? err / mag : worst_rel;
		}
	ok(worst <= 1.0, "%dx%dx%d against exact sums: largest error %.3g of sum |x w| (bound %.3g): %.2f of the bound",
	   M, N, K, worst_rel, 0x1p-7 + 0x1p-16 + 2.0 * K * 0x1p-24, worst);
	bmat_free(&W);
}

/* The flushes one by one, on every path: a subnormal accumulator, product,
 * input and result each count as zero. */
static void test_flushes(void)
{
	/* four rows, one output channel, K = 4: pairs (k0, k1), (k2, k3) */
	static const float xs[4][4] = {
		{1.0f, 0, 1e-20f, 0},   /* 1*1 + 1e-20*1e-20 (a product below FLT_MIN) */
		{0, 0, 1e-20f, 0},      /* a lone subnormal product: a subnormal sum, 0 */
		{0x1p-130f, 0, 0, 0},   /* a subnormal input (rounded to 0 already) */
		{0x1p-125f, 0, -0x1p-126f * 1.5f, 0}, /* 2^-125 - 1.5 2^-126: subnormal sum */
	};
	static const float ws[4] = {1.0f, 0, 1e-20f, 0};
	float x[16], c[2][4];
	uint16_t a[16];
	for (int i = 0; i < 16; i++)
		x[i] = xs[i / 4][i % 4];
	float w[4] = {ws[0], ws[1], ws[2], ws[3]};
	/* row 3: its third weight must be 1 to make the subnormal sum */
	struct bmat W, W3;
	int run = 0, good = 1;
	if (bmat_init(&W, w, 4, 1, 4))
		return (void)ok(0, "bmat_init");
	w[2] = 1.0f;
	if (bmat_init(&W3, w, 4, 1, 4))
		return (void)ok(0, "bmat_init");
	for (int p = 0; p < 2; p++) {
		if (bf16_rows_path((enum bgemm_path)p, a, 4, x, 4, 4, 4, 4))
			continue;
		bgemm_path((enum bgemm_path)p, 3, a, 4, &W, 0, c[p], 1);
		bgemm_path((enum bgemm_path)p, 1, a + 12, 4, &W3, 0, c[p] + 3, 1);
		good &= c[p][0] == 1.0f && c[p][1] == 0.0f && c[p][2] == 0.0f && c[p][3] == 0.0f;
		run++;
	}
	ok(good && run >= 1, "flushes on %d paths: 1 + a product below FLT_MIN = %g, a lone one %g, a subnormal "
	   "input %g, a subnormal sum %g (want 1 0 0 0)", run, c[0][0], c[0][1], c[0][2], c[0][3]);
	bmat_free(&W), bmat_free(&W3);
}

static void test_errors(void)
{
	struct bmat W;
	float w = 1;
	int rc = bmat_init(&W, &w, 1, 0, 1);
	const char *e = tf_strerror();
	ok(rc < 0 && strstr(e, "out of range"), "a product with N = 0 refused: %s", e);
	ok(widen(bf16_round(-2.5f)) == -2.5f, "exact values unchanged");
}

int main(void)
{
	printf("# bgemm path: %s; bf16 models compute in %s\n", bgemm_kernel_name(), bgemm_wanted() ? "bf16" : "f32");
	test_rounding();
	test_paths();
	test_flushes();
	test_accuracy();
	test_errors();
	return test_done();
}
