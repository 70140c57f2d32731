/* TFSWA-UNet training pass (unet_train.h): the network of ARCHITECTURE.md
 * with BatchNorm on batch statistics, keeping what the backward pass needs,
 * and the backward pass to parameter gradients. Layer drivers are in
 * lib/train/. Activations are channel-last over the whole batch,
 * [B][H][W][C], since BatchNorm's statistics span the batch.
 *
 * Stages are numbered 0..6: encoder 0..2, bottleneck 3, decoder 4..6
 * (decoder i = stage 4+i works at level 2-i). Stage st keeps the inputs of
 * its blocks and its output in xs[st][0..depth]; that is all a block keeps
 * with checkpointing, otherwise each block also keeps its own activations
 * (struct bacts: about 6C + 3 (9C + heads) floats per pixel).
 *
 * Gradients: each thread adds into its own full-size buffer; the buffers
 * are summed in thread order at the end, and every parallel loop hands out
 * the same items to the same threads, so results are the same bits on
 * every run with the same number of threads, with or without
 * checkpointing (the recomputed forward pass runs the same code on the
 * same numbers).
 *
 * In exact arithmetic some gradients are zero: the bias of every
 * convolution followed by BatchNorm, and mlp.3.bias of every branch (a
 * constant per channel passes the 1x1 fusion convolution and is removed by
 * its BatchNorm); here they come out at rounding level. */
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels/activation.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/resize.h"
#include "tensor.h"
#include "train/train.h"
#include "unet.h"
#include "unet_train.h"

#define NSTAGES 7
#define ROW_CHUNK 256

struct blk {
	int C, shift;
	size_t inp_w, inp_b, fus_w, fus_b;
	struct bn_off bn1, bn2;
	struct tl_off br[3]; /* tsa (along H), fsa (along W), swa (windows) */
};

struct bacts { /* a block's activations for the backward pass */
	float *z1, *x, *z2, *br[3];
	struct bn_stat s1, s2;
	struct branch_acts ba[3];
};

struct unet_train {
	struct unet_config cfg;
	int B, H, W, checkpoint;
	int forwarded; /* a forward pass has filled the activations */
	int hs[4], ws[4];
	size_t n[4]; /* pixels over the batch at each level */
	struct tctx ctx;
	size_t nparams, bytes;
	float **owned;
	int nowned;

	size_t stem_w, stem_b, down_w[3], down_b[3], up_w[3], up_b[3];
	size_t head0_w, head0_b, head3_w, head3_b;
	struct bn_off stem_bn, down_bn[3], up_bn[3], head_bn;
	float *wp_stem, *wp_down[3], *wp_up[3], *wp_head0; /* prepared weights */
	struct bn_stat stem_st, down_st[3], up_st[3], head_st;

	int depth[NSTAGES], level[NSTAGES];
	struct blk *blk[NSTAGES];
	float **xs[NSTAGES];
	struct bacts *acts[NSTAGES]; /* per block, or NULL with checkpointing */
	struct bacts shared;        /* the block being recomputed (checkpointing) */
	float *shared_mem;

	float *xin, *stem_z, *down_z[3], *up_z[3], *head_z, *masks; /* masks [N0][out] */
	float *g[2], *s[3], *dskip[3]; /* backward: gradients and scratch */
};

/* ---------------------------------------------------------------- set-up */

static float *own(struct unet_train *t, size_t n)
{
	float *p = tf_alloc_aligned(n ? n : 1, sizeof(float));
	float **o;
	if (!p)
		return NULL;
	if (!(o = realloc(t->owned, (size_t)(t->nowned + 1) * sizeof *o))) {
		free(p);
		tf_seterr("out of memory");
		return NULL;
	}
	t->owned = o;
	t->owned[t->nowned++] = p;
	t->bytes += n * sizeof(float);
	return p;
}

static int offset(const struct model *m, size_t *off, const char *fmt, ...)
{
	char name[MODEL_NAME_MAX + 64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	const struct param_spec *s = model_spec(m, name);
	if (!s)
		return tf_seterr("model has no tensor %s", name);
	*off = s->offset;
	return 0;
}

static int bn_offsets(const struct model *m, struct bn_off *o, const char *prefix)
{
	return offset(m, &o->g, "%s.weight", prefix) || offset(m, &o->b, "%s.bias", prefix) ||
	       offset(m, &o->rm, "%s.running_mean", prefix) ||
	       offset(m, &o->rv, "%s.running_var", prefix) ? -1 : 0;
}

static int bn_stat_alloc(struct unet_train *t, struct bn_stat *s, int C)
{
	s->mean = own(t, (size_t)C);
	s->istd = own(t, (size_t)C);
	return s->mean && s->istd ? 0 : -1;
}

static int block_offsets(const struct model *m, struct blk *k, const char *p)
{
	static const char *names[] = {"tsa", "fsa", "swa"};
	char bp[2 * MODEL_NAME_MAX];
	if (offset(m, &k->inp_w, "%s.input_proj.0.weight", p) || offset(m, &k->inp_b, "%s.input_proj.0.bias", p) ||
	    offset(m, &k->fus_w, "%s.fusion.0.weight", p) || offset(m, &k->fus_b, "%s.fusion.0.bias", p))
		return -1;
	snprintf(bp, sizeof bp, "%s.input_proj.1", p);
	if (bn_offsets(m, &k->bn1, bp))
		return -1;
	snprintf(bp, sizeof bp, "%s.fusion.1", p);
	if (bn_offsets(m, &k->bn2, bp))
		return -1;
	for (int r = 0; r < 3; r++) {
		struct tl_off *L = &k->br[r];
		const char *n = names[r];
		if (offset(m, &L->n1w, "%s.%s.norm1.weight", p, n) || offset(m, &L->n1b, "%s.%s.norm1.bias", p, n) ||
		    offset(m, &L->n2w, "%s.%s.norm2.weight", p, n) || offset(m, &L->n2b, "%s.%s.norm2.bias", p, n) ||
		    offset(m, &L->qkv, "%s.%s.attn.qkv.weight", p, n) ||
		    offset(m, &L->proj_w, "%s.%s.attn.proj.weight", p, n) ||
		    offset(m, &L->proj_b, "%s.%s.attn.proj.bias", p, n) ||
		    offset(m, &L->fc1_w, "%s.%s.mlp.0.weight", p, n) || offset(m, &L->fc1_b, "%s.%s.mlp.0.bias", p, n) ||
		    offset(m, &L->fc2_w, "%s.%s.mlp.3.weight", p, n) || offset(m, &L->fc2_b, "%s.%s.mlp.3.bias", p, n))
			return -1;
	}
	return 0;
}

static size_t bacts_floats(const struct unet_train *t, int level)
{
	int C = t->cfg.dims[level], hid = (int)((double)C * t->cfg.mlp_ratio);
	size_t f = 6 * t->n[level] * C;
	for (int r = 0; r < 3; r++)
		f += branch_acts_floats(branch_tokens((enum axis)r, t->B, t->hs[level], t->ws[level],
						      t->cfg.window_size), C, hid, t->cfg.num_heads);
	return f;
}

/* Lays out a block's activations at a level in mem (bacts_floats floats). */
static void bacts_carve(const struct unet_train *t, struct bacts *a, float *mem, int level)
{
	int C = t->cfg.dims[level], hid = (int)((double)C * t->cfg.mlp_ratio), heads = t->cfg.num_heads;
	size_t nc = t->n[level] * C;
	a->z1 = mem, mem += nc;
	a->x = mem, mem += nc;
	a->z2 = mem, mem += nc;
	for (int r = 0; r < 3; r++) {
		size_t tok = branch_tokens((enum axis)r, t->B, t->hs[level], t->ws[level], t->cfg.window_size);
		a->br[r] = mem, mem += nc;
		branch_acts_carve(&a->ba[r], mem, tok, C, hid, heads);
		mem += branch_acts_floats(tok, C, hid, heads);
	}
}

static int bacts_alloc(struct unet_train *t, struct bacts *a, int level)
{
	int C = t->cfg.dims[level];
	float *mem = own(t, bacts_floats(t, level));
	if (!mem || bn_stat_alloc(t, &a->s1, C) || bn_stat_alloc(t, &a->s2, C))
		return -1;
	bacts_carve(t, a, mem, level);
	return 0;
}

static const char *stage_prefix(int st, char *buf, size_t size)
{
	if (st < 3)
		snprintf(buf, size, "encoder_stages.%d", st);
	else if (st == 3)
		snprintf(buf, size, "bottleneck");
	else
		snprintf(buf, size, "decoder_stages.%d", st - 4);
	return buf;
}

static int setup(struct unet_train *t, const struct model *m)
{
	const struct unet_config *c = &t->cfg;
	const int *d = c->dims;
	char p[MODEL_NAME_MAX];
	int B = t->B;
	size_t maxnc = (size_t)B * t->H * t->W * (c->in_channels > c->out_channels ? c->in_channels : c->out_channels);

	for (int l = 0; l < 4; l++) {
		size_t up = l < 3 ? (size_t)B * 4 * t->hs[l + 1] * t->ws[l + 1] * d[l] : 0;
		maxnc = t->n[l] * d[l] > maxnc ? t->n[l] * d[l] : maxnc;
		maxnc = up > maxnc ? up : maxnc;
	}
	if (offset(m, &t->stem_w, "stem.0.weight") || offset(m, &t->stem_b, "stem.0.bias") ||
	    bn_offsets(m, &t->stem_bn, "stem.1") || offset(m, &t->head0_w, "output_head.0.weight") ||
	    offset(m, &t->head0_b, "output_head.0.bias") || bn_offsets(m, &t->head_bn, "output_head.1") ||
	    offset(m, &t->head3_w, "output_head.3.weight") || offset(m, &t->head3_b, "output_head.3.bias"))
		return -1;
	for (int s = 0; s < 3; s++) {
		snprintf(p, sizeof p, "downsample_layers.%d.downsample.1", s);
		if (offset(m, &t->down_w[s], "downsample_layers.%d.downsample.0.weight", s) ||
		    offset(m, &t->down_b[s], "downsample_layers.%d.downsample.0.bias", s) || bn_offsets(m, &t->down_bn[s], p))
			return -1;
		snprintf(p, sizeof p, "upsample_layers.%d.upsample.1", s);
		if (offset(m, &t->up_w[s], "upsample_layers.%d.upsample.0.weight", s) ||
		    offset(m, &t->up_b[s], "upsample_layers.%d.upsample.0.bias", s) || bn_offsets(m, &t->up_bn[s], p))
			return -1;
	}
	/* prepared weights and BatchNorm statistics of the layers outside the blocks */
	if (!(t->wp_stem = own(t, (size_t)d[0] * 49 * c->in_channels)) ||
	    !(t->wp_head0 = own(t, (size_t)d[0] * 9 * d[0])) || bn_stat_alloc(t, &t->stem_st, d[0]) ||
	    bn_stat_alloc(t, &t->head_st, d[0]))
		return -1;
	for (int s = 0; s < 3; s++)
		if (!(t->wp_down[s] = own(t, (size_t)16 * d[s] * d[s + 1])) ||
		    !(t->wp_up[s] = own(t, (size_t)16 * d[2 - s] * d[3 - s])) ||
		    bn_stat_alloc(t, &t->down_st[s], d[s + 1]) || bn_stat_alloc(t, &t->up_st[s], d[2 - s]))
			return -1;
	/* the blocks */
	for (int st = 0; st < NSTAGES; st++) {
		int l = st < 4 ? st : 6 - st;
		t->level[st] = l;
		t->depth[st] = c->depths[l];
		if (!(t->blk[st] = calloc((size_t)t->depth[st] + 1, sizeof *t->blk[st])) ||
		    !(t->xs[st] = calloc((size_t)t->depth[st] + 1, sizeof *t->xs[st])))
			return tf_seterr("out of memory");
		stage_prefix(st, p, sizeof p);
		for (int b = 0; b < t->depth[st]; b++) {
			char bp[MODEL_NAME_MAX + 16];
			snprintf(bp, sizeof bp, "%s.%d", p, b);
			t->blk[st][b].C = d[l];
			t->blk[st][b].shift = b % 2 ? c->shift_size : 0;
			if (block_offsets(m, &t->blk[st][b], bp))
				return -1;
		}
		for (int b = 0; b <= t->depth[st]; b++)
			if (!(t->xs[st][b] = own(t, t->n[l] * d[l])))
				return -1;
		if (!t->checkpoint) {
			if (!(t->acts[st] = calloc((size_t)t->depth[st] + 1, sizeof *t->acts[st])))
				return tf_seterr("out of memory");
			for (int b = 0; b < t->depth[st]; b++)
				if (bacts_alloc(t, &t->acts[st][b], l))
					return -1;
		}
	}
	if (t->checkpoint) { /* one set, carved for each level as it is used */
		size_t best = 0;
		for (int l = 0; l < 4; l++)
			best = bacts_floats(t, l) > best ? bacts_floats(t, l) : best;
		int maxc = 0;
		for (int l = 0; l < 4; l++)
			maxc = d[l] > maxc ? d[l] : maxc;
		if (!(t->shared_mem = own(t, best)) || bn_stat_alloc(t, &t->shared.s1, maxc) ||
		    bn_stat_alloc(t, &t->shared.s2, maxc))
			return -1;
	}
	/* the layers outside the blocks */
	if (!(t->xin = own(t, t->n[0] * c->in_channels)) || !(t->stem_z = own(t, t->n[0] * d[0])) ||
	    !(t->head_z = own(t, t->n[0] * d[0])) || !(t->masks = own(t, t->n[0] * c->out_channels)))
		return -1;
	for (int s = 0; s < 3; s++)
		if (!(t->down_z[s] = own(t, t->n[s + 1] * d[s + 1])) ||
		    !(t->up_z[s] = own(t, (size_t)B * 4 * t->hs[3 - s] * t->ws[3 - s] * d[2 - s])) ||
		    !(t->dskip[s] = own(t, t->n[s] * d[s])))
			return -1;
	for (int i = 0; i < 2; i++)
		if (!(t->g[i] = own(t, maxnc)))
			return -1;
	for (int i = 0; i < 3; i++)
		if (!(t->s[i] = own(t, maxnc)))
			return -1;
	t->nparams = m->nparams;
	t->ctx.T = omp_get_max_threads();
	if (!(t->ctx.tgrad = calloc((size_t)t->ctx.T, sizeof *t->ctx.tgrad)))
		return tf_seterr("out of memory");
	for (int i = 0; i < t->ctx.T; i++)
		if (!(t->ctx.tgrad[i] = own(t, m->nparams)))
			return -1;
	return 0;
}

void unet_train_free(struct unet_train *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->nowned; i++)
		free(t->owned[i]);
	free(t->owned);
	for (int st = 0; st < NSTAGES; st++)
		free(t->blk[st]), free(t->xs[st]), free(t->acts[st]);
	free(t->ctx.tgrad);
	free(t);
}

struct unet_train *unet_train_new(const struct model *m, int B, int H, int W, int checkpoint)
{
	struct unet_train *t;
	if (B < 1 || H < UNET_MIN_SIZE || W < UNET_MIN_SIZE)
		return tf_seterr("batch %d of %d x %d: need B >= 1 and H, W >= %d", B, H, W, UNET_MIN_SIZE), NULL;
	if (!(t = calloc(1, sizeof *t)))
		return tf_seterr("out of memory"), NULL;
	t->cfg = m->cfg;
	t->B = B, t->H = H, t->W = W, t->checkpoint = checkpoint != 0;
	t->hs[0] = H, t->ws[0] = W;
	for (int l = 1; l < 4; l++) {
		t->hs[l] = conv_out_size(t->hs[l - 1], 4, 2, 1);
		t->ws[l] = conv_out_size(t->ws[l - 1], 4, 2, 1);
	}
	for (int l = 0; l < 4; l++)
		t->n[l] = (size_t)B * t->hs[l] * t->ws[l];
	gemm_init();
	if (setup(t, m)) {
		unet_train_free(t);
		return NULL;
	}
	return t;
}

void unet_train_set_qat(struct unet_train *t, int on)
{
	t->ctx.fq_act = on;
}

size_t unet_train_bytes(const struct unet_train *t)
{
	return t->bytes;
}

/* ---------------------------------------------------------------- blocks */

/* z2 = concat[br0, br1, br2] fusion^T + bias: three products, no concat. */
static int fusion_forward(struct tctx *ctx, float *z2, float *const br[3], size_t n, int C,
			  const struct blk *k)
{
	long chunks = (long)((n + ROW_CHUNK - 1) / ROW_CHUNK);
	int failed = 0;
#pragma omp parallel num_threads(ctx->T)
	{
		float *buf = fq_buf((size_t)ROW_CHUNK * C, ctx->fq_act, &failed);
#pragma omp for schedule(static)
		for (long q = 0; q < chunks; q++) {
			size_t r0 = (size_t)q * ROW_CHUNK, rows = n - r0 < ROW_CHUNK ? n - r0 : ROW_CHUNK;
			if (failed)
				continue;
			for (int r = 0; r < 3; r++)
				gemm_nt((int)rows, C, C, fq_rows(buf, br[r] + r0 * C, rows, C, ctx->fq_act), C,
					P(ctx, k->fus_w) + (size_t)r * C, 3 * C, r ? 1.0f : 0.0f, z2 + r0 * C, C);
			bias_add_forward(z2 + r0 * C, P(ctx, k->fus_b), rows, C);
		}
		free(buf);
	}
	return failed ? tf_seterr("out of memory") : 0;
}

/* out = GELU(BN(fusion(branches(BN(input_proj(x0)))))) + x0 (+ skip). */
static int block_forward(struct unet_train *t, const struct blk *k, struct bacts *a, float *out,
			 const float *x0, const float *skip, int level)
{
	struct tctx *ctx = &t->ctx;
	int C = k->C, h = t->hs[level], w = t->ws[level];
	size_t n = t->n[level];
	if (pw_forward(ctx, a->z1, x0, n, C, C, k->inp_w, k->inp_b, ctx->fq_act) ||
	    bn_forward(ctx, a->x, a->z1, n, C, &k->bn1, &a->s1, 0))
		return -1;
	for (int r = 0; r < 3; r++)
		if (branch_forward(ctx, a->br[r], a->x, t->B, h, w, C, &t->cfg, &k->br[r], (enum axis)r,
				   r == WINDOWS ? k->shift : 0, &a->ba[r]))
			return -1;
	if (fusion_forward(ctx, a->z2, a->br, n, C, k) ||
	    bn_forward(ctx, out, a->z2, n, C, &k->bn2, &a->s2, 1))
		return -1;
	long chunks = (long)((n * C + 4095) / 4096);
#pragma omp parallel for schedule(static) num_threads(ctx->T)
	for (long q = 0; q < chunks; q++) {
		size_t i0 = (size_t)q * 4096, i1 = i0 + 4096 < n * C ? i0 + 4096 : n * C;
		for (size_t i = i0; i < i1; i++)
			out[i] = skip ? (out[i] + x0[i]) + skip[i] : out[i] + x0[i];
	}
	return 0;
}

/* dx0 = dL/dx0 given dy = dL/dout (dx0 != dy); dskip = dy if wanted. */
static int block_backward(struct unet_train *t, const struct blk *k, const struct bacts *a,
			  float *dx0, const float *dy, const float *x0, float *dskip, int level)
{
	struct tctx *ctx = &t->ctx;
	int C = k->C, h = t->hs[level], w = t->ws[level];
	size_t n = t->n[level];
	float *dz2 = t->s[0], *dbr = t->s[1], *dxb = t->s[2];
	if (dskip)
		memcpy(dskip, dy, n * C * sizeof *dy);
	if (bn_backward(ctx, dz2, dy, a->z2, n, C, &k->bn2, &a->s2, 1))
		return -1;
	long chunks = (long)((n + ROW_CHUNK - 1) / ROW_CHUNK);
	int failed = 0;
#pragma omp parallel num_threads(ctx->T)
	{
		float *g = ctx->tgrad[omp_get_thread_num()];
		float *buf = fq_buf((size_t)ROW_CHUNK * C, ctx->fq_act, &failed);
#pragma omp for schedule(static)
		for (long q = 0; q < chunks; q++) {
			size_t r0 = (size_t)q * ROW_CHUNK, rows = n - r0 < ROW_CHUNK ? n - r0 : ROW_CHUNK;
			const float *d = dz2 + r0 * C;
			if (failed)
				continue;
			for (int r = 0; r < 3; r++)
				gemm_tn(C, C, (int)rows, d, C, fq_rows(buf, a->br[r] + r0 * C, rows, C, ctx->fq_act), C,
					1.0f, g + k->fus_w + (size_t)r * C, 3 * C);
			for (size_t i = 0; i < rows; i++)
				for (int c = 0; c < C; c++)
					g[k->fus_b + c] += d[i * C + c];
		}
		free(buf);
	}
	if (failed)
		return tf_seterr("out of memory");
	memset(dxb, 0, n * C * sizeof *dxb);
	for (int r = 0; r < 3; r++) {
#pragma omp parallel for schedule(static) num_threads(ctx->T)
		for (long q = 0; q < chunks; q++) {
			size_t r0 = (size_t)q * ROW_CHUNK, rows = n - r0 < ROW_CHUNK ? n - r0 : ROW_CHUNK;
			gemm_nn((int)rows, C, C, dz2 + r0 * C, C, P(ctx, k->fus_w) + (size_t)r * C, 3 * C, 0.0f,
				dbr + r0 * C, C);
		}
		if (branch_backward(ctx, dxb, dbr, a->x, t->B, h, w, C, &t->cfg, &k->br[r], (enum axis)r,
				    r == WINDOWS ? k->shift : 0, &a->ba[r]))
			return -1;
	}
	if (bn_backward(ctx, dz2, dxb, a->z1, n, C, &k->bn1, &a->s1, 0))
		return -1;
	memcpy(dx0, dy, n * C * sizeof *dy);
	return pw_backward(ctx, dx0, dz2, x0, n, C, C, k->inp_w, k->inp_b, ctx->fq_act);
}

static int stage_forward(struct unet_train *t, int st, const float *skip)
{
	if (t->checkpoint)
		bacts_carve(t, &t->shared, t->shared_mem, t->level[st]);
	for (int b = 0; b < t->depth[st]; b++)
		if (block_forward(t, &t->blk[st][b], t->checkpoint ? &t->shared : &t->acts[st][b],
				  t->xs[st][b + 1], t->xs[st][b], b == 0 ? skip : NULL, t->level[st]))
			return -1;
	return 0;
}

/* *g holds dL/d(stage output); on return dL/d(stage input) (buffers swap). */
static int stage_backward(struct unet_train *t, int st, float **g, float **spare, float *dskip)
{
	int l = t->level[st];
	for (int b = t->depth[st] - 1; b >= 0; b--) {
		const float *skip = b == 0 && st > 3 ? t->xs[l][t->depth[l]] : NULL;
		struct bacts *a = &t->shared;
		if (t->checkpoint) {
			/* recompute the block from its input: the same code on the
			 * same numbers, so the same bits; the running statistics
			 * were updated once already */
			bacts_carve(t, a, t->shared_mem, l);
			t->ctx.update_running = 0;
			if (block_forward(t, &t->blk[st][b], a, t->s[0], t->xs[st][b], skip, l))
				return -1;
		} else {
			a = &t->acts[st][b];
		}
		if (block_backward(t, &t->blk[st][b], a, *spare, *g, t->xs[st][b], skip ? dskip : NULL, l))
			return -1;
		float *x = *g;
		*g = *spare, *spare = x;
	}
	return 0;
}

/* ---------------------------------------------------------------- network */

static void prepare_weights(struct unet_train *t)
{
	const int *d = t->cfg.dims;
	float *p = t->ctx.params;
	conv2d_weight_prepare(t->wp_stem, p + t->stem_w, d[0], t->cfg.in_channels, 7);
	conv2d_weight_prepare(t->wp_head0, p + t->head0_w, d[0], d[0], 3);
	for (int s = 0; s < 3; s++) {
		conv2d_weight_prepare(t->wp_down[s], p + t->down_w[s], d[s + 1], d[s], 4);
		convt4s2_weight_prepare(t->wp_up[s], p + t->up_w[s], d[3 - s], d[2 - s]);
	}
}

int unet_train_forward(struct unet_train *t, struct model *m, const float *in, float *masks)
{
	const struct unet_config *c = &t->cfg;
	const int *d = c->dims;
	struct tctx *ctx = &t->ctx;
	int B = t->B;
	size_t n0 = (size_t)t->H * t->W;
	ctx->params = m->params;
	ctx->update_running = 1;
	t->forwarded = 0;
	prepare_weights(t);
	for (int b = 0; b < B; b++)
		for (int ch = 0; ch < c->in_channels; ch++)
			for (size_t p = 0; p < n0; p++)
				t->xin[((size_t)b * n0 + p) * c->in_channels + ch] =
					in[((size_t)b * c->in_channels + ch) * n0 + p];
	if (conv_forward(ctx, t->stem_z, t->xin, B, t->H, t->W, c->in_channels, d[0], 7, 1, 3, t->wp_stem,
			 t->stem_b) ||
	    bn_forward(ctx, t->xs[0][0], t->stem_z, t->n[0], d[0], &t->stem_bn, &t->stem_st, 1))
		goto fail;
	for (int s = 0; s < 3; s++) {
		float *skip = t->xs[s][t->depth[s]];
		if (stage_forward(t, s, NULL) ||
		    conv_forward(ctx, t->down_z[s], skip, B, t->hs[s], t->ws[s], d[s], d[s + 1], 4, 2, 1,
				 t->wp_down[s], t->down_b[s]) ||
		    bn_forward(ctx, t->xs[s + 1][0], t->down_z[s], t->n[s + 1], d[s + 1], &t->down_bn[s],
			       &t->down_st[s], 1))
			goto fail;
	}
	if (stage_forward(t, 3, NULL))
		goto fail;
	for (int i = 0; i < 3; i++) {
		int l = 2 - i, h = t->hs[l + 1], w = t->ws[l + 1], st = 4 + i;
		size_t nup = (size_t)B * 4 * h * w;
		int resize = 2 * h != t->hs[l] || 2 * w != t->ws[l];
		float *y = resize ? t->s[0] : t->xs[st][0];
		if (convt_forward(ctx, t->up_z[i], t->xs[st - 1][t->depth[st - 1]], B, h, w, d[l + 1], d[l],
				  t->wp_up[i], t->up_b[i]) ||
		    bn_forward(ctx, y, t->up_z[i], nup, d[l], &t->up_bn[i], &t->up_st[i], 1))
			goto fail;
		if (resize) /* odd sizes: to the skip's size */
			for (int b = 0; b < B; b++)
#pragma omp parallel for schedule(static) num_threads(ctx->T)
				for (int r = 0; r < t->hs[l]; r++)
					resize_bilinear_rows(t->xs[st][0] + (size_t)b * t->hs[l] * t->ws[l] * d[l],
							     y + (size_t)b * 4 * h * w * d[l], 2 * h, 2 * w, d[l],
							     t->hs[l], t->ws[l], r, r + 1);
		if (stage_forward(t, st, t->xs[l][t->depth[l]]))
			goto fail;
	}
	/* output head: Conv3x3, BN, GELU, Conv1x1, sigmoid */
	float *hbuf = t->s[0];
	if (conv_forward(ctx, t->head_z, t->xs[6][t->depth[6]], B, t->H, t->W, d[0], d[0], 3, 1, 1,
			 t->wp_head0, t->head0_b) ||
	    bn_forward(ctx, hbuf, t->head_z, t->n[0], d[0], &t->head_bn, &t->head_st, 1))
		goto fail;
	/* the mask head stays in float in q8 models: never fake-quantised */
	if (pw_forward(ctx, t->masks, hbuf, t->n[0], d[0], c->out_channels, t->head3_w, t->head3_b, 0))
		goto fail;
	sigmoid_forward(t->masks, t->n[0] * c->out_channels);
	for (int b = 0; b < B; b++)
		for (int o = 0; o < c->out_channels; o++)
			for (size_t p = 0; p < n0; p++)
				masks[((size_t)b * c->out_channels + o) * n0 + p] =
					t->masks[((size_t)b * n0 + p) * c->out_channels + o];
	t->forwarded = 1;
	return 0;
fail:
	return tf_seterr("training forward pass: %s", tf_strerror()), -1;
}

int unet_train_backward(struct unet_train *t, const struct model *m, const float *dmasks,
			float *grad)
{
	const struct unet_config *c = &t->cfg;
	const int *d = c->dims;
	struct tctx *ctx = &t->ctx;
	int B = t->B, out = c->out_channels;
	size_t n0 = (size_t)t->H * t->W, N0 = t->n[0];
	float *g = t->g[0], *spare = t->g[1];
	if (!t->forwarded)
		return tf_seterr("training backward pass without a forward pass");
	ctx->params = m->params;
	ctx->update_running = 0;
	for (int i = 0; i < ctx->T; i++)
		memset(ctx->tgrad[i], 0, t->nparams * sizeof(float));

	/* head: sigmoid, Conv1x1, GELU(BN), Conv3x3 */
	float *dlogit = t->s[2], *h = t->s[0], *dh = t->s[1];
	for (int b = 0; b < B; b++)
		for (int o = 0; o < out; o++)
			for (size_t p = 0; p < n0; p++) {
				size_t i = ((size_t)b * n0 + p) * out + o;
				float y = t->masks[i];
				dlogit[i] = dmasks[((size_t)b * out + o) * n0 + p] * y * (1.0f - y);
			}
	bn_apply(ctx, h, t->head_z, N0, d[0], &t->head_bn, &t->head_st, 1);
	memset(dh, 0, N0 * d[0] * sizeof *dh);
	if (pw_backward(ctx, dh, dlogit, h, N0, d[0], out, t->head3_w, t->head3_b, 0) ||
	    bn_backward(ctx, h, dh, t->head_z, N0, d[0], &t->head_bn, &t->head_st, 1))
		goto fail;
	memset(g, 0, N0 * d[0] * sizeof *g);
	if (conv_backward(ctx, g, h, t->xs[6][t->depth[6]], B, t->H, t->W, d[0], d[0], 3, 1, 1, t->wp_head0,
			  t->head0_w, t->head0_b))
		goto fail;

	/* decoder, deepest last */
	for (int i = 2; i >= 0; i--) {
		int l = 2 - i, hh = t->hs[l + 1], ww = t->ws[l + 1], st = 4 + i;
		size_t nup = (size_t)B * 4 * hh * ww;
		int resize = 2 * hh != t->hs[l] || 2 * ww != t->ws[l];
		if (stage_backward(t, st, &g, &spare, t->dskip[l]))
			goto fail;
		float *dy = g;
		if (resize) {
			dy = t->s[1];
			memset(dy, 0, nup * d[l] * sizeof *dy);
			for (int b = 0; b < B; b++)
				resize_bilinear_backward(dy + (size_t)b * 4 * hh * ww * d[l],
							 g + (size_t)b * t->hs[l] * t->ws[l] * d[l], 2 * hh, 2 * ww,
							 d[l], t->hs[l], t->ws[l]);
		}
		if (bn_backward(ctx, t->s[0], dy, t->up_z[i], nup, d[l], &t->up_bn[i], &t->up_st[i], 1))
			goto fail;
		memset(spare, 0, t->n[l + 1] * d[l + 1] * sizeof *spare);
		if (convt_backward(ctx, spare, t->s[0], t->xs[st - 1][t->depth[st - 1]], B, hh, ww, d[l + 1],
				   d[l], t->wp_up[i], t->up_w[i], t->up_b[i]))
			goto fail;
		float *x = g;
		g = spare, spare = x;
	}
	if (stage_backward(t, 3, &g, &spare, NULL))
		goto fail;
	/* encoder: each stage's output also went to its skip */
	for (int s = 2; s >= 0; s--) {
		if (bn_backward(ctx, t->s[0], g, t->down_z[s], t->n[s + 1], d[s + 1], &t->down_bn[s],
				&t->down_st[s], 1))
			goto fail;
		memcpy(spare, t->dskip[s], t->n[s] * d[s] * sizeof *spare);
		if (conv_backward(ctx, spare, t->s[0], t->xs[s][t->depth[s]], B, t->hs[s], t->ws[s], d[s],
				  d[s + 1], 4, 2, 1, t->wp_down[s], t->down_w[s], t->down_b[s]))
			goto fail;
		float *x = g;
		g = spare, spare = x;
		if (stage_backward(t, s, &g, &spare, NULL))
			goto fail;
	}
	if (bn_backward(ctx, t->s[0], g, t->stem_z, N0, d[0], &t->stem_bn, &t->stem_st, 1) ||
	    conv_backward(ctx, NULL, t->s[0], t->xin, B, t->H, t->W, c->in_channels, d[0], 7, 1, 3,
			  t->wp_stem, t->stem_w, t->stem_b))
		goto fail;

	/* the threads' sums, in thread order, for the trainable tensors */
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *sp = &m->specs[i];
		if (!sp->trainable)
			continue;
		long n = (long)sp->numel;
#pragma omp parallel for schedule(static) num_threads(ctx->T)
		for (long j = 0; j < n; j++) {
			float s = 0.0f;
			for (int k = 0; k < ctx->T; k++)
				s += ctx->tgrad[k][sp->offset + j];
			grad[sp->offset + j] += s;
		}
	}
	return 0;
fail:
	return tf_seterr("training backward pass: %s", tf_strerror()), -1;
}
