/* TFSWA-UNet inference preparation: the model's weights in the layouts the
 * forward pass (lib/nn/unet_plan.c) runs on, BatchNorm folded in, int8 and
 * bf16 weights packed; and the cost of a pass. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/norm.h"
#include "kernels/smallgemm.h"
#include "tensor.h"
#include "unet_prepared.h"

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

/* Tensor i of the model's table (the table guarantees its presence). */
static const float *param(const struct model *m, int i)
{
	return m->params + m->specs[i].offset;
}

/* A new int8 weight matrix owned by u. */
static struct qmat *own_qmat(struct unet *u, const int8_t *w, int ldw, const float *scale, int N, int K)
{
	struct qmat *q = calloc(1, sizeof *q), **l;
	if (!q || !(l = realloc(u->qmats, (size_t)(u->nqmats + 1) * sizeof *l))) {
		free(q);
		tf_seterr("out of memory");
		return NULL;
	}
	u->qmats = l;
	if (qmat_init(q, w, ldw, scale, N, K)) {
		free(q);
		return NULL;
	}
	u->qmats[u->nqmats++] = q;
	u->int8 = 1;
	return q;
}

/* A new bf16 weight matrix owned by u: w [N][K] rows ldw apart, rounded. */
static struct bmat *own_bmat(struct unet *u, const float *w, int ldw, int N, int K)
{
	struct bmat *b = calloc(1, sizeof *b), **l;
	if (!b || !(l = realloc(u->bmats, (size_t)(u->nbmats + 1) * sizeof *l))) {
		free(b);
		tf_seterr("out of memory");
		return NULL;
	}
	u->bmats = l;
	if (bmat_init(b, w, ldw, N, K)) {
		free(b);
		return NULL;
	}
	u->bmats[u->nbmats++] = b;
	u->bf16 = 1;
	return b;
}

/* Does m run its products in bf16 (a bf16 model on a CPU with bf16
 * products)? Every convolution and linear layer then does: bf16 has f32's
 * range, so the stem and the head need no exception. */
static int runs_bf16(const struct model *m)
{
	return quant_traits[m->cfg.quantization].store == DT_BF16 && bgemm_wanted();
}

/* The float products of ops[0..n) packed for the kernel that runs them:
 * as bf16 ones when m runs them so, else transposed for smallgemm when it
 * runs them (BLIS reads the weights as they are). */
static int ops_pack(struct unet *u, const struct model *m, struct op *ops, int n)
{
	for (int r = 0; r < n; r++) {
		struct op *o = &ops[r];
		if (runs_bf16(m)) {
			if (!(o->bf = own_bmat(u, o->w, o->ldw, o->N, o->K)))
				return -1;
		} else if (smallgemm_runs(o->N, o->K)) {
			float *wt = own(u, (size_t)o->N * o->K);
			if (!wt)
				return -1;
			smallgemm_pack(wt, o->w, o->ldw, o->N, o->K);
			o->wt = wt;
		}
	}
	return 0;
}

/* Is the weight with this index stored as int8 in m? */
static int is_int8(const struct model *m, int id)
{
	return quant_traits[m->cfg.quantization].int8 && m->q8 && id >= 0 &&
	       m->q8_scale[id];
}

/* q8s: the calibrated scale of the layer's input, or 0 where the calibration
 * chose per row; q8: 0, per row. */
static float static_scale(const struct model *m, int id)
{
	return quant_traits[m->cfg.quantization].act_scales && m->act_scale ? m->act_scale[id] : 0.0f;
}

/* The observer's id of a float weight: only for those a q8 model would
 * store as int8. */
static int observed_id(const struct model *m, int id)
{
	return id >= 0 && model_q8_tensor(&m->specs[id], NULL) ? id : -1;
}

/* BatchNorm of l (if any) folded into the weight w [outer][co][inner] (or
 * NULL: its int8 scales take factor) and the bias. */
static void fold(const struct model *m, const struct arch_conv *l, float *w, float *bias, size_t outer,
		 size_t inner, double *factor)
{
	if (l->bn >= 0)
		batchnorm_fold(w, bias, outer, (size_t)l->co, inner, param(m, l->bn), param(m, l->bn + 1),
			       param(m, l->bn + 2), param(m, l->bn + 3), factor);
}

/* int8 values through a float weight reordering (exact: small integers). */
static int8_t *reorder_i8(const int8_t *src, size_t n, void (*prepare)(float *, const float *, int, int, int),
			  int a, int b, int c)
{
	float *x = tf_alloc(n, sizeof *x), *y = tf_alloc(n, sizeof *y);
	int8_t *out = tf_alloc(n, 1);
	if (x && y && out) {
		for (size_t i = 0; i < n; i++)
			x[i] = src[i];
		prepare(y, x, a, b, c);
		for (size_t i = 0; i < n; i++)
			out[i] = (int8_t)y[i];
	}
	free(x), free(y);
	if (!(x && y))
		free(out), out = NULL;
	return out;
}

static void conv_prepare3(float *dst, const float *src, int co, int ci, int k)
{
	conv2d_weight_prepare(dst, src, co, ci, k);
}

static void convt_prepare3(float *dst, const float *src, int ci, int co, int unused)
{
	convt4s2_weight_prepare(dst, src, ci, co);
}

/* How a convolution's weight becomes its products. */
struct conv_layout {
	size_t total;               /* weights */
	size_t outer, inner;        /* the reference's weight as [outer][co][inner] (BatchNorm's view) */
	void (*prepare)(float *, const float *, int, int, int); /* into the kernel's layout */
	int pa, pb, pc;             /* prepare's sizes */
	int nops, K, ldw;           /* nops products of [co][K], rows ldw floats apart, */
	size_t step;                /* step floats from one product's weights to the next's */
};

/* A Conv2d l: its input channels in nsplit equal slices with a product
 * each (the fusion's concatenation: 3; else 1). A ConvTranspose(4, 2, 1)
 * (with BatchNorm): a product per output parity, and the output channel
 * the second axis of its [Ci][Co][4][4] weight, so that its scale and
 * BatchNorm factor are per column of each parity's [Co][4 Ci] product. */
static struct conv_layout conv_layout(const struct arch_conv *l, int nsplit)
{
	int ci = l->ci, co = l->co, k = l->k;
	if (l->kind == LAYER_CONVT)
		return (struct conv_layout){(size_t)ci * co * 16, (size_t)ci, 16, convt_prepare3, ci, co, 0,
					    4, 4 * ci, 4 * ci, (size_t)co * 4 * ci};
	size_t per = (size_t)ci * k * k;
	int K = (int)per / nsplit;
	return (struct conv_layout){per * co, 1, per, conv_prepare3, co, ci, k, nsplit, K, (int)per, (size_t)K};
}

/* Convolution l, BatchNorm folded into its weights (float) or its
 * per-output-channel scales (int8), in the kernels' layouts. */
static int prep_conv(struct unet *u, const struct model *m, struct conv *c, const struct arch_conv *l, int nsplit)
{
	struct conv_layout y = conv_layout(l, nsplit);
	int co = l->co, id = l->w;
	*c = (struct conv){.kind = l->kind, .ci = l->ci, .co = co, .k = l->k, .stride = l->stride, .pad = l->pad,
			   .gelu = l->gelu};
	if (l->kind == LAYER_CONVT)
		c->k = 4, c->stride = 2, c->pad = 1;
	if (!(c->b = own(u, (size_t)co)))
		return -1;
	memcpy(c->b, param(m, l->b), (size_t)co * sizeof *c->b);
	if (is_int8(m, id)) {
		double *f = tf_alloc((size_t)co, sizeof *f);
		float *scale = tf_alloc((size_t)co, sizeof *scale);
		int8_t *w = reorder_i8(m->q8 + m->specs[id].offset, y.total, y.prepare, y.pa, y.pb, y.pc);
		int rc = f && scale && w ? 0 : -1;
		for (int o = 0; !rc && o < co; o++)
			f[o] = 1.0;
		if (!rc)
			fold(m, l, NULL, c->b, 0, 0, f);
		for (int o = 0; !rc && o < co; o++)
			scale[o] = (float)(m->q8_scale[id][o] * f[o]);
		for (int r = 0; !rc && r < y.nops; r++) {
			struct op *op = &c->op[r];
			*op = (struct op){.N = co, .K = y.K, .act_scale = static_scale(m, id), .id = id};
			if (!(op->q = own_qmat(u, w + (size_t)r * y.step, y.ldw, scale, co, y.K)))
				rc = -1;
		}
		free(f), free(scale), free(w);
		return rc;
	}
	float *tmp = tf_alloc(y.total, sizeof *tmp);
	if (!tmp || !(c->w = own(u, y.total))) {
		free(tmp);
		return -1;
	}
	memcpy(tmp, param(m, id), y.total * sizeof *tmp);
	fold(m, l, tmp, c->b, y.outer, y.inner, NULL);
	y.prepare(c->w, tmp, y.pa, y.pb, y.pc);
	free(tmp);
	for (int r = 0; r < y.nops; r++)
		c->op[r] = (struct op){.w = c->w + (size_t)r * y.step, .ldw = y.ldw, .N = co, .K = y.K,
				       .id = observed_id(m, id)};
	return ops_pack(u, m, c->op, y.nops);
}

/* A linear layer: weight w [out][in], bias b (-1: none). */
static int prep_linear(struct unet *u, const struct model *m, struct linear *l, int w, int b)
{
	int out = (int)m->specs[w].shape[0], in = (int)m->specs[w].shape[1];
	l->op = (struct op){.w = param(m, w), .ldw = in, .N = out, .K = in, .id = observed_id(m, w)};
	if (is_int8(m, w)) {
		l->op = (struct op){.N = out, .K = in, .act_scale = static_scale(m, w), .id = w};
		if (!(l->op.q = own_qmat(u, m->q8 + m->specs[w].offset, in, m->q8_scale[w], out, in)))
			return -1;
	}
	l->b = b >= 0 ? param(m, b) : NULL;
	l->out = out;
	l->in = in;
	return l->op.q ? 0 : ops_pack(u, m, &l->op, 1);
}

static struct block *prep_blocks(struct unet *u, const struct model *m, const struct arch_stage *st)
{
	struct block *blocks = calloc((size_t)st->nblocks + 1, sizeof *blocks);
	if (!blocks)
		return tf_seterr("out of memory"), NULL;
	for (int b = 0; b < st->nblocks; b++) {
		const struct arch_block *a = &st->blocks[b];
		struct block *k = &blocks[b];
		k->C = a->C;
		k->shift = a->shift;
		if (prep_conv(u, m, &k->in_proj, &a->in_proj, 1) || prep_conv(u, m, &k->fusion, &a->fusion, 3))
			goto fail;
		for (int r = 0; r < ARCH_BRANCHES; r++) {
			const struct arch_tlayer *l = &a->br[r];
			struct tlayer *t = &k->br[r];
			t->n1w = param(m, l->norm1_w);
			t->n1b = param(m, l->norm1_b);
			t->n2w = param(m, l->norm2_w);
			t->n2b = param(m, l->norm2_b);
			if (prep_linear(u, m, &t->qkv, l->qkv_w, -1) || prep_linear(u, m, &t->proj, l->proj_w, l->proj_b) ||
			    prep_linear(u, m, &t->fc1, l->fc1_w, l->fc1_b) || prep_linear(u, m, &t->fc2, l->fc2_w, l->fc2_b))
				goto fail;
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
	if (!u)
		return tf_seterr("out of memory"), NULL;
	u->cfg = m->cfg;
	gemm_init();
	if (arch_init(&u->arch, &m->cfg))
		goto fail;
	for (int s = 0; s < u->arch.nstages; s++) {
		const struct arch_stage *st = &u->arch.stage[s];
		for (int k = 0; k < st->nconvs; k++)
			if (prep_conv(u, m, &u->st[s].conv[k], &st->conv[k], 1))
				goto fail;
		if (st->nblocks && !(u->st[s].blocks = prep_blocks(u, m, st)))
			goto fail;
	}
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
	for (int i = 0; i < u->nqmats; i++)
		qmat_free(u->qmats[i]), free(u->qmats[i]);
	free(u->qmats);
	for (int i = 0; i < u->nbmats; i++)
		bmat_free(u->bmats[i]), free(u->bmats[i]);
	free(u->bmats);
	for (int s = 0; s < ARCH_MAX_STAGES; s++)
		free(u->st[s].blocks);
	arch_free(&u->arch);
	free(u);
}

const struct unet_config *unet_config(const struct unet *u)
{
	return &u->cfg;
}

int unet_is_int8(const struct unet *u)
{
	return u->int8;
}

int unet_is_bf16(const struct unet *u)
{
	return u->bf16;
}

const char *const unet_work_names[UNET_WORKS] = {
	"float products (BLIS, smallgemm)", "int8 products", "quantising activations", "attention (scores, softmax)",
	"bf16 products",
};

void unet_set_observer(struct unet *u, unet_observe_fn fn, void *ctx)
{
	u->observe = fn;
	u->observe_ctx = ctx;
}

/* ---------- cost ---------- */

static double block_flops(const struct arch_block *b, int ws, int H, int W)
{
	int C = b->C;
	double n = (double)H * W, hid = b->hidden, f = 0;
	double Hp = (H + ws - 1) / ws * ws, Wp = (W + ws - 1) / ws * ws;
	double tokens[3] = {n, n, Hp * Wp}, lens[3] = {H, W, (double)ws * ws};
	f += 2 * n * C * C;      /* input_proj */
	f += 2 * n * 3 * C * C;  /* fusion */
	for (int r = 0; r < ARCH_BRANCHES; r++) {
		double t = tokens[r];
		f += 2 * t * (3.0 * C * C + C * C + 2 * C * hid); /* qkv, proj, mlp */
		f += 2 * 2 * t * lens[r] * C;                     /* q k^T and p v */
	}
	return f;
}

/* A convolution's output size and FLOPs on an h x w input (*h, *w updated):
 * a transposed one computes 4 of its 16 taps per output. */
static double conv_flops(const struct arch_conv *l, int *h, int *w)
{
	if (l->kind == LAYER_CONVT) {
		*h *= 2, *w *= 2;
		return 2.0 * *h * *w * l->co * l->ci * 4;
	}
	*h = conv_out_size(*h, l->k, l->stride, l->pad);
	*w = conv_out_size(*w, l->k, l->stride, l->pad);
	return 2.0 * *h * *w * l->co * l->ci * (l->k * l->k);
}

const char *const unet_stage_names[UNET_STAGES] = {
	"stem", "enc0", "enc1", "enc2", "bottleneck", "dec0", "dec1", "dec2", "head",
};

/* Each stage is charged with what forward_one does between its tap and the
 * previous one: a stage below the top starts with the downsampling (encoder,
 * bottleneck) or upsampling (decoder) that feeds it. */
void unet_stage_flops(const struct unet_config *c, int H, int W, double f[UNET_STAGES])
{
	struct arch a;
	int hs[UNET_LEVELS], ws[UNET_LEVELS], h = H, w = W;
	memset(f, 0, UNET_STAGES * sizeof *f);
	if (arch_init(&a, c))
		return;
	arch_level_sizes(&a, H, W, hs, ws);
	for (int s = 0; s < a.nstages && s < UNET_STAGES; s++) {
		const struct arch_stage *st = &a.stage[s];
		double convs = 0, blocks = 0;
		for (int k = 0; k < st->nconvs; k++)
			convs += conv_flops(&st->conv[k], &h, &w);
		h = hs[st->level], w = ws[st->level]; /* resized to the skip's size */
		for (int b = 0; b < st->nblocks; b++)
			blocks += block_flops(&st->blocks[b], c->window_size, h, w);
		f[s] = convs + blocks;
	}
	arch_free(&a);
}
double unet_flops(const struct unet_config *c, int H, int W)
{
	double f[UNET_STAGES], sum = 0;
	unet_stage_flops(c, H, W, f);
	for (int i = 0; i < UNET_STAGES; i++)
		sum += f[i];
	return sum;
}
