/* TFSWA-UNet forward pass on a planned workspace. Activations are
 * channel-last, x[h][w][c], so that every 1x1 convolution and linear layer
 * is one matrix product over pixels and every token sequence of the three
 * attention branches is a gather of C-float rows. Work is split over the
 * plan's threads by rows or by groups of sequences; the kernels themselves
 * are single-threaded.
 *
 * The plan (unet_plan_new) sizes everything a pass at H x W needs: the
 * maps, the skips the decoder adds, and per thread the scratch of the
 * largest parallel region, all carved from one allocation. A pass then
 * allocates nothing and cannot fail; running out of memory is found at
 * plan time, before any thread starts. */
#include <assert.h>
#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/norm.h"
#include "kernels/qgemm.h"
#include "kernels/resize.h"
#include "kernels/smallgemm.h"
#include "seqmap.h"
#include "tensor.h"
#include "exec.h"
#include "unet_prepared.h"

/* Rows per parallel work item for pixel-wise products. */
#define ROW_CHUNK 256
/* Output rows per work item of a k x k convolution (im2col). */
#define CONV_ROWS 4
/* Tokens per work item of an attention branch: enough for efficient
 * products, small enough that each thread's buffers stay in the low
 * megabytes. */
#define TOKENS_PER_CHUNK 4096

struct unet_plan {
	const struct unet *u;
	int H, W;
	struct nn_exec ex;            /* threads, each thread's scratch, profiling */
	int hs[UNET_LEVELS], ws[UNET_LEVELS]; /* each level's size */
	float *in;                    /* [H][W][in_channels], the first map */
	float *map[2];                /* the current map and the next, ping-ponged */
	float *x, *br[ARCH_BRANCHES]; /* a block's input projection and branch outputs */
	float *kept[ARCH_MAX_STAGES]; /* the outputs the decoder adds */
	size_t bytes;
	void *arena;
};

/* ---------- carving ---------- */

/* A thread's buffer for quantised activations: rows of Kp bytes and
 * their scales (int8 products), or rows of Kp bf16 values (bf16 products).
 * Empty for models with neither. */
struct qbuf {
	uint8_t *q;
	float *rs;
	uint16_t *h;
};

static void qbuf_carve(struct qbuf *b, struct carve *c, const struct unet *u, size_t rows, size_t K)
{
	b->q = NULL, b->rs = NULL, b->h = NULL;
	if (u->bf16)
		b->h = carve(c, rows * ((K + 1) & ~(size_t)1) + 32, sizeof(uint16_t));
	if (!u->int8)
		return;
	b->q = carve(c, rows * ((K + 3) & ~(size_t)3) + 64, 1);
	b->rs = carve(c, rows + 1, sizeof(float));
}

/* A convolution's region: im2col rows or gathered neighbourhoods (none for
 * 1x1), and quantised activations. H x W is its input. */
static void conv_carve(struct carve *c, float **scratch, struct qbuf *qb, const struct unet *u,
		       const struct conv *cv, int W)
{
	*scratch = NULL;
	if (cv->kind == LAYER_CONVT) {
		*scratch = carve(c, convt4s2_scratch_floats(W, cv->ci), sizeof(float));
		qbuf_carve(qb, c, u, (size_t)W, 4 * (size_t)cv->ci);
	} else if (cv->k == 1) {
		qbuf_carve(qb, c, u, ROW_CHUNK, (size_t)cv->op[0].K);
	} else {
		int Wo = conv_out_size(W, cv->k, cv->stride, cv->pad);
		*scratch = carve(c, conv2d_scratch_floats(Wo, CONV_ROWS, cv->ci, cv->k), sizeof(float));
		qbuf_carve(qb, c, u, (size_t)CONV_ROWS * Wo, (size_t)cv->k * cv->k * cv->ci);
	}
}

struct layer_scratch {
	float *t, *u, *qkv, *o, *hid, *attn;
	int *region;
	long *pix; /* [len]: a window's source pixels (-1: padding) */
	struct qbuf qb;
};

/* Sequences per work item of a branch: at the small levels, fewer, so that
 * every thread has some. */
static int branch_per(const struct seqmap *map, int threads)
{
	int per = map->len >= TOKENS_PER_CHUNK ? 1 : TOKENS_PER_CHUNK / map->len;
	int fair = map->nseq / (4 * threads);
	if (per > fair)
		per = fair > 1 ? fair : 1;
	return per;
}

/* A branch's region: the tokens of `per` sequences through one layer. */
static void branch_carve(struct carve *c, struct layer_scratch *s, const struct unet *u, const struct tlayer *L,
			 const struct seqmap *map, int per, int C, int heads)
{
	size_t maxn = (size_t)per * map->len, hid = (size_t)L->fc1.out;
	s->t = carve(c, maxn * C, sizeof(float));
	s->u = carve(c, maxn * C, sizeof(float));
	s->qkv = carve(c, maxn * 3 * C, sizeof(float));
	s->o = carve(c, maxn * C, sizeof(float));
	s->hid = carve(c, maxn * hid, sizeof(float));
	s->attn = carve(c, attention_scratch_floats(map->len, C / heads), sizeof(float));
	s->region = carve(c, maxn, sizeof(int));
	s->pix = carve(c, (size_t)map->len, sizeof(long));
	qbuf_carve(&s->qb, c, u, maxn, hid > (size_t)C ? hid : (size_t)C);
}

static struct seqmap branch_map(const struct unet_config *cfg, enum arch_branch r, int H, int W, int shift)
{
	static const enum axis axes[ARCH_BRANCHES] = {[BRANCH_H] = ALONG_H, [BRANCH_W] = ALONG_W,
						      [BRANCH_WINDOWS] = WINDOWS};
	return seqmap(axes[r], H, W, cfg->window_size, r == BRANCH_WINDOWS ? shift : 0);
}

/* ---------- layers ---------- */

/* GELU of rows [M][N] of C, rows ldc apart. */
static void gelu_rows(float *C, int M, int N, int ldc)
{
	if (ldc == N) {
		gelu_forward(C, (size_t)M * N);
		return;
	}
	for (int i = 0; i < M; i++)
		gelu_forward(C + (size_t)i * ldc, (size_t)N);
}

/* C[M][N] (+)= A[M][K] . W^T, in float, int8 or bf16 (and shown to the
 * calibration observer first), then + bias (if not NULL), then GELU (if
 * gelu), all rows ldc apart. The narrow float products (smallgemm) add
 * the bias in registers; the others in a pass of their own, with the same
 * bits. */
static void run_op_bias(const struct unet_plan *p, const struct op *o, int M, const float *A, int lda,
			int accumulate, const float *bias, int gelu, float *C, int ldc, struct qbuf *qb)
{
	const struct unet *u = p->u;
	const struct nn_exec *ex = &p->ex;
	if (M <= 0)
		return;
	if (u->observe && o->id >= 0)
		u->observe(u->observe_ctx, o->id, A, M, o->K, lda);
	double t = nn_cpu_clock(ex);
	if (o->wt) {
		smallgemm(M, o->N, o->K, A, lda, o->wt, bias, accumulate, C, ldc);
		nn_charge(ex, UNET_WORK_GEMM_F32, t);
		bias = NULL; /* added */
	} else if (o->bf) {
		bf16_rows(qb->h, o->bf->Kp, A, lda, M, o->K, o->bf->Kp);
		nn_charge(ex, UNET_WORK_QUANTIZE, t);
		t = nn_cpu_clock(ex);
		bgemm(M, qb->h, o->bf->Kp, o->bf, accumulate, C, ldc);
		nn_charge(ex, UNET_WORK_GEMM_BF16, t);
	} else if (!o->q) {
		gemm_nt(M, o->N, o->K, A, lda, o->w, o->ldw, accumulate ? 1.0f : 0.0f, C, ldc);
		nn_charge(ex, UNET_WORK_GEMM_F32, t);
	} else {
		quantize_rows(qb->q, o->q->Kp, qb->rs, A, lda, M, o->K, o->q->Kp, o->act_scale);
		nn_charge(ex, UNET_WORK_QUANTIZE, t);
		t = nn_cpu_clock(ex);
		qgemm(M, qb->q, o->q->Kp, qb->rs, o->q, accumulate, C, ldc);
		nn_charge(ex, UNET_WORK_GEMM_INT8, t);
	}
	if (!bias) {
		if (gelu)
			gelu_rows(C, M, o->N, ldc);
		return;
	}
	for (int i = 0; i < M; i += ldc == o->N ? M : 1) {
		size_t rows = ldc == o->N ? (size_t)M : 1;
		if (gelu)
			bias_gelu_forward(C + (size_t)i * ldc, bias, rows, o->N);
		else
			bias_add_forward(C + (size_t)i * ldc, bias, rows, o->N);
	}
}

/* The product alone. */
static void run_op(const struct unet_plan *p, const struct op *o, int M, const float *A, int lda, int accumulate,
		   float *C, int ldc, struct qbuf *qb)
{
	run_op_bias(p, o, M, A, lda, accumulate, NULL, 0, C, ldc, qb);
}

/* The calling thread's scratch for convolution c's region (input width W). */
static void conv_scratch(const struct unet_plan *p, const struct conv *c, int W, float **scratch, struct qbuf *qb)
{
	struct carve sc = thread_carve(&p->ex);
	conv_carve(&sc, scratch, qb, p->u, c, W);
	assert(sc.used <= p->ex.per_thread);
}

/* The regions below are run by every thread of the team (PARALLEL); each
 * carves its scratch from the thread's slice and shares the loop. */

/* out[n][co] = conv(in) for 1x1 convolutions, then bias (and GELU). */
static void pointwise_region(const struct unet_plan *p, float *out, const float *in, size_t n,
			     const struct conv *c, int gelu)
{
	size_t chunks = (n + ROW_CHUNK - 1) / ROW_CHUNK;
	float *unused;
	struct qbuf qb;
	conv_scratch(p, c, 0, &unused, &qb);
#pragma omp for schedule(static)
	for (size_t k = 0; k < chunks; k++) {
		size_t r0 = k * ROW_CHUNK, rows = n - r0 < ROW_CHUNK ? n - r0 : ROW_CHUNK;
		run_op_bias(p, &c->op[0], (int)rows, in + r0 * c->ci, c->ci, 0, c->b, gelu, out + r0 * c->co, c->co,
			    &qb);
	}
}

/* A k x k convolution + bias + GELU over the whole image: im2col rows,
 * one product. */
static void conv_gelu_region(const struct unet_plan *p, float *out, const float *in, int H, int W,
			     const struct conv *c)
{
	int Ho = conv_out_size(H, c->k, c->stride, c->pad), Wo = conv_out_size(W, c->k, c->stride, c->pad);
	int nchunks = (Ho + CONV_ROWS - 1) / CONV_ROWS, K = c->k * c->k * c->ci;
	float *scratch;
	struct qbuf qb;
	conv_scratch(p, c, W, &scratch, &qb);
#pragma omp for schedule(static)
	for (int k = 0; k < nchunks; k++) {
		int r0 = k * CONV_ROWS, r1 = r0 + CONV_ROWS < Ho ? r0 + CONV_ROWS : Ho;
		conv2d_im2col(scratch, in, H, W, c->ci, c->k, c->stride, c->pad, r0, r1);
		run_op_bias(p, &c->op[0], (r1 - r0) * Wo, scratch, K, 0, c->b, 1, out + (size_t)r0 * Wo * c->co,
			    c->co, &qb);
	}
}

/* ConvTranspose(4, 2, 1) + bias + GELU: per input row, the four output
 * parities as products over gathered 2x2 neighbourhoods. */
static void convt_gelu_region(const struct unet_plan *p, float *out, const float *in, int H, int W,
			      const struct conv *c)
{
	int K = 4 * c->ci, Co = c->co;
	float *scratch;
	struct qbuf qb;
	conv_scratch(p, c, W, &scratch, &qb);
#pragma omp for schedule(static)
	for (int m = 0; m < H; m++) {
		for (int ph = 0; ph < 2; ph++)
			for (int pw = 0; pw < 2; pw++) {
				convt4s2_gather(scratch, in, H, W, c->ci, m, ph, pw);
				/* outputs (2m+ph, 2n+pw) for n = 0.. are 2*Co floats apart */
				float *o = out + ((size_t)(2 * m + ph) * 2 * W + pw) * Co;
				if (c->op[0].wt) /* the bias in the product, the GELU below */
					run_op_bias(p, &c->op[ph * 2 + pw], W, scratch, K, 0, c->b, 0, o, 2 * Co, &qb);
				else
					run_op(p, &c->op[ph * 2 + pw], W, scratch, K, 0, o, 2 * Co, &qb);
			}
		if (c->op[0].wt)
			gelu_forward(out + (size_t)2 * m * 2 * W * Co, (size_t)4 * W * Co);
		else
			bias_gelu_forward(out + (size_t)2 * m * 2 * W * Co, c->b, (size_t)4 * W, Co);
	}
}

/* t = t + MHA(LN1(t)); t = t + MLP(LN2(t)) on n = nseq * len tokens. */
static void tlayer_forward(const struct unet_plan *p, const struct tlayer *L, struct layer_scratch *s, int nseq,
			   int len, int C, int heads, int masked)
{
	int n = nseq * len, d = C / heads, hid = L->fc1.out;
	layernorm_forward(s->u, s->t, L->n1w, L->n1b, (size_t)n, C);
	run_op(p, &L->qkv.op, n, s->u, C, 0, s->qkv, 3 * C, &s->qb);
	double t = nn_cpu_clock(&p->ex);
	attention_forward(s->o, s->qkv, nseq, len, heads, d, 1.0f / sqrtf((float)d),
			  masked ? s->region : NULL, s->attn);
	nn_charge(&p->ex, UNET_WORK_ATTENTION, t);
	run_op_bias(p, &L->proj.op, n, s->o, C, 1, L->proj.b, 0, s->t, C, &s->qb);
	layernorm_forward(s->u, s->t, L->n2w, L->n2b, (size_t)n, C);
	run_op_bias(p, &L->fc1.op, n, s->u, C, 0, L->fc1.b, 1, s->hid, hid, &s->qb);
	run_op_bias(p, &L->fc2.op, n, s->hid, hid, 1, L->fc2.b, 0, s->t, C, &s->qb);
}

/* dst[0..C) = src[0..C): rows of a few floats are copied per token, where
 * a call of memcpy with a size unknown here cost more than the copy. */
static inline void copy_row(float *restrict dst, const float *restrict src, int C)
{
	int c = 0;
	for (; c + 8 <= C; c += 8)
		memcpy(dst + c, src + c, 8 * sizeof *dst);
	for (; c < C; c++)
		dst[c] = src[c];
}

/* pix[t] = source_pixel(m, s, t, NULL) for the tokens of window s, with
 * a division per row of the window instead of four per token. */
static void window_pixels(const struct seqmap *m, int s, long *pix)
{
	int h0 = s / m->nwin_w * m->ws + m->shift, w0 = (s % m->nwin_w * m->ws + m->shift) % m->Wp;
	for (int ph = 0; ph < m->ws; ph++) {
		int hp = (h0 + ph) % m->Hp;
		for (int pw = 0, wp = w0; pw < m->ws; pw++, wp = wp + 1 == m->Wp ? 0 : wp + 1)
			pix[ph * m->ws + pw] = hp < m->H && wp < m->W ? (long)hp * m->W + wp : -1;
	}
}

/* The tokens of sequences s0 .. s0+ns of x into t [ns][len][C] (to_t), or
 * back from t into x (!to_t; padding tokens are dropped). */
static void move_tokens(const struct seqmap *m, int s0, int ns, int C, float *x, float *t, long *pix, int to_t)
{
	size_t row = (size_t)C;
	if (m->axis == ALONG_W) { /* rows s0.. of the image, contiguous */
		float *img = x + (size_t)s0 * m->W * row;
		size_t n = (size_t)ns * m->len * row * sizeof *t;
		memcpy(to_t ? t : img, to_t ? img : t, n);
		return;
	}
	if (m->axis == ALONG_H) { /* columns s0..: a row's ns pixels are adjacent */
		for (int k = 0; k < m->len; k++)
			for (int q = 0; q < ns; q++) {
				float *px = x + ((size_t)k * m->W + s0 + q) * row, *tk = t + ((size_t)q * m->len + k) * row;
				copy_row(to_t ? tk : px, to_t ? px : tk, C);
			}
		return;
	}
	for (int q = 0; q < ns; q++) {
		window_pixels(m, s0 + q, pix);
		for (int k = 0; k < m->len; k++) {
			float *tk = t + ((size_t)q * m->len + k) * row;
			if (pix[k] >= 0)
				copy_row(to_t ? tk : x + pix[k] * row, to_t ? x + pix[k] * row : tk, C);
			else if (to_t)
				memset(tk, 0, row * sizeof *tk);
		}
	}
}

/* One attention branch over the whole image: out = branch(x). The
 * threads take work items in turn from *next (a dynamic schedule by hand:
 * an orphaned `omp for schedule(dynamic)` allocates on every call). */
static void branch_region(const struct unet_plan *p, float *out, const float *x, int H, int W, int C,
			  const struct tlayer *L, enum arch_branch r, int shift, atomic_int *next)
{
	const struct unet_config *cfg = &p->u->cfg;
	struct seqmap map = branch_map(cfg, r, H, W, shift);
	int per = branch_per(&map, p->ex.threads), chunks = (map.nseq + per - 1) / per;
	int masked = r == BRANCH_WINDOWS && shift > 0 && cfg->mask_shifted;
	struct carve sc = thread_carve(&p->ex);
	struct layer_scratch s;
	branch_carve(&sc, &s, p->u, L, &map, per, C, cfg->num_heads);
	assert(sc.used <= p->ex.per_thread);
	for (int k; (k = atomic_fetch_add_explicit(next, 1, memory_order_relaxed)) < chunks;) {
		int s0 = k * per, ns = s0 + per <= map.nseq ? per : map.nseq - s0;
		move_tokens(&map, s0, ns, C, (float *)x, s.t, s.pix, 1);
		for (int q = 0; masked && q < ns; q++)
			for (int t = 0; t < map.len; t++)
				source_pixel(&map, s0 + q, t, &s.region[(size_t)q * map.len + t]);
		tlayer_forward(p, L, &s, ns, map.len, C, cfg->num_heads, masked);
		move_tokens(&map, s0, ns, C, out, s.t, s.pix, 0);
	}
}

/* The end of a TFSWA block: the fusion of concat[a, f, w] (three products
 * into one output, no concat), added to cur, and the skip if not NULL. */
static void fusion_region(const struct unet_plan *p, float *cur, const float *skip, size_t n,
			  const struct block *b)
{
	size_t chunks = (n + ROW_CHUNK - 1) / ROW_CHUNK;
	int C = b->C;
	float *unused;
	struct qbuf qb;
	conv_scratch(p, &b->fusion, 0, &unused, &qb);
#pragma omp for schedule(static)
	for (size_t k = 0; k < chunks; k++) {
		size_t r0 = k * ROW_CHUNK, rows = n - r0 < ROW_CHUNK ? n - r0 : ROW_CHUNK;
		float *y = p->x + r0 * C;
		for (int r = 0; r < ARCH_BRANCHES; r++) /* the bias and GELU after the last */
			run_op_bias(p, &b->fusion.op[r], (int)rows, p->br[r] + r0 * C, C, r > 0,
				    r == ARCH_BRANCHES - 1 ? b->fusion.b : NULL, r == ARCH_BRANCHES - 1, y, C, &qb);
		float *o = cur + r0 * C;
		const float *sk = skip ? skip + r0 * C : NULL;
		for (size_t i = 0; i < rows * (size_t)C; i++)
			o[i] = sk ? (y[i] + o[i]) + sk[i] : y[i] + o[i];
	}
}

/* Bilinear resizing of in [hi][wi][C] to out [Ho][Wo][C]. */
static void resize_region(const struct unet_plan *p, float *out, const float *in, int hi, int wi, int C, int Ho,
			  int Wo)
{
#pragma omp for schedule(static)
	for (int r = 0; r < Ho; r++)
		resize_bilinear_rows(out, in, hi, wi, C, Ho, Wo, r, r + 1);
}

/* The logistic sigmoid of x [n], in chunks over the team. */
static void sigmoid_region(float *x, size_t n)
{
	size_t chunks = (n + 4 * ROW_CHUNK - 1) / (4 * ROW_CHUNK);
#pragma omp for schedule(static)
	for (size_t k = 0; k < chunks; k++) {
		size_t i0 = k * 4 * ROW_CHUNK;
		sigmoid_forward(x + i0, n - i0 < 4 * ROW_CHUNK ? n - i0 : 4 * ROW_CHUNK);
	}
}

/* ---------- the network ---------- */

/* One TFSWA block, in place on cur [H][W][C]; skip added when not NULL. */
static void block_forward(const struct unet_plan *p, float *cur, const float *skip, int H, int W,
			  const struct block *b)
{
	size_t n = (size_t)H * W;
	PARALLEL(&p->ex, pointwise_region(p, p->x, cur, n, &b->in_proj, 0));
	for (int r = 0; r < ARCH_BRANCHES; r++) {
		atomic_int next = 0;
		PARALLEL(&p->ex, branch_region(p, p->br[r], p->x, H, W, b->C, &b->br[r], r, b->shift, &next));
	}
	PARALLEL(&p->ex, fusion_region(p, cur, skip, n, b));
}

/* A stage's convolution on cur [h][w][ci] into next; *h, *w become the
 * output's size. */
static void conv_forward(const struct unet_plan *p, float *next, const float *cur, int *h, int *w,
			 const struct conv *c)
{
	if (c->kind == LAYER_CONVT) {
		PARALLEL(&p->ex, convt_gelu_region(p, next, cur, *h, *w, c));
		*h *= 2, *w *= 2;
	} else if (c->k == 1) {
		PARALLEL(&p->ex, pointwise_region(p, next, cur, (size_t)*h * *w, c, c->gelu));
	} else {
		PARALLEL(&p->ex, conv_gelu_region(p, next, cur, *h, *w, c));
		*h = conv_out_size(*h, c->k, c->stride, c->pad);
		*w = conv_out_size(*w, c->k, c->stride, c->pad);
	}
}

/* ---------- the plan ---------- */

/* Everything but the scratch: maps, skips; and the largest region's
 * scratch per thread. Counts with base NULL, carves otherwise. */
static void plan_carve(struct unet_plan *p, struct carve *c)
{
	const struct unet *u = p->u;
	const struct arch *a = &u->arch;
	const struct unet_config *cfg = &u->cfg;
	const int *d = cfg->dims;
	int L = a->nlevels;
	size_t n0 = (size_t)p->H * p->W;
	/* the channel-last input and the output head's result live in the maps too */
	size_t maxnc = n0 * (size_t)(cfg->in_channels > cfg->out_channels ? cfg->in_channels : cfg->out_channels);
	for (int s = 0; s < L; s++) {
		size_t nc = (size_t)p->hs[s] * p->ws[s] * d[s];
		/* the upsampled map before resizing can be up to one row/col larger */
		size_t up = s < L - 1 ? (size_t)2 * p->hs[s + 1] * 2 * p->ws[s + 1] * d[s] : 0;
		maxnc = nc > maxnc ? nc : maxnc;
		maxnc = up > maxnc ? up : maxnc;
	}
	p->map[0] = p->in = carve(c, maxnc, sizeof(float));
	p->map[1] = carve(c, maxnc, sizeof(float));
	p->x = carve(c, maxnc, sizeof(float));
	for (int r = 0; r < ARCH_BRANCHES; r++)
		p->br[r] = carve(c, maxnc, sizeof(float));

	/* the stages in order, as the pass runs them: the skips they keep and
	 * the largest scratch of their parallel regions */
	int h = p->H, w = p->W, C = cfg->in_channels;
	size_t most = 0;
	for (int s = 0; s < a->nstages; s++) {
		const struct arch_stage *st = &a->stage[s];
		const struct stage *ps = &u->st[s];
		for (int k = 0; k < st->nconvs; k++) {
			struct carve t = {0};
			float *scratch;
			struct qbuf qb;
			const struct conv *cv = &ps->conv[k];
			conv_carve(&t, &scratch, &qb, u, cv, w);
			most = t.used > most ? t.used : most;
			C = cv->co;
			if (cv->kind == LAYER_CONVT) {
				h *= 2, w *= 2;
			} else {
				h = conv_out_size(h, cv->k, cv->stride, cv->pad);
				w = conv_out_size(w, cv->k, cv->stride, cv->pad);
			}
		}
		h = p->hs[st->level], w = p->ws[st->level];
		for (int b = 0; b < st->nblocks; b++) {
			const struct block *bl = &ps->blocks[b];
			struct carve t = {0};
			float *unused;
			struct qbuf qb;
			conv_carve(&t, &unused, &qb, u, &bl->in_proj, 0);
			most = t.used > most ? t.used : most;
			t = (struct carve){0};
			conv_carve(&t, &unused, &qb, u, &bl->fusion, 0);
			most = t.used > most ? t.used : most;
			for (int r = 0; r < ARCH_BRANCHES; r++) {
				struct seqmap map = branch_map(cfg, r, h, w, bl->shift);
				struct layer_scratch ls;
				t = (struct carve){0};
				branch_carve(&t, &ls, u, &bl->br[r], &map, branch_per(&map, p->ex.threads), bl->C,
					     cfg->num_heads);
				most = t.used > most ? t.used : most;
			}
		}
		p->kept[s] = st->keep ? carve(c, (size_t)h * w * C, sizeof(float)) : NULL;
	}
	p->ex.per_thread = (most + 63) & ~(size_t)63;
	p->ex.scratch = carve(c, (size_t)p->ex.threads, p->ex.per_thread);
}

/* A forward pass costs at most this much memory (bytes): far beyond any
 * spectrogram the programs accept, it stops a product of sizes from
 * wrapping around. */
#define PLAN_MAX_BYTES ((size_t)1 << 44)

struct unet_plan *unet_plan_new(const struct unet *u, int H, int W, int threads)
{
	struct unet_plan *p;
	if (H < UNET_MIN_SIZE || W < UNET_MIN_SIZE)
		return tf_seterr("input %d x %d is smaller than the network's minimum %d x %d", H, W,
				 UNET_MIN_SIZE, UNET_MIN_SIZE), NULL;
	if (threads < 1)
		return tf_seterr("%d threads: need at least 1", threads), NULL;
	/* every map is at most H x W x (the widest level or the in/out
	 * channels); a bound in double shows the sizes below cannot wrap */
	double widest = u->cfg.in_channels > u->cfg.out_channels ? u->cfg.in_channels : u->cfg.out_channels;
	for (int l = 0; l < UNET_LEVELS; l++)
		widest = u->cfg.dims[l] * 4.0 > widest ? u->cfg.dims[l] * 4.0 : widest;
	if ((double)H * W * widest * sizeof(float) * (16.0 + threads) > (double)PLAN_MAX_BYTES)
		return tf_seterr("a forward pass at %d x %d is too large to plan", H, W), NULL;
	if (!(p = calloc(1, sizeof *p)))
		return tf_seterr("out of memory"), NULL;
	*p = (struct unet_plan){.u = u, .H = H, .W = W, .ex = {.threads = threads}};
	arch_level_sizes(&u->arch, H, W, p->hs, p->ws);
	struct carve count = {0};
	plan_carve(p, &count);
	if (count.used > PLAN_MAX_BYTES) {
		free(p);
		return tf_seterr("a forward pass at %d x %d would need %.1f GB; refusing", H, W, count.used / 1e9),
		       NULL;
	}
	p->bytes = count.used;
	if (!(p->arena = tf_alloc_aligned(count.used, 1))) {
		tf_adderr("the workspace of a forward pass at %d x %d", H, W);
		free(p);
		return NULL;
	}
	struct carve real = {p->arena, 0};
	plan_carve(p, &real);
	if (gemm_prime(threads)) {
		unet_plan_free(p);
		return tf_seterr("out of memory"), NULL;
	}
	return p;
}

void unet_plan_free(struct unet_plan *p)
{
	if (!p)
		return;
	free(p->arena);
	free(p);
}

size_t unet_plan_bytes(const struct unet_plan *p)
{
	return p->bytes;
}

void unet_plan_set_profile(struct unet_plan *p, double cpu[UNET_WORKS])
{
	p->ex.prof = cpu;
}

float *unet_plan_input(struct unet_plan *p)
{
	return p->in;
}

/* The pass; bi is the batch item the taps are told. */
static const float *plan_run(struct unet_plan *p, int bi, unet_tap_fn tap, void *ctx)
{
	const struct unet *u = p->u;
	const struct arch *a = &u->arch;
	float *cur = p->map[0], *next = p->map[1];
	int h = p->H, w = p->W, C = u->cfg.in_channels;
	for (int s = 0; s < a->nstages; s++) {
		const struct arch_stage *st = &a->stage[s];
		for (int k = 0; k < st->nconvs; k++) {
			conv_forward(p, next, cur, &h, &w, &u->st[s].conv[k]);
			C = st->conv[k].co;
			if (h != p->hs[st->level] || w != p->ws[st->level]) {
				/* odd sizes: bring the upsampled map to the skip's size */
				int Ho = p->hs[st->level], Wo = p->ws[st->level];
				PARALLEL(&p->ex, resize_region(p, cur, next, h, w, C, Ho, Wo));
				h = Ho, w = Wo;
			} else {
				float *t = cur;
				cur = next, next = t;
			}
		}
		for (int b = 0; b < st->nblocks; b++)
			block_forward(p, cur, b == 0 && st->skip >= 0 ? p->kept[st->skip] : NULL, h, w,
				      &u->st[s].blocks[b]);
		if (tap && st->role != STAGE_HEAD)
			tap(ctx, st->name, bi, cur, h, w, C);
		if (st->keep)
			memcpy(p->kept[s], cur, (size_t)h * w * C * sizeof(float));
	}
	PARALLEL(&p->ex, sigmoid_region(cur, (size_t)p->H * p->W * u->cfg.out_channels));
	return cur;
}

const float *unet_run(struct unet_plan *p, unet_tap_fn tap, void *ctx)
{
	return plan_run(p, 0, tap, ctx);
}

const float *unet_run_nchw(struct unet_plan *p, const float *in, float *out, int b, unet_tap_fn tap, void *ctx)
{
	const struct unet_config *c = &p->u->cfg;
	size_t n0 = (size_t)p->H * p->W;
	for (int ch = 0; ch < c->in_channels; ch++)
		for (size_t i = 0; i < n0; i++)
			p->in[i * c->in_channels + ch] = in[(size_t)ch * n0 + i];
	const float *m = plan_run(p, b, tap, ctx);
	for (int o = 0; o < c->out_channels; o++)
		for (size_t i = 0; i < n0; i++)
			out[(size_t)o * n0 + i] = m[i * c->out_channels + o];
	return out;
}

int unet_forward(const struct unet *u, const float *in, int B, int H, int W, float *out,
		 unet_tap_fn tap, void *ctx)
{
	const struct unet_config *c = &u->cfg;
	size_t n0 = (size_t)H * W;
	struct unet_plan *p = unet_plan_new(u, H, W, omp_get_max_threads());
	if (!p)
		return -1;
	for (int b = 0; b < B; b++)
		unet_run_nchw(p, in + (size_t)b * c->in_channels * n0, out + (size_t)b * c->out_channels * n0, b, tap,
			      ctx);
	unet_plan_free(p);
	return 0;
}
