/* Layer drivers of the training pass: the convolutions and BatchNorm over
 * whole batches, split over the context's threads, each thread's scratch
 * carved from the context's (train_layers.h). Work is always split into the same
 * items (by shape only) and handed out with schedule(static), so every
 * thread's share, and its gradient sums, are the same from run to run. */
#include <assert.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels/activation.h"
#include "kernels/batchnorm.h"
#include "kernels/conv.h"
#include "kernels/conv_backward.h"
#include "kernels/gemm.h"
#include "kernels/norm.h"
#include "kernels/qgemm.h"
#include "kernels/smallgemm.h"
#include "kernels/wgrad.h"
#include "train_layers.h"

#define ROW_CHUNK 256  /* rows per item of the pixel-wise products */
#define BN_CHUNK 2048  /* rows per partial sum of the BatchNorm statistics */

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

const float *fq_rows(float *buf, const float *x, size_t rows, int K, int on)
{
	if (!on)
		return x;
	memcpy(buf, x, rows * K * sizeof *buf);
	quantize_rows_fake(buf, K, (int)rows, K);
	return buf;
}

float *fq_carve(struct carve *c, size_t rows, int K)
{
	return carve(c, rows * (size_t)K, sizeof(float));
}

void product_nt(int M, int N, int K, const float *A, int lda, const float *W, int ldw, const float *Wt,
		int accumulate, float *C, int ldc)
{
	if (Wt && smallgemm_runs(N, K))
		smallgemm(M, N, K, A, lda, Wt, NULL, accumulate, C, ldc);
	else
		gemm_nt(M, N, K, A, lda, W, ldw, accumulate ? 1.0f : 0.0f, C, ldc);
}

void product_nn(int M, int N, int K, const float *A, int lda, const float *W, int ldw, int accumulate,
		float *C, int ldc)
{
	if (ldw == N && smallgemm_runs(N, K))
		smallgemm(M, N, K, A, lda, W, NULL, accumulate, C, ldc);
	else
		gemm_nn(M, N, K, A, lda, W, ldw, accumulate ? 1.0f : 0.0f, C, ldc);
}

float *fq_scratch(const struct tctx *ctx, int K)
{
	struct carve sc = thread_carve(&ctx->ex);
	float *buf = fq_carve(&sc, ROW_CHUNK, K);
	assert(sc.used <= ctx->ex.per_thread);
	return buf;
}

size_t pw_scratch_bytes(int ci)
{
	struct carve c = {0};
	fq_carve(&c, ROW_CHUNK, ci);
	return c.used;
}

/* The regions below are run by every thread of the team (PARALLEL); each
 * carves its scratch from the thread's slice and shares the loop. */

static void pw_forward_region(struct tctx *ctx, float *z, const float *x, size_t n, int ci, int co, size_t w,
			      size_t b, int fq)
{
	long chunks = (long)((n + ROW_CHUNK - 1) / ROW_CHUNK);
	float *buf = fq_scratch(ctx, ci);
#pragma omp for schedule(static)
	for (long k = 0; k < chunks; k++) {
		size_t r0 = (size_t)k * ROW_CHUNK, rows = min_sz(ROW_CHUNK, n - r0);
		product_nt((int)rows, co, ci, fq_rows(buf, x + r0 * ci, rows, ci, fq), ci, P(ctx, w), ci,
			   WT(ctx, w), 0, z + r0 * co, co);
		bias_add_forward(z + r0 * co, P(ctx, b), rows, co);
	}
}

void pw_forward(struct tctx *ctx, float *z, const float *x, size_t n, int ci, int co, size_t w,
		size_t b, int fq)
{
	PARALLEL(&ctx->ex, pw_forward_region(ctx, z, x, n, ci, co, w, b, fq));
}

static void pw_backward_region(struct tctx *ctx, float *dx, const float *dz, const float *x, size_t n, int ci,
			       int co, size_t w, size_t b, int fq)
{
	long chunks = (long)((n + ROW_CHUNK - 1) / ROW_CHUNK);
	float *g = ctx->tgrad[omp_get_thread_num()];
	float *buf = fq_scratch(ctx, ci);
#pragma omp for schedule(static)
	for (long k = 0; k < chunks; k++) {
		size_t r0 = (size_t)k * ROW_CHUNK, rows = min_sz(ROW_CHUNK, n - r0);
		const float *d = dz + r0 * co;
		/* straight-through: dx as if unquantised, dw at the input the product saw */
		wgrad(co, ci, (int)rows, d, co, fq_rows(buf, x + r0 * ci, rows, ci, fq), ci, g + w, ci);
		wgrad_bias(co, (int)rows, d, co, g + b);
		if (dx)
			product_nn((int)rows, ci, co, d, co, P(ctx, w), ci, 1, dx + r0 * ci, ci);
	}
}

void pw_backward(struct tctx *ctx, float *dx, const float *dz, const float *x, size_t n, int ci,
		 int co, size_t w, size_t b, int fq)
{
	PARALLEL(&ctx->ex, pw_backward_region(ctx, dx, dz, x, n, ci, co, w, b, fq));
}

/* ---------------------------------------------------------------- BatchNorm */

/* The statistics' partial sums (one row of C per item of BN_CHUNK rows;
 * two for the backward pass) and the per-channel results: shared by the
 * threads, carved from the context's shared buffer. */
struct bn_sums {
	double *part, *mean;
	float *m;
};

static struct bn_sums bn_carve(struct carve *c, size_t n, int C)
{
	long chunks = (long)((n + BN_CHUNK - 1) / BN_CHUNK);
	struct bn_sums s;
	s.part = carve(c, 2 * (size_t)chunks * C, sizeof(double));
	s.mean = carve(c, (size_t)C, sizeof(double));
	s.m = carve(c, 2 * (size_t)C, sizeof(float));
	return s;
}

size_t bn_shared_bytes(size_t n, int C)
{
	struct carve c = {0};
	bn_carve(&c, n, C);
	return c.used;
}

static struct bn_sums bn_shared(struct tctx *ctx, size_t n, int C)
{
	struct carve c = {ctx->shared, 0};
	struct bn_sums s = bn_carve(&c, n, C);
	assert(c.used <= ctx->shared_bytes);
	return s;
}

/* part[k] = sum over item k's rows of z, or of (z - mean)^2 with mean. */
static void bn_sum_region(double *part, const float *z, const double *mean, size_t n, int C)
{
	long chunks = (long)((n + BN_CHUNK - 1) / BN_CHUNK);
#pragma omp for schedule(static)
	for (long k = 0; k < chunks; k++) {
		size_t r0 = (size_t)k * BN_CHUNK;
		if (mean)
			batchnorm_sqdev(part + (size_t)k * C, z + r0 * C, mean, min_sz(BN_CHUNK, n - r0), C);
		else
			batchnorm_sum(part + (size_t)k * C, z + r0 * C, min_sz(BN_CHUNK, n - r0), C);
	}
}

static void bn_apply_region(struct tctx *ctx, float *y, const float *z, size_t n, int C, const struct bn_off *o,
			    const struct bn_stat *st, int gelu)
{
	long chunks = (long)((n + BN_CHUNK - 1) / BN_CHUNK);
#pragma omp for schedule(static)
	for (long k = 0; k < chunks; k++) {
		size_t r0 = (size_t)k * BN_CHUNK, rows = min_sz(BN_CHUNK, n - r0);
		batchnorm_apply(y + r0 * C, z + r0 * C, st->mean, st->istd, P(ctx, o->g), P(ctx, o->b),
				rows, C);
		if (gelu)
			gelu_forward(y + r0 * C, rows * C);
	}
}

void bn_forward(struct tctx *ctx, float *y, const float *z, size_t n, int C, const struct bn_off *o,
		struct bn_stat *st, int gelu)
{
	long chunks = (long)((n + BN_CHUNK - 1) / BN_CHUNK);
	struct bn_sums sh = bn_shared(ctx, n, C);
	double *part = sh.part, *mean = sh.mean;
	PARALLEL(&ctx->ex, bn_sum_region(part, z, NULL, n, C));
	for (int c = 0; c < C; c++) {
		double s = 0;
		for (long k = 0; k < chunks; k++)
			s += part[(size_t)k * C + c];
		mean[c] = s / (double)n;
	}
	PARALLEL(&ctx->ex, bn_sum_region(part, z, mean, n, C));
	float *rm = P(ctx, o->rm), *rv = P(ctx, o->rv);
	for (int c = 0; c < C; c++) {
		double s = 0;
		for (long k = 0; k < chunks; k++)
			s += part[(size_t)k * C + c];
		double var = s / (double)n;
		st->mean[c] = (float)mean[c];
		st->istd[c] = (float)(1.0 / sqrt(var + BN_EPS));
		if (ctx->update_running) { /* torch: momentum 0.1, unbiased variance */
			double unbiased = n > 1 ? s / (double)(n - 1) : var;
			rm[c] = (float)(0.9 * rm[c] + 0.1 * mean[c]);
			rv[c] = (float)(0.9 * rv[c] + 0.1 * unbiased);
		}
	}
	PARALLEL(&ctx->ex, bn_apply_region(ctx, y, z, n, C, o, st, gelu));
}

void bn_apply(struct tctx *ctx, float *y, const float *z, size_t n, int C, const struct bn_off *o,
	      const struct bn_stat *st, int gelu)
{
	PARALLEL(&ctx->ex, bn_apply_region(ctx, y, z, n, C, o, st, gelu));
}

/* The backward pass's sums per item; with gelu, first dz = dy times the
 * GELU's slope at its recomputed input. */
static void bn_grad_sums_region(struct tctx *ctx, double *part, float *dz, const float *dy, const float *z,
				size_t n, int C, const struct bn_off *o, const struct bn_stat *st, int gelu)
{
	long chunks = (long)((n + BN_CHUNK - 1) / BN_CHUNK);
	const float *g = P(ctx, o->g), *b = P(ctx, o->b);
	const float *gy = gelu ? dz : dy; /* the gradient at the BatchNorm's output */
#pragma omp for schedule(static)
	for (long k = 0; k < chunks; k++) {
		size_t r0 = (size_t)k * BN_CHUNK, rows = min_sz(BN_CHUNK, n - r0);
		if (gelu) { /* the GELU's input, recomputed, then dy times its slope */
			batchnorm_apply(dz + r0 * C, z + r0 * C, st->mean, st->istd, g, b, rows, C);
			gelu_backward(dz + r0 * C, dy + r0 * C, dz + r0 * C, rows * C);
		}
		batchnorm_grad_sums(part + 2 * (size_t)k * C, part + (2 * (size_t)k + 1) * C, gy + r0 * C,
				    z + r0 * C, st->mean, st->istd, rows, C);
	}
}

static void bn_backward_apply_region(struct tctx *ctx, float *dz, const float *gy, const float *z, size_t n,
				     int C, const struct bn_off *o, const struct bn_stat *st, const float *m)
{
	long chunks = (long)((n + BN_CHUNK - 1) / BN_CHUNK);
#pragma omp for schedule(static)
	for (long k = 0; k < chunks; k++) {
		size_t r0 = (size_t)k * BN_CHUNK, rows = min_sz(BN_CHUNK, n - r0);
		batchnorm_backward_apply(dz + r0 * C, gy + r0 * C, z + r0 * C, st->mean, st->istd, P(ctx, o->g), m,
					 m + C, rows, C);
	}
}

void bn_backward(struct tctx *ctx, float *dz, const float *dy, const float *z, size_t n, int C,
		 const struct bn_off *o, const struct bn_stat *st, int gelu)
{
	long chunks = (long)((n + BN_CHUNK - 1) / BN_CHUNK);
	struct bn_sums sh = bn_shared(ctx, n, C);
	double *part = sh.part;
	float *m = sh.m;
	const float *gy = gelu ? dz : dy;
	PARALLEL(&ctx->ex, bn_grad_sums_region(ctx, part, dz, dy, z, n, C, o, st, gelu));
	float *tg = ctx->tgrad[0];
	for (int c = 0; c < C; c++) {
		double sdy = 0, sdyx = 0;
		for (long k = 0; k < chunks; k++) {
			sdy += part[2 * (size_t)k * C + c];
			sdyx += part[(2 * (size_t)k + 1) * C + c];
		}
		tg[o->g + c] += (float)sdyx;
		tg[o->b + c] += (float)sdy;
		m[c] = (float)(sdy / (double)n);
		m[C + c] = (float)(sdyx / (double)n);
	}
	PARALLEL(&ctx->ex, bn_backward_apply_region(ctx, dz, gy, z, n, C, o, st, m));
}

/* ------------------------------------------------------------- convolutions */

#define CONV_ROWS 8 /* output rows per item; >= k / stride keeps alternate items apart */

static void conv_forward_region(struct tctx *ctx, float *z, const float *x, int B, int H, int W, int ci, int co,
				int k, int stride, int pad, const float *wp, size_t b)
{
	int Ho = conv_out_size(H, k, stride, pad), Wo = conv_out_size(W, k, stride, pad);
	int per = (Ho + CONV_ROWS - 1) / CONV_ROWS, items = B * per;
	struct carve sc = thread_carve(&ctx->ex);
	float *s = carve(&sc, conv2d_scratch_floats(Wo, CONV_ROWS, ci, k), sizeof(float));
	assert(sc.used <= ctx->ex.per_thread);
#pragma omp for schedule(static)
	for (int it = 0; it < items; it++) {
		int bi = it / per, r0 = (it % per) * CONV_ROWS, r1 = r0 + CONV_ROWS < Ho ? r0 + CONV_ROWS : Ho;
		conv2d_rows(z + (size_t)bi * Ho * Wo * co, x + (size_t)bi * H * W * ci, wp, P(ctx, b), H, W, ci, co, k,
			    stride, pad, r0, r1, s);
	}
}

void conv_forward(struct tctx *ctx, float *z, const float *x, int B, int H, int W, int ci, int co,
		  int k, int stride, int pad, const float *wp, size_t b)
{
	PARALLEL(&ctx->ex, conv_forward_region(ctx, z, x, B, H, W, ci, co, k, stride, pad, wp, b));
}

/* The backward passes of both convolutions: each image's output split
 * into bands of rows, a band's weight gradient into the thread's private
 * dwp, its bias gradient and dx directly. Even bands, then odd ones: bands
 * running at the same time are a band apart, so their dx rows (which reach
 * past the band by less than a band) do not overlap. Then each thread adds
 * dwp, reordered to torch's layout, to its gradient buffer. */
struct banded {
	int per;               /* bands per image */
	size_t scratch, nw;    /* floats of a thread's scratch and of dwp */
	size_t w, b;           /* offsets of the weight and bias gradients */
	int co;
	/* band c of image bi: dwp +=, dx +=; returns the band's output pixels
	 * [*p0, *p1) of dz (of image bi) for the bias gradient */
	void (*band)(const void *arg, float *dwp, float *s, int bi, int c, size_t *p0, size_t *p1);
	void (*add)(const void *arg, float *g, const float *dwp);
	const float *dz;       /* [B][pixels][co] */
	size_t dz_image;       /* floats of dz per image */
	const void *arg;
};

/* A thread's scratch for a band and its dwp. */
static void banded_carve(struct carve *c, size_t scratch, size_t nw, float **s, float **dwp)
{
	*s = carve(c, scratch, sizeof(float));
	*dwp = carve(c, nw, sizeof(float));
}

static void banded_region(struct tctx *ctx, int B, const struct banded *k)
{
	int half = (k->per + 1) / 2;
	float *g = ctx->tgrad[omp_get_thread_num()], *s, *dwp;
	struct carve sc = thread_carve(&ctx->ex);
	banded_carve(&sc, k->scratch, k->nw, &s, &dwp);
	assert(sc.used <= ctx->ex.per_thread);
	memset(dwp, 0, k->nw * sizeof *dwp);
	for (int phase = 0; phase < 2; phase++) {
#pragma omp for schedule(static)
		for (int it = 0; it < B * half; it++) {
			int bi = it / half, c = 2 * (it % half) + phase;
			size_t p0, p1;
			if (c >= k->per)
				continue;
			k->band(k->arg, dwp, s, bi, c, &p0, &p1);
			const float *d = k->dz + (size_t)bi * k->dz_image;
			for (size_t p = p0; p < p1; p++)
				for (int o = 0; o < k->co; o++)
					g[k->b + o] += d[p * k->co + o];
		}
	}
	k->add(k->arg, g + k->w, dwp);
}

static void banded_backward(struct tctx *ctx, int B, const struct banded *k)
{
	PARALLEL(&ctx->ex, banded_region(ctx, B, k));
}

/* Adds a thread's weight gradient, in the prepared order [co][k][k][ci],
 * to its buffer in torch's order [co][ci][k][k]. */
static void add_conv_grad(float *g, const float *dwp, int co, int ci, int k)
{
	for (int o = 0; o < co; o++)
		for (int y = 0; y < k; y++)
			for (int x = 0; x < k; x++)
				for (int i = 0; i < ci; i++)
					g[(((size_t)o * ci + i) * k + y) * k + x] +=
						dwp[(((size_t)o * k + y) * k + x) * ci + i];
}

struct conv_args {
	float *dx;
	const float *dz, *x, *wp;
	int H, W, ci, co, k, stride, pad, Ho, Wo;
};

static void conv_band(const void *arg, float *dwp, float *s, int bi, int c, size_t *p0, size_t *p1)
{
	const struct conv_args *a = arg;
	int r0 = c * CONV_ROWS, r1 = r0 + CONV_ROWS < a->Ho ? r0 + CONV_ROWS : a->Ho;
	size_t img = (size_t)a->H * a->W * a->ci;
	conv2d_backward_rows(dwp, a->dx ? a->dx + bi * img : NULL, a->dz + (size_t)bi * a->Ho * a->Wo * a->co,
			     a->x + bi * img, a->wp, a->H, a->W, a->ci, a->co, a->k, a->stride, a->pad, r0, r1, s);
	*p0 = (size_t)r0 * a->Wo, *p1 = (size_t)r1 * a->Wo;
}

static void conv_add(const void *arg, float *g, const float *dwp)
{
	const struct conv_args *a = arg;
	add_conv_grad(g, dwp, a->co, a->ci, a->k);
}

void conv_backward(struct tctx *ctx, float *dx, const float *dz, const float *x, int B, int H,
		  int W, int ci, int co, int k, int stride, int pad, const float *wp, size_t w,
		  size_t b)
{
	int Ho = conv_out_size(H, k, stride, pad), Wo = conv_out_size(W, k, stride, pad);
	struct conv_args a = {dx, dz, x, wp, H, W, ci, co, k, stride, pad, Ho, Wo};
	struct banded d = {
		(Ho + CONV_ROWS - 1) / CONV_ROWS, conv2d_backward_scratch_floats(Wo, CONV_ROWS, ci, k),
		(size_t)co * k * k * ci, w, b, co, conv_band, conv_add, dz, (size_t)Ho * Wo * co, &a,
	};
	banded_backward(ctx, B, &d);
}

size_t conv_scratch_bytes(int W, int ci, int co, int k, int stride, int pad)
{
	int Wo = conv_out_size(W, k, stride, pad);
	struct carve f = {0}, b = {0};
	float *s, *dwp;
	carve(&f, conv2d_scratch_floats(Wo, CONV_ROWS, ci, k), sizeof(float));
	banded_carve(&b, conv2d_backward_scratch_floats(Wo, CONV_ROWS, ci, k), (size_t)co * k * k * ci, &s, &dwp);
	return carve_max(f.used, &b);
}

#define CONVT_ROWS 4 /* input rows per item (an item's dx spans 2 more) */

static void convt_forward_region(struct tctx *ctx, float *z, const float *x, int B, int H, int W, int ci, int co,
				 const float *wp, size_t b)
{
	int items = B * H;
	struct carve sc = thread_carve(&ctx->ex);
	float *s = carve(&sc, convt4s2_scratch_floats(W, ci), sizeof(float));
	assert(sc.used <= ctx->ex.per_thread);
#pragma omp for schedule(static)
	for (int it = 0; it < items; it++) {
		int bi = it / H, m = it % H;
		convt4s2_rows(z + (size_t)bi * 4 * H * W * co, x + (size_t)bi * H * W * ci, wp, P(ctx, b), H, W, ci,
			      co, m, m + 1, s);
	}
}

void convt_forward(struct tctx *ctx, float *z, const float *x, int B, int H, int W, int ci, int co,
		   const float *wp, size_t b)
{
	PARALLEL(&ctx->ex, convt_forward_region(ctx, z, x, B, H, W, ci, co, wp, b));
}

/* Prepared [2][2][co][2][2][ci] back to torch's [ci][co][4][4]: output
 * parity p and tap a use kernel index tap_k[p][a]. */
static void add_convt_grad(float *g, const float *dwp, int ci, int co)
{
	static const int tap_k[2][2] = {{1, 3}, {0, 2}};
	for (int ph = 0; ph < 2; ph++)
		for (int pw = 0; pw < 2; pw++)
			for (int o = 0; o < co; o++)
				for (int a = 0; a < 2; a++)
					for (int bb = 0; bb < 2; bb++)
						for (int i = 0; i < ci; i++)
							g[(((size_t)i * co + o) * 4 + tap_k[ph][a]) * 4 + tap_k[pw][bb]] +=
								dwp[((((((size_t)ph * 2 + pw) * co + o) * 2 + a) * 2 + bb) * ci) + i];
}

struct convt_args {
	float *dx;
	const float *dz, *x, *wp;
	int H, W, ci, co;
};

static void convt_band(const void *arg, float *dwp, float *s, int bi, int c, size_t *p0, size_t *p1)
{
	const struct convt_args *a = arg;
	int m0 = c * CONVT_ROWS, m1 = m0 + CONVT_ROWS < a->H ? m0 + CONVT_ROWS : a->H;
	size_t img = (size_t)a->H * a->W * a->ci;
	convt4s2_backward_rows(dwp, a->dx ? a->dx + bi * img : NULL, a->dz + (size_t)bi * 4 * a->H * a->W * a->co,
			       a->x + bi * img, a->wp, a->H, a->W, a->ci, a->co, m0, m1, s);
	/* input rows m0..m1 give output rows 2 m0 .. 2 m1 */
	*p0 = (size_t)2 * m0 * 2 * a->W, *p1 = (size_t)2 * m1 * 2 * a->W;
}

static void convt_add(const void *arg, float *g, const float *dwp)
{
	const struct convt_args *a = arg;
	add_convt_grad(g, dwp, a->ci, a->co);
}

void convt_backward(struct tctx *ctx, float *dx, const float *dz, const float *x, int B, int H,
		   int W, int ci, int co, const float *wp, size_t w, size_t b)
{
	struct convt_args a = {dx, dz, x, wp, H, W, ci, co};
	struct banded d = {
		(H + CONVT_ROWS - 1) / CONVT_ROWS, convt4s2_backward_scratch_floats(W, ci), (size_t)16 * ci * co,
		w, b, co, convt_band, convt_add, dz, (size_t)4 * H * W * co, &a,
	};
	banded_backward(ctx, B, &d);
}

size_t convt_scratch_bytes(int W, int ci, int co)
{
	struct carve f = {0}, b = {0};
	float *s, *dwp;
	carve(&f, convt4s2_scratch_floats(W, ci), sizeof(float));
	banded_carve(&b, convt4s2_backward_scratch_floats(W, ci), (size_t)16 * ci * co, &s, &dwp);
	return carve_max(f.used, &b);
}
