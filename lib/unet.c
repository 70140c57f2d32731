/* TFSWA-UNet forward pass. Activations are channel-last, x[h][w][c], so that
 * every 1x1 convolution and linear layer is one matrix product over pixels
 * and every token sequence of the three attention branches is a gather of
 * C-float rows. Work is split over OpenMP threads by rows or by groups of
 * sequences; the kernels themselves are single-threaded. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/norm.h"
#include "kernels/resize.h"
#include "tensor.h"
#include "unet.h"

struct linear {
	const float *w, *b; /* w [out][in] */
	int out, in;
};

struct tlayer { /* one pre-norm transformer layer: tsa, fsa or swa */
	const float *n1w, *n1b, *n2w, *n2b;
	struct linear qkv, proj, fc1, fc2;
};

struct conv { /* BatchNorm folded in; weights in the kernels' layouts */
	float *w, *b;
	int ci, co, k, stride, pad;
};

struct block {
	int C, shift;
	struct conv in_proj, fusion; /* 1x1: [C][C], [C][3C] */
	struct tlayer br[3];         /* tsa (along H), fsa (along W), swa (windows) */
};

struct unet {
	struct unet_config cfg;
	struct conv stem, down[3], up[3], head0, head3;
	struct block *enc[3], *bottleneck, *dec[3];
	float **owned;
	int nowned;
};

enum axis { ALONG_H, ALONG_W, WINDOWS };

/* ---------- preparation ---------- */

static float *own(struct unet *u, size_t n)
{
	float *p = tf_alloc_aligned(n, sizeof(float));
	float **o;
	if (!p)
		return NULL;
	if (!(o = realloc(u->owned, (size_t)(u->nowned + 1) * sizeof *o))) {
		free(p);
		tf_seterr("out of memory");
		return NULL;
	}
	u->owned = o;
	u->owned[u->nowned++] = p;
	return p;
}

static const float *param(const struct model *m, const char *fmt, const char *prefix)
{
	char name[MODEL_NAME_MAX + 32];
	snprintf(name, sizeof name, fmt, prefix);
	return model_param(m, name); /* the table guarantees presence */
}

/* A convolution "<prefix>.0" followed by BatchNorm "<prefix>.1" (or bn NULL). */
static int prep_conv(struct unet *u, const struct model *m, struct conv *c, const char *wname,
		     const char *bnprefix, int ci, int co, int k, int stride, int pad)
{
	char b[MODEL_NAME_MAX + 8];
	size_t per = (size_t)ci * k * k;
	float *tmp = tf_alloc(per * co, sizeof *tmp);
	*c = (struct conv){.ci = ci, .co = co, .k = k, .stride = stride, .pad = pad};
	if (!tmp || !(c->w = own(u, per * co)) || !(c->b = own(u, (size_t)co))) {
		free(tmp);
		return -1;
	}
	snprintf(b, sizeof b, "%.*s.bias", (int)(strlen(wname) - 7), wname);
	memcpy(tmp, model_param(m, wname), per * co * sizeof *tmp);
	memcpy(c->b, model_param(m, b), (size_t)co * sizeof *c->b);
	if (bnprefix)
		batchnorm_fold(tmp, c->b, (size_t)co, per, param(m, "%s.weight", bnprefix),
			       param(m, "%s.bias", bnprefix), param(m, "%s.running_mean", bnprefix),
			       param(m, "%s.running_var", bnprefix));
	conv2d_weight_prepare(c->w, tmp, co, ci, k);
	free(tmp);
	return 0;
}

/* ConvTranspose2d(4, 2, 1) "<prefix>.0" + BatchNorm "<prefix>.1". */
static int prep_convt(struct unet *u, const struct model *m, struct conv *c, const char *prefix, int ci,
		      int co)
{
	char n[MODEL_NAME_MAX + 32], bn[MODEL_NAME_MAX + 8];
	size_t per = 16, total = (size_t)ci * co * per;
	float *tmp = tf_alloc(total, sizeof *tmp);
	*c = (struct conv){.ci = ci, .co = co, .k = 4, .stride = 2, .pad = 1};
	if (!tmp || !(c->w = own(u, total)) || !(c->b = own(u, (size_t)co))) {
		free(tmp);
		return -1;
	}
	snprintf(n, sizeof n, "%s.0.weight", prefix);
	memcpy(tmp, model_param(m, n), total * sizeof *tmp);
	snprintf(n, sizeof n, "%s.0.bias", prefix);
	memcpy(c->b, model_param(m, n), (size_t)co * sizeof *c->b);
	snprintf(bn, sizeof bn, "%s.1", prefix);
	const float *g = param(m, "%s.weight", bn), *be = param(m, "%s.bias", bn),
		    *mu = param(m, "%s.running_mean", bn), *var = param(m, "%s.running_var", bn);
	/* the output channel is the second axis of [Ci][Co][4][4] */
	for (int o = 0; o < co; o++) {
		double s = g[o] / sqrt((double)var[o] + BN_EPS);
		for (int i = 0; i < ci; i++)
			for (size_t k = 0; k < per; k++)
				tmp[((size_t)i * co + o) * per + k] = (float)(tmp[((size_t)i * co + o) * per + k] * s);
		c->b[o] = (float)(((double)c->b[o] - mu[o]) * s + be[o]);
	}
	convt4s2_weight_prepare(c->w, tmp, ci, co);
	free(tmp);
	return 0;
}

static void prep_linear(const struct model *m, struct linear *l, const char *prefix, const char *name,
			int out, int in, int bias)
{
	char n[MODEL_NAME_MAX + 32];
	snprintf(n, sizeof n, "%s.%s.weight", prefix, name);
	l->w = model_param(m, n);
	snprintf(n, sizeof n, "%s.%s.bias", prefix, name);
	l->b = bias ? model_param(m, n) : NULL;
	l->out = out;
	l->in = in;
}

static struct block *prep_blocks(struct unet *u, const struct model *m, const char *stage, int depth,
				 int C)
{
	static const char *names[] = {"tsa", "fsa", "swa"};
	struct block *blocks = calloc((size_t)depth + 1, sizeof *blocks);
	int hidden = (int)((double)C * u->cfg.mlp_ratio);
	if (!blocks)
		return tf_seterr("out of memory"), NULL;
	for (int b = 0; b < depth; b++) {
		char p[MODEL_NAME_MAX], w[MODEL_NAME_MAX + 32], bn[MODEL_NAME_MAX + 32];
		struct block *k = &blocks[b];
		snprintf(p, sizeof p, "%s.%d", stage, b);
		k->C = C;
		k->shift = b % 2 ? u->cfg.shift_size : 0;
		snprintf(w, sizeof w, "%s.input_proj.0.weight", p);
		snprintf(bn, sizeof bn, "%s.input_proj.1", p);
		if (prep_conv(u, m, &k->in_proj, w, bn, C, C, 1, 1, 0))
			goto fail;
		snprintf(w, sizeof w, "%s.fusion.0.weight", p);
		snprintf(bn, sizeof bn, "%s.fusion.1", p);
		if (prep_conv(u, m, &k->fusion, w, bn, 3 * C, C, 1, 1, 0))
			goto fail;
		for (int r = 0; r < 3; r++) {
			char bp[MODEL_NAME_MAX + 8];
			struct tlayer *t = &k->br[r];
			snprintf(bp, sizeof bp, "%s.%s", p, names[r]);
			t->n1w = param(m, "%s.norm1.weight", bp);
			t->n1b = param(m, "%s.norm1.bias", bp);
			t->n2w = param(m, "%s.norm2.weight", bp);
			t->n2b = param(m, "%s.norm2.bias", bp);
			prep_linear(m, &t->qkv, bp, "attn.qkv", 3 * C, C, 0);
			prep_linear(m, &t->proj, bp, "attn.proj", C, C, 1);
			prep_linear(m, &t->fc1, bp, "mlp.0", hidden, C, 1);
			prep_linear(m, &t->fc2, bp, "mlp.3", C, hidden, 1);
		}
	}
	return blocks;
fail:
	free(blocks);
	return NULL;
}

struct unet *unet_prepare(const struct model *m)
{
	struct unet *u = calloc(1, sizeof *u);
	const int *d = m->cfg.dims;
	char n[64], bn[64];
	if (!u)
		return tf_seterr("out of memory"), NULL;
	u->cfg = m->cfg;
	gemm_init();
	if (prep_conv(u, m, &u->stem, "stem.0.weight", "stem.1", m->cfg.in_channels, d[0], 7, 1, 3))
		goto fail;
	for (int s = 0; s < 3; s++) {
		snprintf(n, sizeof n, "encoder_stages.%d", s);
		if (!(u->enc[s] = prep_blocks(u, m, n, m->cfg.depths[s], d[s])))
			goto fail;
		snprintf(n, sizeof n, "downsample_layers.%d.downsample.0.weight", s);
		snprintf(bn, sizeof bn, "downsample_layers.%d.downsample.1", s);
		if (prep_conv(u, m, &u->down[s], n, bn, d[s], d[s + 1], 4, 2, 1))
			goto fail;
	}
	if (!(u->bottleneck = prep_blocks(u, m, "bottleneck", m->cfg.depths[3], d[3])))
		goto fail;
	for (int i = 0; i < 3; i++) {
		int s = 2 - i;
		snprintf(n, sizeof n, "upsample_layers.%d.upsample", i);
		if (prep_convt(u, m, &u->up[i], n, d[s + 1], d[s]))
			goto fail;
		snprintf(n, sizeof n, "decoder_stages.%d", i);
		if (!(u->dec[i] = prep_blocks(u, m, n, m->cfg.depths[s], d[s])))
			goto fail;
	}
	if (prep_conv(u, m, &u->head0, "output_head.0.weight", "output_head.1", d[0], d[0], 3, 1, 1) ||
	    prep_conv(u, m, &u->head3, "output_head.3.weight", NULL, d[0], m->cfg.out_channels, 1, 1, 0))
		goto fail;
	return u;
fail:
	unet_free(u);
	return NULL;
}

void unet_free(struct unet *u)
{
	if (!u)
		return;
	for (int i = 0; i < u->nowned; i++)
		free(u->owned[i]);
	free(u->owned);
	for (int s = 0; s < 3; s++)
		free(u->enc[s]), free(u->dec[s]);
	free(u->bottleneck);
	free(u);
}

const struct unet_config *unet_config(const struct unet *u)
{
	return &u->cfg;
}

/* ---------- layers ---------- */

/* Rows per parallel work item for pixel-wise products. */
#define ROW_CHUNK 256

/* out[n][co] = conv(in) for 1x1 convolutions, then bias (and GELU). */
static void pointwise(float *out, const float *in, size_t n, const struct conv *c, int gelu)
{
	size_t chunks = (n + ROW_CHUNK - 1) / ROW_CHUNK;
#pragma omp parallel for schedule(static)
	for (size_t k = 0; k < chunks; k++) {
		size_t r0 = k * ROW_CHUNK, rows = n - r0 < ROW_CHUNK ? n - r0 : ROW_CHUNK;
		gemm_nt((int)rows, c->co, c->ci, in + r0 * c->ci, c->ci, c->w, c->ci, 0.0f,
			out + r0 * c->co, c->co);
		if (gelu)
			bias_gelu_forward(out + r0 * c->co, c->b, rows, c->co);
		else
			bias_add_forward(out + r0 * c->co, c->b, rows, c->co);
	}
}

/* A k x k convolution + bias + GELU over the whole image. */
static int conv_gelu(float *out, const float *in, int H, int W, const struct conv *c)
{
	int Ho = conv_out_size(H, c->k, c->stride, c->pad), Wo = conv_out_size(W, c->k, c->stride, c->pad);
	int rows = 4, nchunks = (Ho + rows - 1) / rows, failed = 0;
#pragma omp parallel
	{
		float *scratch = tf_alloc_aligned(conv2d_scratch_floats(Wo, rows, c->ci, c->k), sizeof(float));
		if (!scratch)
			failed = 1;
#pragma omp for schedule(static)
		for (int k = 0; k < nchunks; k++) {
			int r0 = k * rows, r1 = r0 + rows < Ho ? r0 + rows : Ho;
			if (!scratch)
				continue;
			conv2d_rows(out, in, c->w, NULL, H, W, c->ci, c->co, c->k, c->stride, c->pad, r0, r1,
				    scratch);
			bias_gelu_forward(out + (size_t)r0 * Wo * c->co, c->b, (size_t)(r1 - r0) * Wo, c->co);
		}
		free(scratch);
	}
	return failed ? -1 : 0;
}

static int convt_gelu(float *out, const float *in, int H, int W, const struct conv *c)
{
	int failed = 0;
#pragma omp parallel
	{
		float *scratch = tf_alloc_aligned(convt4s2_scratch_floats(W, c->ci), sizeof(float));
		if (!scratch)
			failed = 1;
#pragma omp for schedule(static)
		for (int m = 0; m < H; m++) {
			if (!scratch)
				continue;
			convt4s2_rows(out, in, c->w, NULL, H, W, c->ci, c->co, m, m + 1, scratch);
			bias_gelu_forward(out + (size_t)2 * m * 2 * W * c->co, c->b, (size_t)4 * W, c->co);
		}
		free(scratch);
	}
	return failed ? -1 : 0;
}

/* Where token t of sequence s comes from: a pixel index, or -1 for the zero
 * padding of the window branch. */
struct seqmap {
	enum axis axis;
	int H, W, ws, shift, Hp, Wp, nwin_w;
	int nseq, len;
};

static struct seqmap seqmap(enum axis axis, int H, int W, int ws, int shift)
{
	struct seqmap s = {axis, H, W, ws, shift, 0, 0, 0, 0, 0};
	switch (axis) {
	case ALONG_H: s.nseq = W, s.len = H; break;
	case ALONG_W: s.nseq = H, s.len = W; break;
	case WINDOWS:
		s.Hp = (H + ws - 1) / ws * ws;
		s.Wp = (W + ws - 1) / ws * ws;
		s.nwin_w = s.Wp / ws;
		s.nseq = (s.Hp / ws) * s.nwin_w;
		s.len = ws * ws;
		break;
	}
	return s;
}

static long source_pixel(const struct seqmap *m, int s, int t, int *region)
{
	int hs, wsx, hp, wp;
	switch (m->axis) {
	case ALONG_H: return (long)t * m->W + s;
	case ALONG_W: return (long)s * m->W + t;
	default: break;
	}
	/* window (i, j), row-major token (ph, pw) in the shifted, padded image;
	 * roll(-shift) means shifted[h] = padded[(h + shift) mod Hp] */
	hs = (s / m->nwin_w) * m->ws + t / m->ws;
	wsx = (s % m->nwin_w) * m->ws + t % m->ws;
	if (region) { /* Swin's regions of the shifted image, for the optional mask */
		int rh = hs < m->Hp - m->ws ? 0 : hs < m->Hp - m->shift ? 1 : 2;
		int rw = wsx < m->Wp - m->ws ? 0 : wsx < m->Wp - m->shift ? 1 : 2;
		*region = 3 * rh + rw;
	}
	hp = (hs + m->shift) % m->Hp;
	wp = (wsx + m->shift) % m->Wp;
	return hp < m->H && wp < m->W ? (long)hp * m->W + wp : -1;
}

struct layer_scratch {
	float *t, *u, *qkv, *o, *hid, *attn;
	int *region;
};

/* t = t + MHA(LN1(t)); t = t + MLP(LN2(t)) on n = nseq * len tokens. */
static void tlayer_forward(const struct tlayer *L, struct layer_scratch *s, int nseq, int len, int C,
			   int heads, int masked)
{
	int n = nseq * len, d = C / heads, hid = L->fc1.out;
	layernorm_forward(s->u, s->t, L->n1w, L->n1b, (size_t)n, C);
	gemm_nt(n, 3 * C, C, s->u, C, L->qkv.w, C, 0.0f, s->qkv, 3 * C);
	attention_forward(s->o, s->qkv, nseq, len, heads, d, 1.0f / sqrtf((float)d),
			  masked ? s->region : NULL, s->attn);
	gemm_nt(n, C, C, s->o, C, L->proj.w, C, 1.0f, s->t, C);
	bias_add_forward(s->t, L->proj.b, (size_t)n, C);
	layernorm_forward(s->u, s->t, L->n2w, L->n2b, (size_t)n, C);
	gemm_nt(n, hid, C, s->u, C, L->fc1.w, C, 0.0f, s->hid, hid);
	bias_gelu_forward(s->hid, L->fc1.b, (size_t)n, hid);
	gemm_nt(n, C, hid, s->hid, hid, L->fc2.w, hid, 1.0f, s->t, C);
	bias_add_forward(s->t, L->fc2.b, (size_t)n, C);
}

/* Tokens per work item: enough for efficient products, small enough that
 * each thread's buffers stay in the low megabytes. */
#define TOKENS_PER_CHUNK 4096

/* One attention branch over the whole image: out = branch(x). */
static int branch_forward(float *out, const float *x, int H, int W, int C, const struct tlayer *L,
			  const struct unet_config *cfg, enum axis axis, int shift)
{
	struct seqmap map = seqmap(axis, H, W, cfg->window_size, shift);
	int per = map.len >= TOKENS_PER_CHUNK ? 1 : TOKENS_PER_CHUNK / map.len;
	/* at the small levels, smaller work items so that every thread has some */
	int fair = map.nseq / (4 * omp_get_max_threads());
	if (per > fair)
		per = fair > 1 ? fair : 1;
	int chunks = (map.nseq + per - 1) / per, failed = 0;
	int masked = axis == WINDOWS && shift > 0 && cfg->mask_shifted;
	size_t maxn = (size_t)per * map.len, hid = (size_t)L->fc1.out;
	int d = C / cfg->num_heads;
#pragma omp parallel
	{
		struct layer_scratch s = {
			tf_alloc_aligned(maxn * C, 4), tf_alloc_aligned(maxn * C, 4),
			tf_alloc_aligned(maxn * 3 * C, 4), tf_alloc_aligned(maxn * C, 4),
			tf_alloc_aligned(maxn * hid, 4),
			tf_alloc_aligned(attention_scratch_floats(map.len, d) + 16, 4),
			tf_alloc(maxn, sizeof(int)),
		};
		int ok = s.t && s.u && s.qkv && s.o && s.hid && s.attn && s.region;
		if (!ok)
			failed = 1;
#pragma omp for schedule(dynamic, 1)
		for (int k = 0; k < chunks; k++) {
			int s0 = k * per, ns = s0 + per <= map.nseq ? per : map.nseq - s0;
			if (!ok)
				continue;
			for (int q = 0; q < ns; q++)
				for (int t = 0; t < map.len; t++) {
					size_t row = (size_t)q * map.len + t;
					long src = source_pixel(&map, s0 + q, t, masked ? &s.region[row] : NULL);
					float *dst = s.t + row * C;
					if (src < 0)
						memset(dst, 0, (size_t)C * sizeof *dst);
					else
						memcpy(dst, x + (size_t)src * C, (size_t)C * sizeof *dst);
				}
			tlayer_forward(L, &s, ns, map.len, C, cfg->num_heads, masked);
			for (int q = 0; q < ns; q++)
				for (int t = 0; t < map.len; t++) {
					size_t row = (size_t)q * map.len + t;
					long src = source_pixel(&map, s0 + q, t, NULL);
					if (src >= 0)
						memcpy(out + (size_t)src * C, s.t + row * C, (size_t)C * sizeof(float));
				}
		}
		free(s.t), free(s.u), free(s.qkv), free(s.o), free(s.hid), free(s.attn), free(s.region);
	}
	return failed ? tf_seterr("out of memory in attention branch") : 0;
}

struct block_scratch {
	float *x, *br[3]; /* [N][C] each at the largest level */
};

/* One TFSWA block, in place on cur [H][W][C]; skip added when not NULL. */
static int block_forward(float *cur, const float *skip, int H, int W, const struct block *b,
			 const struct unet_config *cfg, struct block_scratch *s)
{
	size_t n = (size_t)H * W;
	int C = b->C;
	pointwise(s->x, cur, n, &b->in_proj, 0);
	if (branch_forward(s->br[0], s->x, H, W, C, &b->br[0], cfg, ALONG_H, 0) ||
	    branch_forward(s->br[1], s->x, H, W, C, &b->br[1], cfg, ALONG_W, 0) ||
	    branch_forward(s->br[2], s->x, H, W, C, &b->br[2], cfg, WINDOWS, b->shift))
		return -1;
	/* fusion of concat[a, f, w]: three products into one output, no concat */
	size_t chunks = (n + ROW_CHUNK - 1) / ROW_CHUNK;
#pragma omp parallel for schedule(static)
	for (size_t k = 0; k < chunks; k++) {
		size_t r0 = k * ROW_CHUNK, rows = n - r0 < ROW_CHUNK ? n - r0 : ROW_CHUNK;
		float *y = s->x + r0 * C;
		for (int r = 0; r < 3; r++)
			gemm_nt((int)rows, C, C, s->br[r] + r0 * C, C, b->fusion.w + (size_t)r * C, 3 * C,
				r ? 1.0f : 0.0f, y, C);
		bias_gelu_forward(y, b->fusion.b, rows, C);
		float *o = cur + r0 * C;
		const float *sk = skip ? skip + r0 * C : NULL;
		for (size_t i = 0; i < rows * (size_t)C; i++)
			o[i] = sk ? (y[i] + o[i]) + sk[i] : y[i] + o[i];
	}
	return 0;
}

static int stage_forward(float *cur, const float *skip, int H, int W, const struct block *blocks,
			 int depth, const struct unet_config *cfg, struct block_scratch *s)
{
	for (int b = 0; b < depth; b++)
		if (block_forward(cur, b == 0 ? skip : NULL, H, W, &blocks[b], cfg, s))
			return -1;
	return 0;
}

/* ---------- the network ---------- */

static int forward_one(const struct unet *u, const float *in, float *out, int H, int W, int bi,
		       unet_tap_fn tap, void *ctx)
{
	const struct unet_config *c = &u->cfg;
	const int *d = c->dims;
	int hs[4] = {H}, wsz[4] = {W}, rc = -1;
	float *skip[3] = {0}, *cur = NULL, *next = NULL;
	struct block_scratch bs = {0};
	size_t n0 = (size_t)H * W;
	/* the channel-last input and the output head's result live in these too */
	size_t maxnc = n0 * (size_t)(c->in_channels > c->out_channels ? c->in_channels : c->out_channels);
	static const char *enc_names[] = {"enc0", "enc1", "enc2"}, *dec_names[] = {"dec0", "dec1", "dec2"};

	for (int s = 1; s < 4; s++) {
		hs[s] = conv_out_size(hs[s - 1], 4, 2, 1);
		wsz[s] = conv_out_size(wsz[s - 1], 4, 2, 1);
	}
	for (int s = 0; s < 4; s++) {
		size_t nc = (size_t)hs[s] * wsz[s] * d[s];
		/* the upsampled map before resizing can be up to one row/col larger */
		size_t up = s < 3 ? (size_t)2 * hs[s + 1] * 2 * wsz[s + 1] * d[s] : 0;
		maxnc = nc > maxnc ? nc : maxnc;
		maxnc = up > maxnc ? up : maxnc;
	}
	if (!(bs.x = tf_alloc_aligned(maxnc, 4)) || !(bs.br[0] = tf_alloc_aligned(maxnc, 4)) ||
	    !(bs.br[1] = tf_alloc_aligned(maxnc, 4)) || !(bs.br[2] = tf_alloc_aligned(maxnc, 4)) ||
	    !(cur = tf_alloc_aligned(maxnc, 4)) || !(next = tf_alloc_aligned(maxnc, 4)))
		goto out;

	/* NCHW input -> channel-last */
	float *xin = bs.x;
	for (int ch = 0; ch < c->in_channels; ch++)
		for (size_t p = 0; p < n0; p++)
			xin[p * c->in_channels + ch] = in[(size_t)ch * n0 + p];
	if (conv_gelu(cur, xin, H, W, &u->stem))
		goto out;
	if (tap)
		tap(ctx, "stem", bi, cur, H, W, d[0]);

	for (int s = 0; s < 3; s++) {
		if (stage_forward(cur, NULL, hs[s], wsz[s], u->enc[s], c->depths[s], c, &bs))
			goto out;
		if (tap)
			tap(ctx, enc_names[s], bi, cur, hs[s], wsz[s], d[s]);
		if (!(skip[s] = tf_alloc_aligned((size_t)hs[s] * wsz[s] * d[s], 4)))
			goto out;
		memcpy(skip[s], cur, (size_t)hs[s] * wsz[s] * d[s] * sizeof(float));
		if (conv_gelu(next, cur, hs[s], wsz[s], &u->down[s]))
			goto out;
		float *t = cur;
		cur = next, next = t;
	}
	if (stage_forward(cur, NULL, hs[3], wsz[3], u->bottleneck, c->depths[3], c, &bs))
		goto out;
	if (tap)
		tap(ctx, "bottleneck", bi, cur, hs[3], wsz[3], d[3]);

	for (int i = 0; i < 3; i++) {
		int s = 2 - i, h = hs[s + 1], w = wsz[s + 1];
		if (convt_gelu(next, cur, h, w, &u->up[i]))
			goto out;
		if (2 * h != hs[s] || 2 * w != wsz[s]) {
			/* odd sizes: bring the upsampled map to the skip's size */
			int Ho = hs[s], Wo = wsz[s];
#pragma omp parallel for schedule(static)
			for (int r = 0; r < Ho; r++)
				resize_bilinear_rows(cur, next, 2 * h, 2 * w, d[s], Ho, Wo, r, r + 1);
		} else {
			float *t = cur;
			cur = next, next = t;
		}
		if (stage_forward(cur, skip[s], hs[s], wsz[s], u->dec[i], c->depths[s], c, &bs))
			goto out;
		if (tap)
			tap(ctx, dec_names[i], bi, cur, hs[s], wsz[s], d[s]);
		free(skip[s]);
		skip[s] = NULL;
	}

	/* output head: Conv3x3 + BN + GELU, Conv1x1, sigmoid */
	if (conv_gelu(next, cur, H, W, &u->head0))
		goto out;
	pointwise(cur, next, n0, &u->head3, 0);
	for (int o = 0; o < c->out_channels; o++)
		for (size_t p = 0; p < n0; p++)
			out[(size_t)o * n0 + p] = cur[p * c->out_channels + o];
	sigmoid_forward(out, n0 * c->out_channels);
	rc = 0;
out:
	for (int s = 0; s < 3; s++)
		free(skip[s]);
	free(bs.x), free(bs.br[0]), free(bs.br[1]), free(bs.br[2]), free(cur), free(next);
	return rc;
}

int unet_forward(const struct unet *u, const float *in, int B, int H, int W, float *out,
		 unet_tap_fn tap, void *ctx)
{
	const struct unet_config *c = &u->cfg;
	if (H < UNET_MIN_SIZE || W < UNET_MIN_SIZE)
		return tf_seterr("input %d x %d is smaller than the network's minimum %d x %d", H, W,
				 UNET_MIN_SIZE, UNET_MIN_SIZE);
	for (int b = 0; b < B; b++)
		if (forward_one(u, in + (size_t)b * c->in_channels * H * W,
				out + (size_t)b * c->out_channels * H * W, H, W, b, tap, ctx))
			return -1;
	return 0;
}

/* ---------- cost ---------- */

static double block_flops(const struct unet_config *c, int C, int H, int W)
{
	double n = (double)H * W, hid = (int)(C * c->mlp_ratio), f = 0;
	int ws = c->window_size;
	double Hp = (H + ws - 1) / ws * ws, Wp = (W + ws - 1) / ws * ws;
	double tokens[3] = {n, n, Hp * Wp}, lens[3] = {H, W, (double)ws * ws};
	f += 2 * n * C * C;      /* input_proj */
	f += 2 * n * 3 * C * C;  /* fusion */
	for (int r = 0; r < 3; r++) {
		double t = tokens[r];
		f += 2 * t * (3.0 * C * C + C * C + 2 * C * hid); /* qkv, proj, mlp */
		f += 2 * 2 * t * lens[r] * C;                     /* q k^T and p v */
	}
	return f;
}

const char *const unet_stage_names[UNET_STAGES] = {
	"stem", "enc0", "enc1", "enc2", "bottleneck", "dec0", "dec1", "dec2", "head",
};

/* Each stage is charged with what forward_one does between its tap and the
 * previous one: a stage below the top starts with the downsampling (encoder,
 * bottleneck) or upsampling (decoder) that feeds it. */
void unet_stage_flops(const struct unet_config *c, int H, int W, double f[UNET_STAGES])
{
	const int *d = c->dims;
	int hs[4] = {H}, ws[4] = {W};
	for (int s = 1; s < 4; s++) {
		hs[s] = conv_out_size(hs[s - 1], 4, 2, 1);
		ws[s] = conv_out_size(ws[s - 1], 4, 2, 1);
	}
	f[0] = 2.0 * H * W * d[0] * c->in_channels * 49;
	for (int s = 0; s < 4; s++) /* enc0..enc2, bottleneck */
		f[1 + s] = c->depths[s] * block_flops(c, d[s], hs[s], ws[s]) +
			   (s ? 2.0 * hs[s] * ws[s] * d[s] * d[s - 1] * 16 : 0);
	for (int i = 0; i < 3; i++) { /* dec0..dec2: level 2 up to level 0 */
		int s = 2 - i;
		f[5 + i] = 2.0 * (2 * hs[s + 1]) * (2 * ws[s + 1]) * d[s] * d[s + 1] * 4 +
			   c->depths[s] * block_flops(c, d[s], hs[s], ws[s]);
	}
	f[8] = 2.0 * H * W * d[0] * d[0] * 9 + 2.0 * H * W * d[0] * c->out_channels;
}

double unet_flops(const struct unet_config *c, int H, int W)
{
	double f[UNET_STAGES], sum = 0;
	unet_stage_flops(c, H, W, f);
	for (int i = 0; i < UNET_STAGES; i++)
		sum += f[i];
	return sum;
}
