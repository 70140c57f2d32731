/* The three attention branches of a TFSWA block in training: gather the
 * token sequences (along H, along W, or in shifted, zero-padded windows),
 * run the pre-norm transformer layer, scatter back. The forward pass keeps
 * qkv, the attention output and its log-sum-exp, the residual after the
 * attention (t1) and the MLP's pre-activation; the LayerNorm outputs and
 * the GELU are recomputed in the backward pass. With --qat (ctx->fq_act)
 * the products see their inputs fake-quantised (fq below). */
#include <assert.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels/activation.h"
#include "kernels/attention_train.h"
#include "kernels/gemm.h"
#include "kernels/norm.h"
#include "kernels/qgemm.h"
#include "kernels/wgrad.h"
#include "train_layers.h"

#define TOKENS_PER_CHUNK 4096

size_t branch_tokens(enum axis axis, int B, int H, int W, int ws)
{
	struct seqmap m = seqmap(axis, H, W, ws, 0);
	return (size_t)B * m.nseq * m.len;
}

size_t branch_acts_floats(size_t tokens, int C, int hid, int heads)
{
	return tokens * (3 * (size_t)C + C + heads + C + hid);
}

void branch_acts_carve(struct branch_acts *a, float *mem, size_t tokens, int C, int hid, int heads)
{
	a->qkv = mem, mem += tokens * 3 * C;
	a->o = mem, mem += tokens * C;
	a->lse = mem, mem += tokens * heads;
	a->t1 = mem, mem += tokens * C;
	a->hpre = mem;
}

struct plan {
	struct seqmap map;
	int per, chunks, total; /* sequences per chunk, chunks, sequences over the batch */
	int masked, C, hid, heads, d;
	size_t maxn;
	float scale;
};

static struct plan plan(const struct tctx *ctx, int B, int H, int W, int C,
			const struct unet_config *cfg, enum axis axis, int shift)
{
	struct plan p;
	p.map = seqmap(axis, H, W, cfg->window_size, shift);
	p.total = B * p.map.nseq;
	p.per = p.map.len >= TOKENS_PER_CHUNK ? 1 : TOKENS_PER_CHUNK / p.map.len;
	int fair = p.total / (4 * ctx->ex.threads);
	if (p.per > fair)
		p.per = fair > 1 ? fair : 1;
	p.chunks = (p.total + p.per - 1) / p.per;
	p.masked = axis == WINDOWS && shift > 0 && cfg->mask_shifted;
	p.C = C;
	p.hid = config_mlp_hidden(cfg, C);
	p.heads = cfg->num_heads;
	p.d = C / p.heads;
	p.maxn = (size_t)p.per * p.map.len;
	p.scale = 1.0f / sqrtf((float)p.d);
	return p;
}

/* Copies the tokens of sequences [g0, g0+ns) of the batch out of img (rows
 * of C floats, zeros for padding) and their regions if asked. */
static void gather(float *t, int *region, const float *img, const struct plan *p, int g0, int ns)
{
	int C = p->C, len = p->map.len;
	size_t npix = (size_t)p->map.H * p->map.W;
	for (int q = 0; q < ns; q++) {
		int g = g0 + q, b = g / p->map.nseq, s = g % p->map.nseq;
		for (int i = 0; i < len; i++) {
			size_t row = (size_t)q * len + i;
			long src = source_pixel(&p->map, s, i, region ? &region[row] : NULL);
			if (src < 0)
				memset(t + row * C, 0, (size_t)C * sizeof *t);
			else
				memcpy(t + row * C, img + ((size_t)b * npix + (size_t)src) * C,
				       (size_t)C * sizeof *t);
		}
	}
}

/* img[pixel] = t (or += t if add) for the real tokens of the sequences. */
static void scatter(float *img, const float *t, const struct plan *p, int g0, int ns, int add)
{
	int C = p->C, len = p->map.len;
	size_t npix = (size_t)p->map.H * p->map.W;
	for (int q = 0; q < ns; q++) {
		int g = g0 + q, b = g / p->map.nseq, s = g % p->map.nseq;
		for (int i = 0; i < len; i++) {
			long src = source_pixel(&p->map, s, i, NULL);
			if (src < 0)
				continue;
			float *o = img + ((size_t)b * npix + (size_t)src) * C;
			const float *r = t + ((size_t)q * len + i) * C;
			if (add)
				for (int c = 0; c < C; c++)
					o[c] += r[c];
			else
				memcpy(o, r, (size_t)C * sizeof *o);
		}
	}
}

/* --qat: the inputs of the four products, which q8 runs in int8, are
 * fake-quantised per row in the forward pass, and the weight gradients are
 * taken at those same inputs; the input gradients pass straight through. */
static void fq(const struct tctx *ctx, float *x, size_t n, int K)
{
	if (ctx->fq_act)
		quantize_rows_fake(x, K, (int)n, K);
}

/* A thread's buffers for the forward pass (the first five) and the
 * backward pass (all): rows of `per` sequences. */
struct branch_scratch {
	float *t, *u, *h, *as;
	int *rg;
	float *dt, *du, *dh, *dqkv, *dob;
};

static void branch_carve(struct carve *c, struct branch_scratch *s, const struct plan *p, int backward)
{
	size_t mx = p->maxn;
	int C = p->C, hid = p->hid;
	s->t = carve(c, mx * C, sizeof(float));
	s->u = carve(c, mx * C, sizeof(float));
	s->h = carve(c, mx * hid, sizeof(float));
	s->as = carve(c, attention_train_scratch_floats(p->map.len, p->d), sizeof(float));
	s->rg = carve(c, mx, sizeof(int));
	s->dt = s->du = s->dh = s->dqkv = s->dob = NULL;
	if (!backward)
		return;
	s->dt = carve(c, mx * C, sizeof(float));
	s->du = carve(c, mx * C, sizeof(float));
	s->dh = carve(c, mx * hid, sizeof(float));
	s->dqkv = carve(c, mx * 3 * C, sizeof(float));
	s->dob = carve(c, mx * C, sizeof(float));
}

size_t branch_scratch_bytes(const struct tctx *ctx, int B, int H, int W, int C, const struct unet_config *cfg,
			    enum axis axis, int shift)
{
	struct plan p = plan(ctx, B, H, W, C, cfg, axis, shift);
	struct branch_scratch s;
	struct carve c = {0};
	branch_carve(&c, &s, &p, 1);
	return c.used;
}

static void branch_forward_region(struct tctx *ctx, float *out, const float *x, const struct plan *pp,
				  const struct tl_off *L, struct branch_acts *a)
{
	const struct plan p = *pp;
	int C = p.C, hid = p.hid, len = p.map.len;
	struct carve sc = thread_carve(&ctx->ex);
	struct branch_scratch b;
	branch_carve(&sc, &b, &p, 0);
	assert(sc.used <= ctx->ex.per_thread);
	float *t = b.t, *u = b.u, *h = b.h, *as = b.as;
	int *rg = b.rg;
#pragma omp for schedule(static)
	for (int k = 0; k < p.chunks; k++) {
		int g0 = k * p.per, ns = g0 + p.per <= p.total ? p.per : p.total - g0;
		size_t n = (size_t)ns * len, tok = (size_t)g0 * len;
		float *qkv = a->qkv + tok * 3 * C, *o = a->o + tok * C, *t1 = a->t1 + tok * C;
		float *hp = a->hpre + tok * hid;
		gather(t, p.masked ? rg : NULL, x, &p, g0, ns);
		layernorm_forward(u, t, P(ctx, L->n1w), P(ctx, L->n1b), n, C);
		fq(ctx, u, n, C);
		product_nt((int)n, 3 * C, C, u, C, P(ctx, L->qkv), C, WT(ctx, L->qkv), 0, qkv, 3 * C);
		attention_train_forward(o, a->lse + tok * p.heads, qkv, ns, len, p.heads, p.d, p.scale,
					p.masked ? rg : NULL, as);
		memcpy(t1, t, n * C * sizeof *t1);
		product_nt((int)n, C, C, fq_rows(u, o, n, C, ctx->fq_act), C, P(ctx, L->proj_w), C,
			   WT(ctx, L->proj_w), 1, t1, C);
		bias_add_forward(t1, P(ctx, L->proj_b), n, C);
		layernorm_forward(u, t1, P(ctx, L->n2w), P(ctx, L->n2b), n, C);
		fq(ctx, u, n, C);
		product_nt((int)n, hid, C, u, C, P(ctx, L->fc1_w), C, WT(ctx, L->fc1_w), 0, hp, hid);
		bias_add_forward(hp, P(ctx, L->fc1_b), n, hid);
		gelu_forward_to(h, hp, n * hid);
		fq(ctx, h, n, hid);
		memcpy(t, t1, n * C * sizeof *t);
		product_nt((int)n, C, hid, h, hid, P(ctx, L->fc2_w), hid, WT(ctx, L->fc2_w), 1, t, C);
		bias_add_forward(t, P(ctx, L->fc2_b), n, C);
		scatter(out, t, &p, g0, ns, 0);
	}
}

void branch_forward(struct tctx *ctx, float *out, const float *x, int B, int H, int W, int C,
		    const struct unet_config *cfg, const struct tl_off *L, enum axis axis, int shift,
		    struct branch_acts *a)
{
	struct plan p = plan(ctx, B, H, W, C, cfg, axis, shift);
	PARALLEL(&ctx->ex, branch_forward_region(ctx, out, x, &p, L, a));
}

static void branch_backward_region(struct tctx *ctx, float *dx, const float *dout, const float *x,
				   const struct plan *pp, const struct tl_off *L, const struct branch_acts *a)
{
	const struct plan p = *pp;
	int C = p.C, hid = p.hid, len = p.map.len;
	float *g = ctx->tgrad[omp_get_thread_num()];
	struct carve sc = thread_carve(&ctx->ex);
	struct branch_scratch b;
	branch_carve(&sc, &b, &p, 1);
	assert(sc.used <= ctx->ex.per_thread);
	float *dt = b.dt, *du = b.du, *u = b.u, *t0 = b.t, *h = b.h, *dh = b.dh, *dqkv = b.dqkv, *dob = b.dob;
	float *as = b.as;
	int *rg = b.rg;
#pragma omp for schedule(static)
	for (int k = 0; k < p.chunks; k++) {
		int g0 = k * p.per, ns = g0 + p.per <= p.total ? p.per : p.total - g0;
		size_t n = (size_t)ns * len, tok = (size_t)g0 * len;
		const float *qkv = a->qkv + tok * 3 * C, *o = a->o + tok * C, *t1 = a->t1 + tok * C;
		const float *hp = a->hpre + tok * hid;
		gather(dt, NULL, dout, &p, g0, ns); /* dt2; padding tokens get 0 */
		/* MLP: t2 = t1 + fc2(gelu(fc1(LN2(t1)))) */
		gelu_forward_to(h, hp, n * hid);
		fq(ctx, h, n, hid);
		wgrad(C, hid, (int)n, dt, C, h, hid, g + L->fc2_w, hid);
		wgrad_bias(C, (int)n, dt, C, g + L->fc2_b);
		product_nn((int)n, hid, C, dt, C, P(ctx, L->fc2_w), hid, 0, dh, hid);
		gelu_backward(dh, dh, hp, n * hid);
		layernorm_forward(u, t1, P(ctx, L->n2w), P(ctx, L->n2b), n, C);
		fq(ctx, u, n, C);
		wgrad(hid, C, (int)n, dh, hid, u, C, g + L->fc1_w, C);
		wgrad_bias(hid, (int)n, dh, hid, g + L->fc1_b);
		product_nn((int)n, C, hid, dh, hid, P(ctx, L->fc1_w), C, 0, du, C);
		layernorm_backward(dt, g + L->n2w, g + L->n2b, du, t1, P(ctx, L->n2w), n, C);
		/* attention: t1 = t0 + proj(MHA(LN1(t0))) */
		wgrad(C, C, (int)n, dt, C, fq_rows(u, o, n, C, ctx->fq_act), C, g + L->proj_w, C);
		wgrad_bias(C, (int)n, dt, C, g + L->proj_b);
		product_nn((int)n, C, C, dt, C, P(ctx, L->proj_w), C, 0, dob, C);
		gather(t0, p.masked ? rg : NULL, x, &p, g0, ns);
		attention_backward(dqkv, dob, qkv, o, a->lse + tok * p.heads, ns, len, p.heads, p.d,
				   p.scale, p.masked ? rg : NULL, as);
		layernorm_forward(u, t0, P(ctx, L->n1w), P(ctx, L->n1b), n, C);
		fq(ctx, u, n, C);
		wgrad(3 * C, C, (int)n, dqkv, 3 * C, u, C, g + L->qkv, C);
		product_nn((int)n, C, 3 * C, dqkv, 3 * C, P(ctx, L->qkv), C, 0, du, C);
		layernorm_backward(dt, g + L->n1w, g + L->n1b, du, t0, P(ctx, L->n1w), n, C);
		/* every real pixel is one token of one sequence: no two
		 * chunks write the same pixel */
		scatter(dx, dt, &p, g0, ns, 1);
	}
}

void branch_backward(struct tctx *ctx, float *dx, const float *dout, const float *x, int B, int H,
		     int W, int C, const struct unet_config *cfg, const struct tl_off *L,
		     enum axis axis, int shift, const struct branch_acts *a)
{
	struct plan p = plan(ctx, B, H, W, C, cfg, axis, shift);
	PARALLEL(&ctx->ex, branch_backward_region(ctx, dx, dout, x, &p, L, a));
}
