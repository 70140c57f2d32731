/* Every fast kernel against its plain reference twin. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/activation.h"
#include "kernels/conv.h"
#include "kernels/fastexp.h"
#include "cpu.h"
#if SIMD_X86
#include "kernels/exp2_avx2.h"
#endif
#include "kernels/gemm.h"
#include "kernels/norm.h"
#include "kernels/resize.h"
#include "test.h"

static float frand(void) /* uniform in [-1, 1) */
{
	return (float)rng_uniform(fixed_rng()) * 2.0f - 1.0f;
}

static float *randv(size_t n)
{
	float *v = malloc((n ? n : 1) * sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = frand();
	return v;
}

static void test_gemm(void)
{
	static const int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {64, 96, 32}, {257, 33, 129}, {1000, 128, 32}};
	char what[128];
	for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
		int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
		float *A = randv((size_t)M * K), *B = randv((size_t)N * K), *C0 = randv((size_t)M * N);
		float *C1 = malloc((size_t)M * N * sizeof(float)), *C2 = malloc((size_t)M * N * sizeof(float));
		for (int beta = 0; beta < 2; beta++) {
			memcpy(C1, C0, (size_t)M * N * sizeof(float)), memcpy(C2, C0, (size_t)M * N * sizeof(float));
			gemm_nt(M, N, K, A, K, B, K, (float)beta, C1, N);
			gemm_nt_ref(M, N, K, A, K, B, K, (float)beta, C2, N);
			snprintf(what, sizeof what, "gemm_nt %dx%dx%d beta %d vs reference", M, N, K, beta);
			check_close(what, C1, C2, (size_t)M * N, 1e-5 * K);
			/* B as [K][N] */
			gemm_nn(M, N, K, A, K, B, N, (float)beta, C1, N);
			gemm_nn_ref(M, N, K, A, K, B, N, (float)beta, C2, N);
			snprintf(what, sizeof what, "gemm_nn %dx%dx%d beta %d vs reference", M, N, K, beta);
			check_close(what, C1, C2, (size_t)M * N, 1e-5 * K);
			/* A as [K][M] */
			gemm_tn(M, N, K, A, M, B, N, (float)beta, C1, N);
			gemm_tn_ref(M, N, K, A, M, B, N, (float)beta, C2, N);
			snprintf(what, sizeof what, "gemm_tn %dx%dx%d beta %d vs reference", M, N, K, beta);
			check_close(what, C1, C2, (size_t)M * N, 1e-5 * K);
		}
		free(A), free(B), free(C0), free(C1), free(C2);
	}
}

static void test_conv(void)
{
	static const int cases[][6] = {/* H, W, Ci, Co, k, stride/pad code */
				       {9, 7, 2, 8, 7, 0}, {16, 16, 8, 16, 4, 1}, {37, 29, 8, 16, 4, 1},
				       {5, 6, 3, 4, 3, 2}, {10, 11, 16, 3, 1, 3}, {2, 3, 4, 4, 4, 1}};
	static const int sp[][2] = {{1, 3}, {2, 1}, {1, 1}, {1, 0}};
	char what[128];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		int H = cases[i][0], W = cases[i][1], Ci = cases[i][2], Co = cases[i][3], k = cases[i][4];
		int stride = sp[cases[i][5]][0], pad = sp[cases[i][5]][1];
		int Ho = conv_out_size(H, k, stride, pad), Wo = conv_out_size(W, k, stride, pad);
		float *in = randv((size_t)H * W * Ci), *w = randv((size_t)Co * Ci * k * k), *b = randv((size_t)Co);
		float *wp = malloc((size_t)Co * Ci * k * k * sizeof(float)),
		      *o1 = calloc((size_t)Ho * Wo * Co + 1, sizeof(float)),
		      *o2 = calloc((size_t)Ho * Wo * Co + 1, sizeof(float));
		float *scratch = malloc((conv2d_scratch_floats(Wo, Ho, Ci, k) + 1) * sizeof(float));
		conv2d_weight_prepare(wp, w, Co, Ci, k);
		/* in two pieces of rows, as the threads split it */
		conv2d_rows(o1, in, wp, b, H, W, Ci, Co, k, stride, pad, 0, Ho / 2, scratch);
		conv2d_rows(o1, in, wp, b, H, W, Ci, Co, k, stride, pad, Ho / 2, Ho, scratch);
		conv2d_ref(o2, in, w, b, H, W, Ci, Co, k, stride, pad);
		snprintf(what, sizeof what, "conv2d %dx%dx%d -> %d, k%d s%d p%d vs reference", H, W, Ci, Co, k,
			 stride, pad);
		check_close(what, o1, o2, (size_t)Ho * Wo * Co, 1e-5);
		free(in), free(w), free(b), free(wp), free(o1), free(o2), free(scratch);
	}
	static const int tcases[][4] = {{4, 4, 16, 8}, {9, 7, 24, 16}, {1, 1, 3, 5}, {5, 8, 32, 32}};
	for (size_t i = 0; i < sizeof tcases / sizeof *tcases; i++) {
		int H = tcases[i][0], W = tcases[i][1], Ci = tcases[i][2], Co = tcases[i][3];
		size_t no = (size_t)4 * H * W * Co;
		float *in = randv((size_t)H * W * Ci), *w = randv((size_t)Ci * Co * 16), *b = randv((size_t)Co);
		float *wp = malloc((size_t)Ci * Co * 16 * sizeof(float)), *o1 = malloc(no * sizeof(float)),
		      *o2 = malloc(no * sizeof(float));
		float *scratch = malloc(convt4s2_scratch_floats(W, Ci) * sizeof(float));
		convt4s2_weight_prepare(wp, w, Ci, Co);
		for (int m = 0; m < H; m++)
			convt4s2_rows(o1, in, wp, b, H, W, Ci, Co, m, m + 1, scratch);
		convt4s2_ref(o2, in, w, b, H, W, Ci, Co);
		snprintf(what, sizeof what, "conv_transpose 4/2/1 %dx%dx%d -> %d vs reference", H, W, Ci, Co);
		check_close(what, o1, o2, no, 1e-5);
		free(in), free(w), free(b), free(wp), free(o1), free(o2), free(scratch);
	}
}

static void test_norm_act(void)
{
	size_t rows = 333;
	int C = 48;
	float *x = randv(rows * C), *w = randv((size_t)C), *b = randv((size_t)C);
	float *o1 = malloc(rows * C * sizeof(float)), *o2 = malloc(rows * C * sizeof(float));
	for (size_t i = 0; i < rows * C; i++)
		x[i] = x[i] * 3 + (float)(i % C) * 0.1f; /* non-zero means */
	layernorm_forward(o1, x, w, b, rows, C);
	layernorm_ref(o2, x, w, b, rows, C);
	check_close("layernorm vs reference", o1, o2, rows * C, 2e-6);
	/* rows of 20: a partial vector per row */
	layernorm_forward(o1, x, w, b, rows, 20);
	layernorm_ref(o2, x, w, b, rows, 20);
	check_close("layernorm vs reference, 20 channels", o1, o2, rows * 20, 2e-6);
	/* a row's result does not depend on where it falls in a call (threads
	 * split rows differently; calibration must not see the difference) */
	layernorm_forward(o1, x, w, b, rows, C);
	for (size_t r0 = 0; r0 < rows; r0 += 7)
		layernorm_forward(o2 + r0 * C, x + r0 * C, w, b, rows - r0 < 7 ? rows - r0 : 7, C);
	ok(!memcmp(o1, o2, rows * C * sizeof *o1), "layernorm: %zu rows in one call = in calls of 7, bit for bit",
	   rows);
	/* every path this CPU runs, 8 and 48 channels: against the
	 * reference, and a row's bits independent of the rows around it */
	for (int path = SIMD_PLAIN; path <= SIMD_AVX512; path++)
		for (int cc = 8; cc <= 48; cc += 40) {
			if (layernorm_forward_path(path, o1, x, w, b, rows, cc) < 0)
				break;
			layernorm_ref(o2, x, w, b, rows, cc);
			char what[100];
			snprintf(what, sizeof what, "layernorm, %s path, %d channels, vs reference", simd_path_name(path), cc);
			check_close(what, o1, o2, rows * cc, 2e-6);
			for (size_t r0 = 0; r0 < rows; r0 += 7)
				layernorm_forward_path(path, o2 + r0 * cc, x + r0 * cc, w, b, rows - r0 < 7 ? rows - r0 : 7, cc);
			ok(!memcmp(o1, o2, rows * cc * sizeof *o1),
			   "layernorm, %s path, %d channels: %zu rows in one call = in calls of 7, bit for bit",
			   simd_path_name(path), cc, rows);
		}
	/* rows of 8, two to a vector: the same bits as the general AVX-512
	 * code, for every row count up to two groups of 16 (tails), with
	 * a row of zeros and one of -0 among them */
	if (layernorm_rows16(o1, x, w, b, 1, 8) == 0) {
		long differ = 0;
		for (int i = 0; i < 8; i++)
			x[3 * 8 + i] = 0.0f, x[5 * 8 + i] = -0.0f;
		for (size_t n = 1; n <= 33; n++) {
			layernorm_forward(o1, x, w, b, n, 8);
			layernorm_rows16(o2, x, w, b, n, 8);
			differ += memcmp(o1, o2, n * 8 * sizeof *o1) != 0;
		}
		layernorm_forward(o1, x, w, b, rows, 8);
		layernorm_rows16(o2, x, w, b, rows, 8);
		differ += memcmp(o1, o2, rows * 8 * sizeof *o1) != 0;
		ok(differ == 0, "layernorm, 8 channels two rows to a vector = the general AVX-512 code, bit for bit "
				"(%ld row counts differ)", differ);
		layernorm_ref(o2, x, w, b, rows, 8);
		check_close("layernorm vs reference, 8 channels", o1, o2, rows * 8, 2e-6);
	}

	size_t n = 200001; /* not a multiple of 8 or 16: the partial vector too */
	float *g1 = malloc(n * sizeof(float)), *g2 = malloc(n * sizeof(float));
	float *h1 = malloc(rows * C * sizeof(float)), *h2 = malloc(rows * C * sizeof(float));
	float *h0 = randv(rows * C);
	for (size_t i = 0; i < n; i++)
		g2[i] = -12.0f + 24.0f * (float)i / (float)(n - 1);
	gelu_ref(g2, n);
	char what[120];
	for (int path = SIMD_PLAIN; path <= SIMD_AVX512; path++) {
		for (size_t i = 0; i < n; i++)
			g1[i] = -12.0f + 24.0f * (float)i / (float)(n - 1);
		if (gelu_forward_path(path, g1, n) < 0) {
			printf("# [this CPU cannot run the %s path of GELU]\n", simd_path_name(path));
			continue;
		}
		snprintf(what, sizeof what, "gelu (fast erf), %s path, vs libm erf over [-12, 12]", simd_path_name(path));
		check_close(what, g1, g2, n, 1e-6);
		ok(g1[0] == 0.0f || fabsf(g1[0]) < 1e-30f, "gelu(-12) underflows to 0 on the %s path (%g)",
		   simd_path_name(path), g1[0]);
		/* fused bias + gelu against bias then gelu; 13 channels: a partial vector per row */
		for (int cc = C; cc > 0; cc = cc == C ? 13 : 0) {
			for (size_t r = 0; r < rows; r++)
				for (int c = 0; c < cc; c++)
					h2[r * cc + c] = h0[r * cc + c] + b[c];
			gelu_ref(h2, rows * cc);
			memcpy(h1, h0, rows * cc * sizeof(float));
			bias_gelu_forward_path(path, h1, b, rows, cc);
			snprintf(what, sizeof what, "bias + gelu fused, %s path, %zu x %d, vs separate",
				 simd_path_name(path), rows, cc);
			check_close(what, h1, h2, rows * cc, 1e-6);
		}
	}
	free(h0);
	free(x), free(w), free(b), free(o1), free(o2), free(g1), free(g2), free(h1), free(h2);
}

static void test_resize(void)
{
	/* up by exactly 2 with half-pixel centres: known values */
	float in[2] = {0, 1}, out[4];
	resize_bilinear_rows(out, in, 1, 2, 1, 1, 4, 0, 1);
	ok(out[0] == 0.0f && out[1] == 0.25f && out[2] == 0.75f && out[3] == 1.0f,
	   "bilinear 2 -> 4 (align_corners=False): %g %g %g %g, want 0 0.25 0.75 1", out[0], out[1], out[2],
	   out[3]);
	/* 1024 -> 1025 rows keeps the ends and stays within the input range */
	int H = 1024, Ho = 1025;
	float *a = malloc(H * sizeof(float)), *o = malloc(Ho * sizeof(float));
	for (int i = 0; i < H; i++)
		a[i] = (float)i;
	resize_bilinear_rows(o, a, H, 1, 1, Ho, 1, 0, Ho);
	ok(o[0] == 0.0f && o[Ho - 1] == (float)(H - 1), "bilinear 1024 -> 1025 keeps the end values (%g, %g)",
	   o[0], o[Ho - 1]);
	free(a), free(o);
	/* the decoder's case: 1024 x 66 -> 1025 x 67, rough data of a few
	 * hundred, against the reference in double: a few float roundings of
	 * the largest value (float source coordinates were off by 1e-2) */
	int Hi = 1024, Wi = 66, C = 3, Hr = 1025, Wr = 67;
	float *x = malloc((size_t)Hi * Wi * C * sizeof(float)), *y1 = malloc((size_t)Hr * Wr * C * sizeof(float)),
	      *y2 = malloc((size_t)Hr * Wr * C * sizeof(float));
	struct rng r;
	rng_seed(&r, 99);
	for (size_t i = 0; i < (size_t)Hi * Wi * C; i++)
		x[i] = (float)(rng_uniform(&r) - 0.5) * 1000.0f;
	resize_bilinear_rows(y1, x, Hi, Wi, C, Hr, Wr, 0, Hr);
	resize_bilinear_ref(y2, x, Hi, Wi, C, Hr, Wr);
	check_close("bilinear 1024x66 -> 1025x67 of values in [-500, 500] vs double reference", y1, y2,
		    (size_t)Hr * Wr * C, 500 * 4 * 6e-8);
	free(x), free(y1), free(y2);
}

/* exp_nonpos against exp in double over [-87, 0]; exactly 0 at and below
 * -87; a loop over an array (which the compiler may vectorise) gives the
 * bits of one call at a time. */
__attribute__((target_clones("avx2", "default")))
static void exp_array(float *y, const float *x, int n)
{
	for (int i = 0; i < n; i++)
		y[i] = exp_nonpos(x[i]);
}

static void test_fastexp(void)
{
	enum { N = 100003 };
	float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
	double worst = 0;
	float at = 0;
	for (int i = 0; i < N; i++) {
		x[i] = -86.99f * (float)i / (N - 1);
		double want = exp((double)x[i]), err = fabs(exp_nonpos(x[i]) - want) / want;
		if (err > worst)
			worst = err, at = x[i];
	}
	ok(worst < 1e-6, "exp_nonpos within 1e-6 relative of exp on [-86.99, 0] (largest %.3g at x = %.9g)", worst,
	   at);
	volatile float edge[] = {-87.0f, -87.5f, -1e30f, -INFINITY};
	int zeros = 1;
	for (int i = 0; i < 4; i++)
		zeros &= exp_nonpos(edge[i]) == 0.0f;
	ok(zeros && exp_nonpos(0.0f) == 1.0f && exp_nonpos(-0.0f) == 1.0f,
	   "exp_nonpos: exactly 0 at -87, below it and at -inf; 1 at 0 and -0");
	for (int i = 0; i < N; i++) /* wider: some at or below -87 */
		x[i] = -100.0f * (float)i / (N - 1);
	exp_array(y, x, N);
	int same = 1;
	for (int i = 0; i < N; i++) {
		volatile float xi = x[i];
		float one = exp_nonpos(xi);
		same &= !memcmp(&one, &y[i], sizeof one);
	}
	ok(same, "exp_nonpos over an array (vectorised where the CPU allows) gives the bits of single calls");
	free(x), free(y);
}

#if SIMD_X86
/* The AVX2 attention's 2^x, as its comment says it is: the table entry
 * 2^(i/8), the polynomial on it, then 2^floor(j) put into the exponent
 * bits; one lane at a time, fmaf for its FMAs. */
static float exp2_twin(float x)
{
	const float magic = 1572864.0f;
	x = x > -125.0f ? x : -125.0f;
	float y = x + magic, r = x - (y - magic);
	uint32_t yb, pb;
	memcpy(&yb, &y, sizeof yb);
	float t = (float)exp2((yb & 7) / 8.0);
	float u = fmaf(fmaf(0.055498900460343004f, r, 0.24026407289912532f), r, 0.69314720853190248f);
	float p = fmaf(t * r, u, t);
	memcpy(&pb, &p, sizeof pb);
	pb += (yb << 20) & 0xff800000u;
	memcpy(&p, &pb, sizeof p);
	return p;
}

static TARGET_AVX2 void exp2_lanes(float *y, const float *x, const int32_t *keep)
{
	__m256 k = _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)keep));
	_mm256_storeu_ps(y, exp2_256(k, _mm256_loadu_ps(x)));
}

static void test_exp2_avx2(void)
{
	if (!simd_path_supported(SIMD_AVX2)) {
		printf("# exp2_256: no AVX2 here, not tested\n");
		return;
	}
	long n = 0, differ = 0, far = 0, masked = 0;
	double worst = 0, worst_twin = 0;
	float at = 0;
	const int32_t keep[8] = {-1, -1, -1, 0, -1, -1, -1, -1};
	for (float x0 = -130.0f; x0 < 127.0f; x0 += 8.0f / 4096) {
		float x[8], y[8];
		for (int l = 0; l < 8; l++) /* the grid and points between it */
			x[l] = l % 2 ? x0 + (float)l / 4096 : x0 + (float)l / 4096 + 0.3f / 4096 * frand();
		exp2_lanes(y, x, keep);
		for (int l = 0; l < 8; l++) {
			if (!keep[l]) {
				masked += y[l] != 0.0f;
				continue;
			}
			float want = exp2_twin(x[l]);
			n++;
			if (memcmp(&want, &y[l], sizeof want)) {
				differ += x[l] >= -116.0f;
				double rel = fabs((double)y[l] / want - 1);
				worst_twin = rel > worst_twin ? rel : worst_twin;
			}
			if (x[l] >= -125.0f) {
				double e = fabs(y[l] / exp2((double)x[l]) - 1);
				if (e > worst)
					worst = e, at = x[l];
				far += e > 2e-7;
			}
		}
	}
	ok(differ == 0 && worst_twin < 1.0 / (1 << 20),
	   "exp2_256 gives the plain scheme's bits for x >= -116 (%ld of %ld differ there; below, within %.2g)",
	   differ, n, worst_twin);
	ok(far == 0, "exp2_256 within 2e-7 relative of 2^x on [-125, 127) (largest %.3g at x = %.9g)", worst, at);
	ok(masked == 0, "exp2_256: lanes outside the mask give 0");
}
#endif

int main(void)
{
	test_fastexp();
#if SIMD_X86
	test_exp2_avx2();
#endif
	test_gemm();
	test_conv();
	test_norm_act();
	test_resize();
	return test_done();
}
