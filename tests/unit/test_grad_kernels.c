/* The backward kernels of training against their plain reference twins,
 * and the attention backward against finite differences of the reference
 * forward pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/activation.h"
#include "kernels/attention_train.h"
#include "kernels/batchnorm.h"
#include "kernels/conv.h"
#include "kernels/conv_backward.h"
#include "kernels/norm.h"
#include "kernels/resize.h"
#include "test.h"

static float frand(void) /* uniform in [-1, 1) */
{
	return (float)rng_uniform(fixed_rng()) * 2.0f - 1.0f;
}

static float *randv(size_t n, float scale)
{
	float *v = malloc((n ? n : 1) * sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = frand() * scale;
	return v;
}

static float *zeros(size_t n)
{
	return calloc(n ? n : 1, sizeof(float));
}

static void test_attention(void)
{
	static const int cases[][5] = {/* nseq, L, heads, d, range of q, k and v */
				       {2, 16, 2, 4, 2}, {3, 37, 2, 8, 2}, {1, 5, 1, 3, 2}, {2, 64, 4, 4, 2},
				       {2, 21, 2, 4, 2}, /* d 4 with an odd L: the queries in pairs and one alone */
				       /* the forward kernel's d = 16 and chunked (d > 8) blocks, over
					* more than one chunk of keys; large scores, so that some
					* queries' references are raised (the log-sum-exp after a redo) */
				       {2, 70, 2, 16, 2}, {1, 90, 1, 32, 2}, {1, 80, 2, 4, 6}};
	char what[160];
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		int nseq = cases[k][0], L = cases[k][1], heads = cases[k][2], d = cases[k][3], C = heads * d;
		size_t n = (size_t)nseq * L;
		float scale = 1.0f / sqrtf((float)d), range = (float)cases[k][4];
		/* float rounding of values of order range^2 sqrt(d) */
		float tol = 2e-6f * (range * range / 4) * (range * range / 4);
		for (int masked = 0; masked < 2; masked++) {
			float *qkv = randv(n * 3 * C, range), *dout = randv(n * C, 1.0f);
			float *o1 = zeros(n * C), *o2 = zeros(n * C), *l1 = zeros(n * heads), *l2 = zeros(n * heads);
			float *g1 = zeros(n * 3 * C), *g2 = zeros(n * 3 * C);
			float *scratch = malloc(attention_train_scratch_floats(L, d) * sizeof(float));
			int *region = NULL;
			if (masked) {
				region = malloc(n * sizeof *region);
				for (size_t i = 0; i < n; i++)
					region[i] = (int)(i % L) * 3 / L;
			}
			attention_train_forward_ref(o2, l2, qkv, nseq, L, heads, d, scale, region, NULL);
			attention_backward_ref(g2, dout, qkv, o2, l2, nseq, L, heads, d, scale, region, NULL);
			for (int path = SIMD_PLAIN; path <= SIMD_AVX512; path++) {
				if (attention_train_forward_path(path, o1, l1, qkv, nseq, L, heads, d, scale, region,
								 scratch) < 0) {
					if (k == 0 && !masked)
						printf("# [this CPU cannot run the %s path of the training attention]\n",
						       simd_path_name(path));
					continue;
				}
				snprintf(what, sizeof what, "attention forward, %s path, %dx%d heads %d d %d%s vs reference",
					 simd_path_name(path), nseq, L, heads, d, masked ? " masked" : "");
				check_close(what, o1, o2, n * C, tol);
				snprintf(what, sizeof what, "attention log-sum-exp, %s path, %dx%d%s vs reference",
					 simd_path_name(path), nseq, L, masked ? " masked" : "");
				check_close(what, l1, l2, n * heads, tol);
				/* the backward pass from the reference's forward results, so
				 * that it alone is compared */
				attention_backward_path(path, g1, dout, qkv, o2, l2, nseq, L, heads, d, scale, region,
							scratch);
				snprintf(what, sizeof what, "attention backward, %s path, %dx%d heads %d d %d%s vs reference",
					 simd_path_name(path), nseq, L, heads, d, masked ? " masked" : "");
				check_close(what, g1, g2, n * 3 * C, 10 * tol);
			}
			/* the reference backward against central differences of the
			 * reference forward, on a few entries of q, k and v */
			double worst = 0;
			for (int s = 0; s < 12; s++) {
				size_t i = (size_t)rng_below(fixed_rng(), n * 3 * C);
				float keep = qkv[i], eps = 1e-2f;
				double lp = 0, lm = 0;
				qkv[i] = keep + eps;
				attention_train_forward_ref(o2, l2, qkv, nseq, L, heads, d, scale, region, NULL);
				for (size_t j = 0; j < n * C; j++)
					lp += (double)o2[j] * dout[j];
				qkv[i] = keep - eps;
				attention_train_forward_ref(o2, l2, qkv, nseq, L, heads, d, scale, region, NULL);
				for (size_t j = 0; j < n * C; j++)
					lm += (double)o2[j] * dout[j];
				qkv[i] = keep;
				double fd = (lp - lm) / (2 * eps), e = fabs(fd - g2[i]) / (1e-2 + fabs(fd));
				worst = e > worst ? e : worst;
			}
			ok(worst < 1e-2, "attention %dx%d%s: reference backward vs central differences, worst relative error %.2g",
			   nseq, L, masked ? " masked" : "", worst);
			free(qkv), free(dout), free(o1), free(o2), free(l1), free(l2), free(g1), free(g2), free(scratch),
				free(region);
		}
	}
}

static void test_norm_act(void)
{
	size_t rows = 53;
	int C = 24;
	float *x = randv(rows * C, 3.0f), *dy = randv(rows * C, 1.0f), *w = randv(C, 1.0f);
	float *dx1 = randv(rows * C, 1.0f), *dx2 = malloc(rows * C * sizeof(float));
	float *dw1 = zeros(C), *db1 = zeros(C), *dw2 = zeros(C), *db2 = zeros(C);
	memcpy(dx2, dx1, rows * C * sizeof(float));
	layernorm_backward(dx1, dw1, db1, dy, x, w, rows, C);
	layernorm_backward_ref(dx2, dw2, db2, dy, x, w, rows, C);
	check_close("layernorm backward dx vs reference", dx1, dx2, rows * C, 1e-5);
	check_close("layernorm backward dw vs reference", dw1, dw2, C, 1e-4);
	check_close("layernorm backward db vs reference", db1, db2, C, 1e-4);
	/* every path, at the training's channel counts and others, with a
	 * last group of fewer than 16 rows (and 1 and 16 rows), adding to
	 * gradients that are not zero */
	static const int Cs[] = {8, 16, 24, 32, 64, 100, 3}, Rs[] = {53, 1, 16};
	for (size_t ci = 0; ci < sizeof Cs / sizeof *Cs; ci++)
		for (int path = SIMD_PLAIN; path <= SIMD_AVX512; path++) {
			int c2 = Cs[ci];
			size_t r2 = (size_t)Rs[(ci + path) % 3];
			float *x2 = randv(r2 * c2, 3.0f), *g2 = randv(r2 * c2, 1.0f), *w2 = randv(c2, 1.0f);
			float *a = randv(r2 * c2, 1.0f), *b = malloc(r2 * c2 * sizeof(float));
			float *wa = randv(c2, 1.0f), *ba = randv(c2, 1.0f), *wb = malloc(c2 * sizeof(float)),
			      *bb = malloc(c2 * sizeof(float));
			memcpy(b, a, r2 * c2 * sizeof(float));
			memcpy(wb, wa, c2 * sizeof(float));
			memcpy(bb, ba, c2 * sizeof(float));
			if (layernorm_backward_path(path, a, wa, ba, g2, x2, w2, r2, c2) == 0) {
				layernorm_backward_ref(b, wb, bb, g2, x2, w2, r2, c2);
				char what[96];
				snprintf(what, sizeof what, "layernorm backward %s, C %d, %zu rows: dx vs reference",
					 simd_path_name(path), c2, r2);
				check_close(what, a, b, r2 * c2, 1e-5);
				snprintf(what, sizeof what, "layernorm backward %s, C %d: dw vs reference", simd_path_name(path), c2);
				check_close(what, wa, wb, c2, 1e-4);
				snprintf(what, sizeof what, "layernorm backward %s, C %d: db vs reference", simd_path_name(path), c2);
				check_close(what, ba, bb, c2, 1e-4);
			}
			free(x2), free(g2), free(w2), free(a), free(b), free(wa), free(ba), free(wb), free(bb);
		}
	gelu_backward(dx1, dy, x, rows * C);
	gelu_backward_ref(dx2, dy, x, rows * C);
	check_close("gelu backward vs reference (erf form)", dx1, dx2, rows * C, 1e-6);
	/* every path; n not a multiple of 16 or 8 (the masked tail); inputs
	 * out to +-12, where erf saturates and e^(-x^2/2) underflows */
	size_t ng = rows * C - 3;
	float *xw = randv(ng, 12.0f), *gw = malloc(ng * sizeof(float)), *ga = malloc(ng * sizeof(float));
	gelu_backward_ref(gw, dy, xw, ng);
	for (int path = SIMD_PLAIN; path <= SIMD_AVX512; path++) {
		char what[80];
		if (gelu_backward_path(path, ga, dy, xw, ng) == 0) {
			snprintf(what, sizeof what, "gelu backward %s vs reference, n %zu, |x| < 12", simd_path_name(path), ng);
			check_close(what, ga, gw, ng, 1e-6);
		}
		/* dx = x, as the pointwise convolutions' backward calls it */
		memcpy(ga, xw, ng * sizeof(float));
		if (gelu_backward_path(path, ga, dy, ga, ng) == 0) {
			snprintf(what, sizeof what, "gelu backward %s, dx = x in place", simd_path_name(path));
			check_close(what, ga, gw, ng, 1e-6);
		}
		/* dx = dy, as the MLP's backward calls it */
		memcpy(ga, dy, ng * sizeof(float));
		if (gelu_backward_path(path, ga, ga, xw, ng) == 0) {
			snprintf(what, sizeof what, "gelu backward %s, dx = dy in place", simd_path_name(path));
			check_close(what, ga, gw, ng, 1e-6);
		}
		/* gelu_forward_to: gelu_forward's bits, from x into another array */
		float *y1 = zeros(ng), *y2 = malloc(ng * sizeof(float));
		memcpy(y2, xw, ng * sizeof(float));
		if (gelu_forward_to_path(path, y1, xw, ng) == 0 && gelu_forward_path(path, y2, ng) == 0) {
			snprintf(what, sizeof what, "gelu_forward_to %s = gelu_forward in place, bit for bit", simd_path_name(path));
			ok(memcmp(y1, y2, ng * sizeof(float)) == 0, "%s", what);
		}
		free(y1), free(y2);
	}
	free(xw), free(gw), free(ga);

	/* BatchNorm: the chunk kernels put together as the drivers do */
	size_t n = 300, half = 170;
	float *z = randv(n * C, 2.0f), *g = randv(C, 1.0f), *b = randv(C, 1.0f);
	float *y1 = zeros(n * C), *y2 = zeros(n * C), *mean = zeros(C), *istd = zeros(C);
	double *s = calloc(2 * C, sizeof *s), *dm = calloc(C, sizeof *dm), *m2 = calloc(C, sizeof *m2),
	       *v2 = calloc(C, sizeof *v2);
	batchnorm_sum(s, z, half, C);
	batchnorm_sum(s + C, z + half * C, n - half, C);
	for (int c = 0; c < C; c++)
		dm[c] = (s[c] + s[C + c]) / n;
	batchnorm_sqdev(s, z, dm, half, C);
	batchnorm_sqdev(s + C, z + half * C, dm, n - half, C);
	for (int c = 0; c < C; c++)
		mean[c] = (float)dm[c], istd[c] = (float)(1 / sqrt((s[c] + s[C + c]) / n + BN_EPS));
	batchnorm_apply(y1, z, mean, istd, g, b, n, C);
	batchnorm_train_ref(y2, m2, v2, z, g, b, n, C);
	check_close("batchnorm forward (two chunks) vs reference", y1, y2, n * C, 1e-5);
	float *gy = randv(n * C, 1.0f), *dz1 = zeros(n * C), *dz2 = zeros(n * C), *mm = zeros(2 * C);
	float *dg1 = zeros(C), *db_1 = zeros(C), *dg2 = zeros(C), *db_2 = zeros(C);
	double *a = calloc(4 * C, sizeof *a);
	batchnorm_grad_sums(a, a + C, gy, z, mean, istd, half, C);
	batchnorm_grad_sums(a + 2 * C, a + 3 * C, gy + half * C, z + half * C, mean, istd, n - half, C);
	for (int c = 0; c < C; c++) {
		db_1[c] = (float)(a[c] + a[2 * C + c]), dg1[c] = (float)(a[C + c] + a[3 * C + c]);
		mm[c] = db_1[c] / n, mm[C + c] = dg1[c] / n;
	}
	batchnorm_backward_apply(dz1, gy, z, mean, istd, g, mm, mm + C, n, C);
	batchnorm_backward_ref(dz2, dg2, db_2, gy, z, g, n, C);
	check_close("batchnorm backward dz vs reference", dz1, dz2, n * C, 1e-5);
	check_close("batchnorm backward dgamma vs reference", dg1, dg2, C, 1e-4);
	check_close("batchnorm backward dbeta vs reference", db_1, db_2, C, 1e-4);
	free(x), free(dy), free(w), free(dx1), free(dx2), free(dw1), free(db1), free(dw2), free(db2);
	free(z), free(g), free(b), free(y1), free(y2), free(mean), free(istd), free(s), free(dm), free(m2),
		free(v2), free(gy), free(dz1), free(dz2), free(mm), free(dg1), free(db_1), free(dg2), free(db_2),
		free(a);
}

static void test_conv(void)
{
	static const int cases[][7] = {/* H, W, Ci, Co, k, stride, pad */
				       {11, 9, 2, 8, 7, 1, 3}, {19, 13, 8, 16, 4, 2, 1}, {12, 10, 8, 8, 3, 1, 1},
				       {7, 5, 16, 4, 1, 1, 0}};
	char what[160];
	for (size_t q = 0; q < sizeof cases / sizeof *cases; q++) {
		int H = cases[q][0], W = cases[q][1], Ci = cases[q][2], Co = cases[q][3], k = cases[q][4];
		int st = cases[q][5], pad = cases[q][6];
		int Ho = conv_out_size(H, k, st, pad), Wo = conv_out_size(W, k, st, pad);
		size_t nw = (size_t)Co * Ci * k * k;
		float *x = randv((size_t)H * W * Ci, 1), *w = randv(nw, 1), *wp = zeros(nw);
		float *dy = randv((size_t)Ho * Wo * Co, 1), *dwp = zeros(nw), *dw = zeros(nw), *dw2 = zeros(nw);
		float *dx1 = zeros((size_t)H * W * Ci), *dx2 = zeros((size_t)H * W * Ci);
		float *scratch = malloc(conv2d_backward_scratch_floats(Wo, 3, Ci, k) * sizeof(float));
		conv2d_weight_prepare(wp, w, Co, Ci, k);
		for (int r = 0; r < Ho; r += 3) /* row ranges, as the drivers split them */
			conv2d_backward_rows(dwp, dx1, dy, x, wp, H, W, Ci, Co, k, st, pad, r, r + 3 < Ho ? r + 3 : Ho,
					     scratch);
		/* back to torch's layout */
		for (int o = 0; o < Co; o++)
			for (int i = 0; i < Ci; i++)
				for (int a = 0; a < k * k; a++)
					dw[((size_t)o * Ci + i) * k * k + a] = dwp[((size_t)o * k * k + a) * Ci + i];
		conv2d_backward_ref(dw2, dx2, dy, x, w, H, W, Ci, Co, k, st, pad);
		snprintf(what, sizeof what, "conv %dx%d backward %dx%dx%d->%d: dw vs reference", k, k, H, W, Ci, Co);
		check_close(what, dw, dw2, nw, 1e-4);
		snprintf(what, sizeof what, "conv %dx%d backward %dx%dx%d->%d: dx vs reference", k, k, H, W, Ci, Co);
		check_close(what, dx1, dx2, (size_t)H * W * Ci, 1e-4);
		free(x), free(w), free(wp), free(dy), free(dwp), free(dw), free(dw2), free(dx1), free(dx2),
			free(scratch);
	}
	/* ConvTranspose2d(4, 2, 1) */
	int H = 5, W = 7, Ci = 8, Co = 4;
	size_t nw = (size_t)16 * Ci * Co;
	float *x = randv((size_t)H * W * Ci, 1), *w = randv(nw, 1), *wp = zeros(nw), *dwp = zeros(nw);
	float *dy = randv((size_t)4 * H * W * Co, 1), *dw = zeros(nw), *dw2 = zeros(nw);
	float *dx1 = zeros((size_t)H * W * Ci), *dx2 = zeros((size_t)H * W * Ci), *wgrad = zeros(nw);
	float *scratch = malloc(convt4s2_backward_scratch_floats(W, Ci) * sizeof(float));
	convt4s2_weight_prepare(wp, w, Ci, Co);
	for (int m = 0; m < H; m += 2)
		convt4s2_backward_rows(dwp, dx1, dy, x, wp, H, W, Ci, Co, m, m + 2 < H ? m + 2 : H, scratch);
	convt4s2_backward_ref(dw2, dx2, dy, x, w, H, W, Ci, Co);
	/* the prepared layout is a permutation: compare through it */
	convt4s2_weight_prepare(wgrad, dw2, Ci, Co);
	check_close("convtranspose 4x4/2 backward: dw vs reference (prepared order)", dwp, wgrad, nw, 1e-4);
	check_close("convtranspose 4x4/2 backward: dx vs reference", dx1, dx2, (size_t)H * W * Ci, 1e-4);
	free(x), free(w), free(wp), free(dwp), free(dy), free(dw), free(dw2), free(dx1), free(dx2), free(wgrad),
		free(scratch);
}

static void test_resize(void)
{
	static const int cases[][4] = {{8, 6, 9, 7}, {64, 128, 65, 129}, {4, 4, 4, 4}};
	char what[128];
	for (size_t q = 0; q < sizeof cases / sizeof *cases; q++) {
		int H = cases[q][0], W = cases[q][1], Ho = cases[q][2], Wo = cases[q][3], C = 3;
		float *g = randv((size_t)Ho * Wo * C, 1), *d1 = zeros((size_t)H * W * C), *d2 = zeros((size_t)H * W * C);
		resize_bilinear_backward(d1, g, H, W, C, Ho, Wo);
		resize_bilinear_backward_ref(d2, g, H, W, C, Ho, Wo);
		snprintf(what, sizeof what, "bilinear resize backward %dx%d -> %dx%d vs reference", H, W, Ho, Wo);
		check_close(what, d1, d2, (size_t)H * W * C, 1e-5);
		/* adjoint: <resize(x), g> == <x, resize^T(g)> */
		float *x = randv((size_t)H * W * C, 1), *y = zeros((size_t)Ho * Wo * C);
		resize_bilinear_ref(y, x, H, W, C, Ho, Wo);
		double a = 0, b = 0;
		for (size_t i = 0; i < (size_t)Ho * Wo * C; i++)
			a += (double)y[i] * g[i];
		for (size_t i = 0; i < (size_t)H * W * C; i++)
			b += (double)x[i] * d2[i];
		ok(fabs(a - b) < 1e-4 * (1 + fabs(a)), "bilinear resize %dx%d -> %dx%d: backward is the adjoint (%.9g vs %.9g)",
		   H, W, Ho, Wo, a, b);
		free(g), free(d1), free(d2), free(x), free(y);
	}
}

int main(void)
{
	test_attention();
	test_norm_act();
	test_conv();
	test_resize();
	return test_done();
}
