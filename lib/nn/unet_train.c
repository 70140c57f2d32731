/* TFSWA-UNet training pass (unet_train.h): the network of
 * doc/architecture.md ("Stages", "The TFSWA block"), walked as lib/arch.h
 * lists it, with BatchNorm on batch statistics, keeping what the backward
 * pass needs, and the backward pass to parameter gradients. Layer drivers
 * are in train_layers.c and train_branch.c. Activations are channel-last
 * over the whole batch, [B][H][W][C], since BatchNorm's statistics span
 * the batch.
 *
 * Everything a step needs is allocated by unet_train_new: the activations,
 * the gradient buffers and, as the inference plan does (exec.h), each
 * thread's scratch for the largest layer, sized by the drivers' own
 * carving code and carved by each parallel region; the threads are the
 * caller's. A step allocates nothing and cannot fail.
 *
 * The stages are the table's (lib/arch.h). A stage with blocks keeps the
 * inputs of its blocks and its output in xs[0..depth] (the stem its output
 * in xs[0], which the first encoder stage's blocks take as their input);
 * that is all a block keeps with checkpointing, otherwise each block also
 * keeps its own activations (struct bacts: about 6C + 3 (9C + heads)
 * floats per pixel).
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
#include <assert.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "error.h"
#include "kernels/activation.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/resize.h"
#include "kernels/smallgemm.h"
#include "kernels/wgrad.h"
#include "tensor.h"
#include "train_layers.h"
#include "unet.h"
#include "unet_train.h"

#define ROW_CHUNK 256

struct blk {
	int C, shift;
	size_t inp_w, inp_b, fus_w, fus_b;
	struct bn_off bn1, bn2;
	struct tl_off br[ARCH_BRANCHES]; /* tsa (along H), fsa (along W), swa (windows) */
};

struct bacts { /* a block's activations for the backward pass */
	float *z1, *x, *z2, *br[3];
	struct bn_stat s1, s2;
	struct branch_acts ba[3];
};

struct tconv { /* a stage's convolution */
	const struct arch_conv *l;
	size_t w, b;        /* offsets of its weight and bias */
	struct bn_off bn;
	struct bn_stat st;
	float *wp;          /* prepared weight (k x k and transposed convolutions) */
	float *z;           /* its output before BatchNorm */
};

struct tstage {
	struct tconv conv[2];
	int depth, level;
	struct blk *blk;
	float **xs;
	struct bacts *acts; /* per block, or NULL with checkpointing */
	float *dskip;       /* a kept stage: the gradient its output gets as a skip */
};

struct unet_train {
	struct unet_config cfg;
	struct arch arch;
	int B, H, W, checkpoint;
	int forwarded; /* a forward pass has filled the activations */
	int hs[UNET_LEVELS], ws[UNET_LEVELS];
	size_t n[UNET_LEVELS]; /* pixels over the batch at each level */
	struct tctx ctx;
	size_t nparams, bytes;
	float **owned;
	int nowned;

	struct tstage st[ARCH_MAX_STAGES];
	struct bacts shared;        /* the block being recomputed (checkpointing) */
	float *shared_mem;

	float *xin, *masks;  /* masks [N0][out] */
	float *g[2], *s[3];  /* backward: gradients and scratch */
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

static size_t off(const struct model *m, int i)
{
	return m->specs[i].offset;
}

static void bn_offsets(const struct model *m, struct bn_off *o, int bn)
{
	*o = (struct bn_off){off(m, bn), off(m, bn + 1), off(m, bn + 2), off(m, bn + 3)};
}

static int bn_stat_alloc(struct unet_train *t, struct bn_stat *s, int C)
{
	s->mean = own(t, (size_t)C);
	s->istd = own(t, (size_t)C);
	return s->mean && s->istd ? 0 : -1;
}

static void block_offsets(const struct model *m, struct blk *k, const struct arch_block *a)
{
	k->C = a->C;
	k->shift = a->shift;
	k->inp_w = off(m, a->in_proj.w), k->inp_b = off(m, a->in_proj.b);
	k->fus_w = off(m, a->fusion.w), k->fus_b = off(m, a->fusion.b);
	bn_offsets(m, &k->bn1, a->in_proj.bn);
	bn_offsets(m, &k->bn2, a->fusion.bn);
	for (int r = 0; r < ARCH_BRANCHES; r++) {
		const struct arch_tlayer *l = &a->br[r];
		k->br[r] = (struct tl_off){
			.n1w = off(m, l->norm1_w), .n1b = off(m, l->norm1_b), .n2w = off(m, l->norm2_w),
			.n2b = off(m, l->norm2_b), .qkv = off(m, l->qkv_w), .proj_w = off(m, l->proj_w),
			.proj_b = off(m, l->proj_b), .fc1_w = off(m, l->fc1_w), .fc1_b = off(m, l->fc1_b),
			.fc2_w = off(m, l->fc2_w), .fc2_b = off(m, l->fc2_b)};
	}
}

static size_t bacts_floats(const struct unet_train *t, int level)
{
	int C = t->cfg.dims[level], hid = config_mlp_hidden(&t->cfg, C);
	size_t f = 6 * t->n[level] * C;
	for (int r = 0; r < ARCH_BRANCHES; r++)
		f += branch_acts_floats(branch_tokens((enum axis)r, t->B, t->hs[level], t->ws[level],
						      t->cfg.window_size), C, hid, t->cfg.num_heads);
	return f;
}

/* Lays out a block's activations at a level in mem (bacts_floats floats). */
static void bacts_carve(const struct unet_train *t, struct bacts *a, float *mem, int level)
{
	int C = t->cfg.dims[level], hid = config_mlp_hidden(&t->cfg, C), heads = t->cfg.num_heads;
	size_t nc = t->n[level] * C;
	a->z1 = mem, mem += nc;
	a->x = mem, mem += nc;
	a->z2 = mem, mem += nc;
	for (int r = 0; r < ARCH_BRANCHES; r++) {
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

/* The input level of stage s's convolutions: the previous stage's. */
static int in_level(const struct unet_train *t, int s)
{
	return s ? t->arch.stage[s - 1].level : 0;
}

/* Each thread's scratch, the largest any layer carves, and BatchNorm's
 * shared buffer, the largest any BatchNorm takes: the layers in the order
 * the passes run them, sized by the drivers' own carving code. */
static int scratch_setup(struct unet_train *t)
{
	const struct arch *a = &t->arch;
	struct tctx *ctx = &t->ctx;
	int B = t->B;
	size_t most = 0, shared = 0;
#define MAX(v, x) ((v) = (x) > (v) ? (x) : (v))
	for (int s = 0; s < a->nstages; s++) {
		const struct arch_stage *as = &a->stage[s];
		int li = in_level(t, s), l = as->level, h = t->hs[li], w = t->ws[li];
		for (int k = 0; k < as->nconvs; k++) {
			const struct arch_conv *ac = &as->conv[k];
			if (ac->bn < 0) { /* the mask head's 1x1 */
				MAX(most, pw_scratch_bytes(ac->ci));
			} else if (ac->kind == LAYER_CONVT) {
				MAX(most, convt_scratch_bytes(w, ac->ci, ac->co));
				MAX(shared, bn_shared_bytes((size_t)B * 4 * h * w, ac->co));
			} else {
				MAX(most, conv_scratch_bytes(w, ac->ci, ac->co, ac->k, ac->stride, ac->pad));
				MAX(shared, bn_shared_bytes(t->n[l], ac->co));
			}
			h = t->hs[l], w = t->ws[l];
		}
		for (int b = 0; b < as->nblocks; b++) {
			const struct arch_block *ab = &as->blocks[b];
			MAX(most, pw_scratch_bytes(ab->C)); /* input projection and fusion */
			MAX(shared, bn_shared_bytes(t->n[l], ab->C));
			for (int r = 0; r < ARCH_BRANCHES; r++)
				MAX(most, branch_scratch_bytes(ctx, B, t->hs[l], t->ws[l], ab->C, &t->cfg, (enum axis)r,
							       r == WINDOWS ? ab->shift : 0));
		}
	}
#undef MAX
	ctx->ex.per_thread = (most + 63) & ~(size_t)63;
	ctx->shared_bytes = (shared + 63) & ~(size_t)63;
	if (!(ctx->ex.scratch = (char *)own(t, ctx->ex.threads * ctx->ex.per_thread / sizeof(float))) ||
	    !(ctx->shared = (char *)own(t, ctx->shared_bytes / sizeof(float))))
		return -1;
	/* BLIS's pools, at their largest for these threads, so that no pass
	 * makes them grow */
	return gemm_prime(ctx->ex.threads) ? tf_seterr("out of memory") : 0;
}

static int setup(struct unet_train *t, const struct model *m)
{
	const struct unet_config *c = &t->cfg;
	const struct arch *a = &t->arch;
	const int *d = c->dims;
	int B = t->B, L = a->nlevels;
	size_t maxnc = (size_t)B * t->H * t->W * (c->in_channels > c->out_channels ? c->in_channels : c->out_channels);

	for (int l = 0; l < L; l++) {
		size_t up = l < L - 1 ? (size_t)B * 4 * t->hs[l + 1] * t->ws[l + 1] * d[l] : 0;
		maxnc = t->n[l] * d[l] > maxnc ? t->n[l] * d[l] : maxnc;
		maxnc = up > maxnc ? up : maxnc;
	}
	for (int s = 0; s < a->nstages; s++) {
		const struct arch_stage *as = &a->stage[s];
		struct tstage *ts = &t->st[s];
		int li = in_level(t, s), l = as->level;
		ts->level = l;
		ts->depth = as->nblocks;
		/* its convolutions: prepared weights, BatchNorm statistics, outputs */
		for (int k = 0; k < as->nconvs; k++) {
			const struct arch_conv *ac = &as->conv[k];
			struct tconv *tc = &ts->conv[k];
			tc->l = ac;
			tc->w = off(m, ac->w), tc->b = off(m, ac->b);
			if (ac->bn < 0) /* the mask head's 1x1: a product on the params, into masks */
				continue;
			bn_offsets(m, &tc->bn, ac->bn);
			size_t zn = ac->kind == LAYER_CONVT ? (size_t)B * 4 * t->hs[li] * t->ws[li] * ac->co
							    : t->n[l] * ac->co;
			if (!(tc->wp = own(t, (size_t)ac->co * ac->ci * ac->k * ac->k)) ||
			    bn_stat_alloc(t, &tc->st, ac->co) || !(tc->z = own(t, zn)))
				return -1;
		}
		/* its blocks, and where they keep their inputs and output */
		if (!(ts->blk = calloc((size_t)ts->depth + 1, sizeof *ts->blk)) ||
		    !(ts->xs = calloc((size_t)ts->depth + 1, sizeof *ts->xs)))
			return tf_seterr("out of memory");
		for (int b = 0; b < ts->depth; b++)
			block_offsets(m, &ts->blk[b], &as->blocks[b]);
		if (as->role == STAGE_HEAD)
			continue;
		for (int b = 0; b <= ts->depth; b++)
			if (b == 0 && !as->nconvs) /* its input is the previous stage's output */
				ts->xs[0] = t->st[s - 1].xs[t->st[s - 1].depth];
			else if (!(ts->xs[b] = own(t, t->n[l] * d[l])))
				return -1;
		if (!t->checkpoint) {
			if (!(ts->acts = calloc((size_t)ts->depth + 1, sizeof *ts->acts)))
				return tf_seterr("out of memory");
			for (int b = 0; b < ts->depth; b++)
				if (bacts_alloc(t, &ts->acts[b], l))
					return -1;
		}
		if (as->keep && !(ts->dskip = own(t, t->n[l] * d[l])))
			return -1;
	}
	if (t->checkpoint) { /* one set, carved for each level as it is used */
		size_t best = 0;
		for (int l = 0; l < L; l++)
			best = bacts_floats(t, l) > best ? bacts_floats(t, l) : best;
		int maxc = 0;
		for (int l = 0; l < L; l++)
			maxc = d[l] > maxc ? d[l] : maxc;
		if (!(t->shared_mem = own(t, best)) || bn_stat_alloc(t, &t->shared.s1, maxc) ||
		    bn_stat_alloc(t, &t->shared.s2, maxc))
			return -1;
	}
	if (!(t->xin = own(t, t->n[0] * c->in_channels)) || !(t->masks = own(t, t->n[0] * c->out_channels)))
		return -1;
	for (int i = 0; i < 2; i++)
		if (!(t->g[i] = own(t, maxnc)))
			return -1;
	for (int i = 0; i < 3; i++)
		if (!(t->s[i] = own(t, maxnc)))
			return -1;
	t->nparams = m->nparams;
	if (!(t->ctx.tgrad = calloc((size_t)t->ctx.ex.threads, sizeof *t->ctx.tgrad)))
		return tf_seterr("out of memory");
	for (int i = 0; i < t->ctx.ex.threads; i++)
		if (!(t->ctx.tgrad[i] = own(t, m->nparams)))
			return -1;
	if (smallgemm_available() && !(t->ctx.wt = own(t, m->nparams)))
		return -1;
	return scratch_setup(t);
}

void unet_train_free(struct unet_train *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->nowned; i++)
		free(t->owned[i]);
	free(t->owned);
	for (int s = 0; s < ARCH_MAX_STAGES; s++)
		free(t->st[s].blk), free(t->st[s].xs), free(t->st[s].acts);
	free(t->ctx.tgrad);
	arch_free(&t->arch);
	free(t);
}

struct unet_train *unet_train_new(const struct model *m, int B, int H, int W, int checkpoint, int threads)
{
	struct unet_train *t;
	if (B < 1 || H < UNET_MIN_SIZE || W < UNET_MIN_SIZE)
		return tf_seterr("batch %d of %d x %d: need B >= 1 and H, W >= %d", B, H, W, UNET_MIN_SIZE), NULL;
	if (threads < 1)
		return tf_seterr("%d threads: need at least 1", threads), NULL;
	if (!(t = calloc(1, sizeof *t)))
		return tf_seterr("out of memory"), NULL;
	t->ctx.ex.threads = threads;
	t->cfg = m->cfg;
	t->B = B, t->H = H, t->W = W, t->checkpoint = checkpoint != 0;
	if (arch_init(&t->arch, &m->cfg)) {
		free(t);
		return NULL;
	}
	arch_level_sizes(&t->arch, H, W, t->hs, t->ws);
	for (int l = 0; l < t->arch.nlevels; l++)
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

/* The regions below are run by every thread of the team (PARALLEL); each
 * carves its scratch from the thread's slice and shares the loop. */

/* z2 = concat[br0, br1, br2] fusion^T + bias: three products, no concat. */
static void fusion_forward_region(struct tctx *ctx, float *z2, float *const br[3], size_t n, int C,
				  const struct blk *k)
{
	long chunks = (long)((n + ROW_CHUNK - 1) / ROW_CHUNK);
	float *buf = fq_scratch(ctx, C);
#pragma omp for schedule(static)
	for (long q = 0; q < chunks; q++) {
		size_t r0 = (size_t)q * ROW_CHUNK, rows = n - r0 < ROW_CHUNK ? n - r0 : ROW_CHUNK;
		for (int r = 0; r < ARCH_BRANCHES; r++)
			product_nt((int)rows, C, C, fq_rows(buf, br[r] + r0 * C, rows, C, ctx->fq_act), C,
				   P(ctx, k->fus_w) + (size_t)r * C, 3 * C,
				   WT(ctx, k->fus_w + (size_t)r * C * C), r > 0, z2 + r0 * C, C);
		bias_add_forward(z2 + r0 * C, P(ctx, k->fus_b), rows, C);
	}
}

/* out = out + x0 (+ skip), n floats */
static void residual_region(float *out, const float *x0, const float *skip, size_t n)
{
	long chunks = (long)((n + 4095) / 4096);
#pragma omp for schedule(static)
	for (long q = 0; q < chunks; q++) {
		size_t i0 = (size_t)q * 4096, i1 = i0 + 4096 < n ? i0 + 4096 : n;
		for (size_t i = i0; i < i1; i++)
			out[i] = skip ? (out[i] + x0[i]) + skip[i] : out[i] + x0[i];
	}
}

/* out = GELU(BN(fusion(branches(BN(input_proj(x0)))))) + x0 (+ skip). */
static void block_forward(struct unet_train *t, const struct blk *k, struct bacts *a, float *out,
			  const float *x0, const float *skip, int level)
{
	struct tctx *ctx = &t->ctx;
	int C = k->C, h = t->hs[level], w = t->ws[level];
	size_t n = t->n[level];
	pw_forward(ctx, a->z1, x0, n, C, C, k->inp_w, k->inp_b, ctx->fq_act);
	bn_forward(ctx, a->x, a->z1, n, C, &k->bn1, &a->s1, 0);
	for (int r = 0; r < ARCH_BRANCHES; r++)
		branch_forward(ctx, a->br[r], a->x, t->B, h, w, C, &t->cfg, &k->br[r], (enum axis)r,
			       r == WINDOWS ? k->shift : 0, &a->ba[r]);
	PARALLEL(&ctx->ex, fusion_forward_region(ctx, a->z2, a->br, n, C, k));
	bn_forward(ctx, out, a->z2, n, C, &k->bn2, &a->s2, 1);
	PARALLEL(&ctx->ex, residual_region(out, x0, skip, n * C));
}

/* The fusion's weight and bias gradients from dz2. */
static void fusion_backward_region(struct tctx *ctx, const float *dz2, float *const br[3], size_t n, int C,
				   const struct blk *k)
{
	long chunks = (long)((n + ROW_CHUNK - 1) / ROW_CHUNK);
	float *g = ctx->tgrad[omp_get_thread_num()];
	float *buf = fq_scratch(ctx, C);
#pragma omp for schedule(static)
	for (long q = 0; q < chunks; q++) {
		size_t r0 = (size_t)q * ROW_CHUNK, rows = n - r0 < ROW_CHUNK ? n - r0 : ROW_CHUNK;
		const float *d = dz2 + r0 * C;
		for (int r = 0; r < ARCH_BRANCHES; r++)
			wgrad(C, C, (int)rows, d, C, fq_rows(buf, br[r] + r0 * C, rows, C, ctx->fq_act), C,
				g + k->fus_w + (size_t)r * C, 3 * C);
		wgrad_bias(C, (int)rows, d, C, g + k->fus_b);
	}
}

/* dbr = dz2 times branch r's slice of the fusion weight. */
static void fusion_dx_region(struct tctx *ctx, float *dbr, const float *dz2, size_t n, int C, const struct blk *k,
			     int r)
{
	long chunks = (long)((n + ROW_CHUNK - 1) / ROW_CHUNK);
#pragma omp for schedule(static)
	for (long q = 0; q < chunks; q++) {
		size_t r0 = (size_t)q * ROW_CHUNK, rows = n - r0 < ROW_CHUNK ? n - r0 : ROW_CHUNK;
		product_nn((int)rows, C, C, dz2 + r0 * C, C, P(ctx, k->fus_w) + (size_t)r * C, 3 * C, 0, dbr + r0 * C,
			   C);
	}
}

/* dx0 = dL/dx0 given dy = dL/dout (dx0 != dy); dskip = dy if wanted. */
static void block_backward(struct unet_train *t, const struct blk *k, const struct bacts *a,
			   float *dx0, const float *dy, const float *x0, float *dskip, int level)
{
	struct tctx *ctx = &t->ctx;
	int C = k->C, h = t->hs[level], w = t->ws[level];
	size_t n = t->n[level];
	float *dz2 = t->s[0], *dbr = t->s[1], *dxb = t->s[2];
	if (dskip)
		memcpy(dskip, dy, n * C * sizeof *dy);
	bn_backward(ctx, dz2, dy, a->z2, n, C, &k->bn2, &a->s2, 1);
	PARALLEL(&ctx->ex, fusion_backward_region(ctx, dz2, a->br, n, C, k));
	memset(dxb, 0, n * C * sizeof *dxb);
	for (int r = 0; r < ARCH_BRANCHES; r++) {
		PARALLEL(&ctx->ex, fusion_dx_region(ctx, dbr, dz2, n, C, k, r));
		branch_backward(ctx, dxb, dbr, a->x, t->B, h, w, C, &t->cfg, &k->br[r], (enum axis)r,
				r == WINDOWS ? k->shift : 0, &a->ba[r]);
	}
	bn_backward(ctx, dz2, dxb, a->z1, n, C, &k->bn1, &a->s1, 0);
	memcpy(dx0, dy, n * C * sizeof *dy);
	pw_backward(ctx, dx0, dz2, x0, n, C, C, k->inp_w, k->inp_b, ctx->fq_act);
}

/* The output of stage s (the last of its xs). */
static float *stage_out(const struct unet_train *t, int s)
{
	return t->st[s].xs[t->st[s].depth];
}

/* The skip stage s's first block adds, or NULL. */
static const float *stage_skip(const struct unet_train *t, int s)
{
	int k = t->arch.stage[s].skip;
	return k >= 0 ? stage_out(t, k) : NULL;
}

static void stage_forward(struct unet_train *t, int s)
{
	struct tstage *ts = &t->st[s];
	const float *skip = stage_skip(t, s);
	if (t->checkpoint)
		bacts_carve(t, &t->shared, t->shared_mem, ts->level);
	for (int b = 0; b < ts->depth; b++)
		block_forward(t, &ts->blk[b], t->checkpoint ? &t->shared : &ts->acts[b], ts->xs[b + 1], ts->xs[b],
			      b == 0 ? skip : NULL, ts->level);
}

/* *g holds dL/d(stage output); on return dL/d(stage input) (buffers swap). */
static void stage_backward(struct unet_train *t, int s, float **g, float **spare, float *dskip)
{
	struct tstage *ts = &t->st[s];
	int l = ts->level;
	for (int b = ts->depth - 1; b >= 0; b--) {
		const float *skip = b == 0 ? stage_skip(t, s) : NULL;
		struct bacts *a = &t->shared;
		if (t->checkpoint) {
			/* recompute the block from its input: the same code on the
			 * same numbers, so the same bits; the running statistics
			 * were updated once already */
			bacts_carve(t, a, t->shared_mem, l);
			t->ctx.update_running = 0;
			block_forward(t, &ts->blk[b], a, t->s[0], ts->xs[b], skip, l);
		} else {
			a = &ts->acts[b];
		}
		block_backward(t, &ts->blk[b], a, *spare, *g, ts->xs[b], skip ? dskip : NULL, l);
		float *x = *g;
		*g = *spare, *spare = x;
	}
}

/* ---------------------------------------------------------------- network */

/* W [N][K] (rows ldw apart) transposed into wt for smallgemm, if the
 * product runs on it. */
static void pack(float *wt, const float *w, int ldw, int N, int K)
{
	if (smallgemm_runs(N, K))
		smallgemm_pack(wt, w, ldw, N, K);
}

/* Every weight a block's products name with WT (product_nt), packed. */
static void pack_block(const struct tctx *ctx, const struct blk *k, int hid)
{
	int C = k->C;
	float *wt = ctx->wt, *p = ctx->params;
	pack(wt + k->inp_w, p + k->inp_w, C, C, C);
	for (int r = 0; r < ARCH_BRANCHES; r++) {
		const struct tl_off *L = &k->br[r];
		pack(wt + k->fus_w + (size_t)r * C * C, p + k->fus_w + (size_t)r * C, 3 * C, C, C);
		pack(wt + L->qkv, p + L->qkv, C, 3 * C, C);
		pack(wt + L->proj_w, p + L->proj_w, C, C, C);
		pack(wt + L->fc1_w, p + L->fc1_w, C, hid, C);
		pack(wt + L->fc2_w, p + L->fc2_w, hid, C, hid);
	}
}

/* The pass's copies of the weights: the convolutions' prepared layouts, and
 * the narrow products' transposes (ctx->wt) */
static void prepare_weights(struct unet_train *t)
{
	const struct tctx *ctx = &t->ctx;
	float *p = ctx->params;
	for (int s = 0; s < t->arch.nstages; s++) {
		const struct tstage *ts = &t->st[s];
		for (int k = 0; k < t->arch.stage[s].nconvs; k++) {
			const struct tconv *tc = &ts->conv[k];
			const struct arch_conv *l = tc->l;
			if (l->bn < 0 && ctx->wt) /* the mask head's 1x1 (pw_forward) */
				pack(ctx->wt + tc->w, p + tc->w, l->ci, l->co, l->ci);
			if (!tc->wp)
				continue;
			if (l->kind == LAYER_CONVT)
				convt4s2_weight_prepare(tc->wp, p + tc->w, l->ci, l->co);
			else
				conv2d_weight_prepare(tc->wp, p + tc->w, l->co, l->ci, l->k);
		}
		for (int b = 0; ctx->wt && b < ts->depth; b++)
			pack_block(ctx, &ts->blk[b], t->arch.stage[s].blocks[b].hidden);
	}
}

/* Bilinear resizing of each of B images in [hi][wi][C] to out [Ho][Wo][C]. */
static void resize_region(float *out, const float *in, int B, int hi, int wi, int C, int Ho, int Wo)
{
	for (int b = 0; b < B; b++) {
#pragma omp for schedule(static)
		for (int r = 0; r < Ho; r++)
			resize_bilinear_rows(out + (size_t)b * Ho * Wo * C, in + (size_t)b * hi * wi * C, hi, wi, C, Ho,
					     Wo, r, r + 1);
	}
}

/* Stage s's convolutions on x (the previous stage's output; the input for
 * the stem): into its first blocks' input, resized to the level's size
 * when the upsampling's result differs; the head's into masks. */
static void convs_forward(struct unet_train *t, int s, const float *x)
{
	const struct unet_config *c = &t->cfg;
	struct tctx *ctx = &t->ctx;
	struct tstage *ts = &t->st[s];
	int B = t->B, l = ts->level, li = in_level(t, s), h = t->hs[li], w = t->ws[li];
	for (int k = 0; k < t->arch.stage[s].nconvs; k++) {
		struct tconv *tc = &ts->conv[k];
		const struct arch_conv *L = tc->l;
		if (L->bn < 0) { /* the mask head stays in float in q8 models: never fake-quantised */
			pw_forward(ctx, t->masks, x, t->n[l], L->ci, L->co, tc->w, tc->b, 0);
			sigmoid_forward(t->masks, t->n[0] * c->out_channels);
			continue;
		}
		/* a stage's last convolution feeds its blocks; the head's first, its second */
		float *y = t->arch.stage[s].role == STAGE_HEAD ? t->s[0] : ts->xs[0];
		if (L->kind == LAYER_CONVT) {
			size_t nup = (size_t)B * 4 * h * w;
			int resize = 2 * h != t->hs[l] || 2 * w != t->ws[l];
			float *out = y;
			y = resize ? t->s[0] : y;
			convt_forward(ctx, tc->z, x, B, h, w, L->ci, L->co, tc->wp, tc->b);
			bn_forward(ctx, y, tc->z, nup, L->co, &tc->bn, &tc->st, L->gelu);
			if (resize) /* odd sizes: to the skip's size */
				PARALLEL(&ctx->ex, resize_region(out, y, B, 2 * h, 2 * w, L->co, t->hs[l], t->ws[l]));
		} else {
			conv_forward(ctx, tc->z, x, B, h, w, L->ci, L->co, L->k, L->stride, L->pad, tc->wp, tc->b);
			bn_forward(ctx, y, tc->z, t->n[l], L->co, &tc->bn, &tc->st, L->gelu);
		}
		x = y;
		h = t->hs[l], w = t->ws[l];
	}
}

int unet_train_forward(struct unet_train *t, struct model *m, const float *in, float *masks)
{
	const struct unet_config *c = &t->cfg;
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
	for (int s = 0; s < t->arch.nstages; s++) {
		convs_forward(t, s, s ? stage_out(t, s - 1) : t->xin);
		stage_forward(t, s);
	}
	for (int b = 0; b < B; b++)
		for (int o = 0; o < c->out_channels; o++)
			for (size_t p = 0; p < n0; p++)
				masks[((size_t)b * c->out_channels + o) * n0 + p] =
					t->masks[((size_t)b * n0 + p) * c->out_channels + o];
	t->forwarded = 1;
	return 0;
}

/* The head backward, from dmasks: *g becomes dL/d(its input). */
static void head_backward(struct unet_train *t, int s, const float *dmasks, float *g)
{
	struct tctx *ctx = &t->ctx;
	const struct tconv *c0 = &t->st[s].conv[0], *c1 = &t->st[s].conv[1];
	int B = t->B, out = t->cfg.out_channels, d0 = c0->l->co;
	size_t n0 = (size_t)t->H * t->W, N0 = t->n[0];
	/* sigmoid, Conv1x1, GELU(BN), Conv3x3 */
	float *dlogit = t->s[2], *h = t->s[0], *dh = t->s[1];
	for (int b = 0; b < B; b++)
		for (int o = 0; o < out; o++)
			for (size_t p = 0; p < n0; p++) {
				size_t i = ((size_t)b * n0 + p) * out + o;
				float y = t->masks[i];
				dlogit[i] = dmasks[((size_t)b * out + o) * n0 + p] * y * (1.0f - y);
			}
	bn_apply(ctx, h, c0->z, N0, d0, &c0->bn, &c0->st, 1);
	memset(dh, 0, N0 * d0 * sizeof *dh);
	pw_backward(ctx, dh, dlogit, h, N0, d0, out, c1->w, c1->b, 0);
	bn_backward(ctx, h, dh, c0->z, N0, d0, &c0->bn, &c0->st, 1);
	memset(g, 0, N0 * d0 * sizeof *g);
	conv_backward(ctx, g, h, stage_out(t, s - 1), B, t->H, t->W, d0, d0, c0->l->k, c0->l->stride, c0->l->pad,
		      c0->wp, c0->w, c0->b);
}

/* The backward of stage s's convolution (other than the head's): *g holds
 * dL/d(its blocks' input), and becomes dL/d(the previous stage's output)
 * (plus that output's skip gradient when a later stage adds it). */
static void conv_backward_stage(struct unet_train *t, int s, float **g, float **spare)
{
	struct tctx *ctx = &t->ctx;
	const struct tconv *tc = &t->st[s].conv[0];
	const struct arch_conv *L = tc->l;
	int B = t->B, l = t->st[s].level, li = in_level(t, s), hh = t->hs[li], ww = t->ws[li];
	if (L->kind == LAYER_CONVT) {
		size_t nup = (size_t)B * 4 * hh * ww;
		int resize = 2 * hh != t->hs[l] || 2 * ww != t->ws[l];
		float *dy = *g;
		if (resize) {
			dy = t->s[1];
			memset(dy, 0, nup * L->co * sizeof *dy);
			for (int b = 0; b < B; b++)
				resize_bilinear_backward(dy + (size_t)b * 4 * hh * ww * L->co,
							 *g + (size_t)b * t->hs[l] * t->ws[l] * L->co, 2 * hh, 2 * ww,
							 L->co, t->hs[l], t->ws[l]);
		}
		bn_backward(ctx, t->s[0], dy, tc->z, nup, L->co, &tc->bn, &tc->st, L->gelu);
	} else {
		bn_backward(ctx, t->s[0], *g, tc->z, t->n[l], L->co, &tc->bn, &tc->st, L->gelu);
	}
	if (s == 0) { /* the stem: no gradient for the input */
		conv_backward(ctx, NULL, t->s[0], t->xin, B, t->H, t->W, L->ci, L->co, L->k, L->stride, L->pad, tc->wp,
			      tc->w, tc->b);
		return;
	}
	const struct tstage *prev = &t->st[s - 1];
	size_t nin = t->n[li] * L->ci;
	if (prev->dskip) /* an encoder stage's output also went to its skip */
		memcpy(*spare, prev->dskip, nin * sizeof **spare);
	else
		memset(*spare, 0, nin * sizeof **spare);
	if (L->kind == LAYER_CONVT)
		convt_backward(ctx, *spare, t->s[0], stage_out(t, s - 1), B, hh, ww, L->ci, L->co, tc->wp, tc->w, tc->b);
	else
		conv_backward(ctx, *spare, t->s[0], stage_out(t, s - 1), B, hh, ww, L->ci, L->co, L->k, L->stride,
			      L->pad, tc->wp, tc->w, tc->b);
	float *x = *g;
	*g = *spare, *spare = x;
}

/* grad += the threads' gradients of n entries from offset, summed in
 * thread order. */
static void grad_sum_region(const struct tctx *ctx, float *grad, size_t offset, long n)
{
#pragma omp for schedule(static)
	for (long j = 0; j < n; j++) {
		float s = 0.0f;
		for (int k = 0; k < ctx->ex.threads; k++)
			s += ctx->tgrad[k][offset + j];
		grad[offset + j] += s;
	}
}

int unet_train_backward(struct unet_train *t, const struct model *m, const float *dmasks,
			float *grad)
{
	struct tctx *ctx = &t->ctx;
	float *g = t->g[0], *spare = t->g[1];
	if (!t->forwarded)
		return tf_seterr("training backward pass without a forward pass");
	ctx->params = m->params;
	ctx->update_running = 0;
	for (int i = 0; i < ctx->ex.threads; i++)
		memset(ctx->tgrad[i], 0, t->nparams * sizeof(float));

	/* the stages, last first: the head, then each stage's blocks and the
	 * convolution that feeds them */
	for (int s = t->arch.nstages - 1; s >= 0; s--) {
		const struct arch_stage *as = &t->arch.stage[s];
		if (as->role == STAGE_HEAD) {
			head_backward(t, s, dmasks, g);
			continue;
		}
		int k = as->skip;
		stage_backward(t, s, &g, &spare, k >= 0 ? t->st[k].dskip : NULL);
		if (as->nconvs)
			conv_backward_stage(t, s, &g, &spare);
	}

	/* the threads' sums, in thread order, for the trainable tensors */
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *sp = &m->specs[i];
		if (sp->trainable)
			PARALLEL(&ctx->ex, grad_sum_region(ctx, grad, sp->offset, (long)sp->numel));
	}
	return 0;
}
