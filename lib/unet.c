/* TFSWA-UNet forward pass. Activations are channel-last, x[h][w][c], so that
 * every 1x1 convolution and linear layer is one matrix product over pixels
 * and every token sequence of the three attention branches is a gather of
 * C-float rows. Work is split over OpenMP threads by rows or by groups of
 * sequences; the kernels themselves are single-threaded. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch.h"
#include "error.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/norm.h"
#include "kernels/qgemm.h"
#include "kernels/resize.h"
#include "seqmap.h"
#include "tensor.h"
#include "unet.h"

/* One matrix product C (+)= A . W^T, W [N][K]: float weights (BLIS), or
 * int8 ones (q8 and q8s models) with the input quantised per row or with
 * a calibrated scale. */
struct op {
	const float *w;    /* float: W, rows ldw apart */
	int ldw, N, K;
	struct qmat *q;    /* int8: packed W with per-channel scales, or NULL */
	float act_scale;   /* q8s: the input's calibrated scale; 0: per row */
	int id;            /* the weight's index in the model table, for the
			    * calibration observer; -1 for layers kept in float */
};

struct linear {
	struct op op;
	const float *b;
	int out, in;
};

struct tlayer { /* one pre-norm transformer layer: tsa, fsa or swa */
	const float *n1w, *n1b, *n2w, *n2b;
	struct linear qkv, proj, fc1, fc2;
};

struct conv { /* BatchNorm folded in; weights in the kernels' layouts */
	float *w, *b;
	enum arch_layer_kind kind;
	int ci, co, k, stride, pad, gelu;
	struct op op[4]; /* the products: one; the fusion's three K-slices;
			  * the transposed convolution's four parities */
};

struct block {
	int C, shift;
	struct conv in_proj, fusion; /* 1x1: [C][C], [C][3C] */
	struct tlayer br[ARCH_BRANCHES]; /* tsa (along H), fsa (along W), swa (windows) */
};

struct stage { /* what the table's stage of the same index runs */
	struct conv conv[2];
	struct block *blocks;
};

struct unet {
	struct unet_config cfg;
	struct arch arch;
	struct stage st[ARCH_MAX_STAGES];
	float **owned;
	int nowned;
	struct qmat **qmats;
	int nqmats;
	int int8;          /* some products run in int8 */
	unet_observe_fn observe;
	void *observe_ctx;
	double *prof;      /* [UNET_WORKS] CPU seconds, or NULL */
};


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

/* Is the weight with this index stored as int8 in m? */
static int is_int8(const struct model *m, int id)
{
	return quant_traits[m->cfg.quantization].int8 && m->q8 && id >= 0 &&
	       m->q8_scale[id];
}

/* q8s: the calibrated scale of the layer's input; q8: 0, per row. */
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

static void convt_prepare3(float *dst, const float *src, int ci, int co, int unused)
{
	convt4s2_weight_prepare(dst, src, ci, co);
}

/* A convolution l, its input channels in nsplit equal slices with a product
 * each (the fusion's concatenation: 3; else 1). */
static int prep_conv(struct unet *u, const struct model *m, struct conv *c, const struct arch_conv *l, int nsplit)
{
	int ci = l->ci, co = l->co, k = l->k, id = l->w;
	size_t per = (size_t)ci * k * k;
	int K = (int)per / nsplit;
	*c = (struct conv){.kind = l->kind, .ci = ci, .co = co, .k = k, .stride = l->stride, .pad = l->pad,
			   .gelu = l->gelu};
	if (!(c->b = own(u, (size_t)co)))
		return -1;
	memcpy(c->b, param(m, l->b), (size_t)co * sizeof *c->b);
	if (is_int8(m, id)) {
		double *f = tf_alloc((size_t)co, sizeof *f);
		float *scale = tf_alloc((size_t)co, sizeof *scale);
		int8_t *w = reorder_i8(m->q8 + m->specs[id].offset, per * co, conv2d_weight_prepare, co, ci, k);
		int rc = f && scale && w ? 0 : -1;
		for (int o = 0; !rc && o < co; o++)
			f[o] = 1.0, scale[o] = m->q8_scale[id][o];
		if (!rc && l->bn >= 0) {
			fold(m, l, NULL, c->b, 0, 0, f);
			for (int o = 0; o < co; o++)
				scale[o] = (float)(scale[o] * f[o]);
		}
		for (int r = 0; !rc && r < nsplit; r++) {
			struct op *op = &c->op[r];
			*op = (struct op){.N = co, .K = K, .act_scale = static_scale(m, id), .id = id};
			if (!(op->q = own_qmat(u, w + (size_t)r * K, (int)per, scale, co, K)))
				rc = -1;
		}
		free(f), free(scale), free(w);
		return rc;
	}
	float *tmp = tf_alloc(per * co, sizeof *tmp);
	if (!tmp || !(c->w = own(u, per * co))) {
		free(tmp);
		return -1;
	}
	memcpy(tmp, param(m, id), per * co * sizeof *tmp);
	fold(m, l, tmp, c->b, 1, per, NULL);
	conv2d_weight_prepare(c->w, tmp, co, ci, k);
	free(tmp);
	for (int r = 0; r < nsplit; r++)
		c->op[r] = (struct op){.w = c->w + (size_t)r * K, .ldw = (int)per, .N = co, .K = K,
				       .id = observed_id(m, id)};
	return 0;
}

/* ConvTranspose(4, 2, 1) l (with BatchNorm). */
static int prep_convt(struct unet *u, const struct model *m, struct conv *c, const struct arch_conv *l)
{
	int ci = l->ci, co = l->co, id = l->w;
	size_t per = 16, total = (size_t)ci * co * per, K = 4 * (size_t)ci;
	*c = (struct conv){.kind = l->kind, .ci = ci, .co = co, .k = 4, .stride = 2, .pad = 1, .gelu = l->gelu};
	if (!(c->b = own(u, (size_t)co)))
		return -1;
	memcpy(c->b, param(m, l->b), (size_t)co * sizeof *c->b);
	if (is_int8(m, id)) {
		/* the output channel is the second axis of [Ci][Co][4][4]: its
		 * scale and BatchNorm factor are per column of each parity's
		 * [Co][4 Ci] product */
		double *f = tf_alloc((size_t)co, sizeof *f);
		float *scale = tf_alloc((size_t)co, sizeof *scale);
		int8_t *w = reorder_i8(m->q8 + m->specs[id].offset, total, convt_prepare3, ci, co, 0);
		int rc = f && scale && w ? 0 : -1;
		if (!rc) {
			fold(m, l, NULL, c->b, 0, 0, f);
			for (int o = 0; o < co; o++)
				scale[o] = (float)(m->q8_scale[id][o] * f[o]);
		}
		for (int par = 0; !rc && par < 4; par++) {
			struct op *op = &c->op[par];
			*op = (struct op){.N = co, .K = (int)K, .act_scale = static_scale(m, id), .id = id};
			if (!(op->q = own_qmat(u, w + (size_t)par * co * K, (int)K, scale, co, (int)K)))
				rc = -1;
		}
		free(f), free(scale), free(w);
		return rc;
	}
	float *tmp = tf_alloc(total, sizeof *tmp);
	if (!tmp || !(c->w = own(u, total))) {
		free(tmp);
		return -1;
	}
	memcpy(tmp, param(m, id), total * sizeof *tmp);
	fold(m, l, tmp, c->b, (size_t)ci, per, NULL);
	convt4s2_weight_prepare(c->w, tmp, ci, co);
	free(tmp);
	for (int par = 0; par < 4; par++)
		c->op[par] = (struct op){.w = c->w + (size_t)par * co * K, .ldw = (int)K, .N = co, .K = (int)K,
					 .id = observed_id(m, id)};
	return 0;
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
	return 0;
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
			if (st->conv[k].kind == LAYER_CONVT ? prep_convt(u, m, &u->st[s].conv[k], &st->conv[k])
							    : prep_conv(u, m, &u->st[s].conv[k], &st->conv[k], 1))
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

const char *const unet_work_names[UNET_WORKS] = {
	"float products (BLIS)", "int8 products", "quantising activations", "attention (scores, softmax)",
};

void unet_set_profile(struct unet *u, double cpu[UNET_WORKS])
{
	u->prof = cpu;
}

static double cpu_clock(const struct unet *u)
{
	struct timespec t;
	if (!u->prof)
		return 0;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void charge(const struct unet *u, enum unet_work w, double since)
{
	if (!u->prof)
		return;
	double d = cpu_clock(u) - since;
#pragma omp atomic
	u->prof[w] += d;
}

void unet_set_observer(struct unet *u, unet_observe_fn fn, void *ctx)
{
	u->observe = fn;
	u->observe_ctx = ctx;
}

/* ---------- layers ---------- */

/* Rows per parallel work item for pixel-wise products. */
#define ROW_CHUNK 256

/* A thread's buffer for quantised activations: rows of Kp bytes and
 * their scales. Empty for models without int8 products. */
struct qbuf {
	uint8_t *q;
	float *rs;
};

static int qbuf_alloc(struct qbuf *b, const struct unet *u, size_t rows, size_t K)
{
	b->q = NULL, b->rs = NULL;
	if (!u->int8)
		return 0;
	b->q = tf_alloc_aligned(rows * ((K + 3) & ~(size_t)3) + 64, 1);
	b->rs = tf_alloc(rows + 1, sizeof *b->rs);
	return b->q && b->rs ? 0 : -1;
}

static void qbuf_free(struct qbuf *b)
{
	free(b->q), free(b->rs);
}

/* C[M][N] (+)= A[M][K] . W^T, in float or int8 (and shown to the
 * calibration observer first). */
static void run_op(const struct unet *u, const struct op *o, int M, const float *A, int lda, int accumulate,
		   float *C, int ldc, struct qbuf *qb)
{
	if (M <= 0)
		return;
	if (u->observe && o->id >= 0)
		u->observe(u->observe_ctx, o->id, A, M, o->K, lda);
	double t = cpu_clock(u);
	if (!o->q) {
		gemm_nt(M, o->N, o->K, A, lda, o->w, o->ldw, accumulate ? 1.0f : 0.0f, C, ldc);
		charge(u, UNET_WORK_GEMM_F32, t);
		return;
	}
	quantize_rows(qb->q, o->q->Kp, qb->rs, A, lda, M, o->K, o->q->Kp, o->act_scale);
	charge(u, UNET_WORK_QUANTISE, t);
	t = cpu_clock(u);
	qgemm(M, qb->q, o->q->Kp, qb->rs, o->q, accumulate, C, ldc);
	charge(u, UNET_WORK_GEMM_INT8, t);
}

/* out[n][co] = conv(in) for 1x1 convolutions, then bias (and GELU). */
static int pointwise(const struct unet *u, float *out, const float *in, size_t n, const struct conv *c,
		     int gelu)
{
	size_t chunks = (n + ROW_CHUNK - 1) / ROW_CHUNK;
	int failed = 0;
#pragma omp parallel
	{
		struct qbuf qb;
		if (qbuf_alloc(&qb, u, ROW_CHUNK, (size_t)c->ci))
			failed = 1;
#pragma omp for schedule(static)
		for (size_t k = 0; k < chunks; k++) {
			size_t r0 = k * ROW_CHUNK, rows = n - r0 < ROW_CHUNK ? n - r0 : ROW_CHUNK;
			if (failed)
				continue;
			run_op(u, &c->op[0], (int)rows, in + r0 * c->ci, c->ci, 0, out + r0 * c->co, c->co, &qb);
			if (gelu)
				bias_gelu_forward(out + r0 * c->co, c->b, rows, c->co);
			else
				bias_add_forward(out + r0 * c->co, c->b, rows, c->co);
		}
		qbuf_free(&qb);
	}
	return failed ? tf_seterr("out of memory") : 0;
}

/* A k x k convolution + bias + GELU over the whole image: im2col rows,
 * one product. */
static int conv_gelu(const struct unet *u, float *out, const float *in, int H, int W, const struct conv *c)
{
	int Ho = conv_out_size(H, c->k, c->stride, c->pad), Wo = conv_out_size(W, c->k, c->stride, c->pad);
	int rows = 4, nchunks = (Ho + rows - 1) / rows, failed = 0, K = c->k * c->k * c->ci;
#pragma omp parallel
	{
		float *scratch = tf_alloc_aligned(conv2d_scratch_floats(Wo, rows, c->ci, c->k), sizeof(float));
		struct qbuf qb;
		if (!scratch || qbuf_alloc(&qb, u, (size_t)rows * Wo, (size_t)K))
			failed = 1;
#pragma omp for schedule(static)
		for (int k = 0; k < nchunks; k++) {
			int r0 = k * rows, r1 = r0 + rows < Ho ? r0 + rows : Ho;
			if (failed)
				continue;
			conv2d_im2col(scratch, in, H, W, c->ci, c->k, c->stride, c->pad, r0, r1);
			run_op(u, &c->op[0], (r1 - r0) * Wo, scratch, K, 0, out + (size_t)r0 * Wo * c->co, c->co, &qb);
			bias_gelu_forward(out + (size_t)r0 * Wo * c->co, c->b, (size_t)(r1 - r0) * Wo, c->co);
		}
		free(scratch);
		qbuf_free(&qb);
	}
	return failed ? tf_seterr("out of memory") : 0;
}

/* ConvTranspose(4, 2, 1) + bias + GELU: per input row, the four output
 * parities as products over gathered 2x2 neighbourhoods. */
static int convt_gelu(const struct unet *u, float *out, const float *in, int H, int W, const struct conv *c)
{
	int failed = 0, K = 4 * c->ci, Co = c->co;
#pragma omp parallel
	{
		float *scratch = tf_alloc_aligned(convt4s2_scratch_floats(W, c->ci), sizeof(float));
		struct qbuf qb;
		if (!scratch || qbuf_alloc(&qb, u, (size_t)W, (size_t)K))
			failed = 1;
#pragma omp for schedule(static)
		for (int m = 0; m < H; m++) {
			if (failed)
				continue;
			for (int ph = 0; ph < 2; ph++)
				for (int pw = 0; pw < 2; pw++) {
					convt4s2_gather(scratch, in, H, W, c->ci, m, ph, pw);
					/* outputs (2m+ph, 2n+pw) for n = 0.. are 2*Co floats apart */
					float *o = out + ((size_t)(2 * m + ph) * 2 * W + pw) * Co;
					run_op(u, &c->op[ph * 2 + pw], W, scratch, K, 0, o, 2 * Co, &qb);
				}
			bias_gelu_forward(out + (size_t)2 * m * 2 * W * Co, c->b, (size_t)4 * W, Co);
		}
		free(scratch);
		qbuf_free(&qb);
	}
	return failed ? tf_seterr("out of memory") : 0;
}

struct layer_scratch {
	float *t, *u, *qkv, *o, *hid, *attn;
	int *region;
	struct qbuf qb;
};

/* t = t + MHA(LN1(t)); t = t + MLP(LN2(t)) on n = nseq * len tokens. */
static void tlayer_forward(const struct unet *un, const struct tlayer *L, struct layer_scratch *s, int nseq,
			   int len, int C, int heads, int masked)
{
	int n = nseq * len, d = C / heads, hid = L->fc1.out;
	layernorm_forward(s->u, s->t, L->n1w, L->n1b, (size_t)n, C);
	run_op(un, &L->qkv.op, n, s->u, C, 0, s->qkv, 3 * C, &s->qb);
	double t = cpu_clock(un);
	attention_forward(s->o, s->qkv, nseq, len, heads, d, 1.0f / sqrtf((float)d),
			  masked ? s->region : NULL, s->attn);
	charge(un, UNET_WORK_ATTENTION, t);
	run_op(un, &L->proj.op, n, s->o, C, 1, s->t, C, &s->qb);
	bias_add_forward(s->t, L->proj.b, (size_t)n, C);
	layernorm_forward(s->u, s->t, L->n2w, L->n2b, (size_t)n, C);
	run_op(un, &L->fc1.op, n, s->u, C, 0, s->hid, hid, &s->qb);
	bias_gelu_forward(s->hid, L->fc1.b, (size_t)n, hid);
	run_op(un, &L->fc2.op, n, s->hid, hid, 1, s->t, C, &s->qb);
	bias_add_forward(s->t, L->fc2.b, (size_t)n, C);
}

/* Tokens per work item: enough for efficient products, small enough that
 * each thread's buffers stay in the low megabytes. */
#define TOKENS_PER_CHUNK 4096

/* One attention branch over the whole image: out = branch(x). */
static int branch_forward(const struct unet *u, float *out, const float *x, int H, int W, int C,
			  const struct tlayer *L,
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
			{NULL, NULL},
		};
		int ok = s.t && s.u && s.qkv && s.o && s.hid && s.attn && s.region &&
			 !qbuf_alloc(&s.qb, u, maxn, hid > (size_t)C ? hid : (size_t)C);
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
			tlayer_forward(u, L, &s, ns, map.len, C, cfg->num_heads, masked);
			for (int q = 0; q < ns; q++)
				for (int t = 0; t < map.len; t++) {
					size_t row = (size_t)q * map.len + t;
					long src = source_pixel(&map, s0 + q, t, NULL);
					if (src >= 0)
						memcpy(out + (size_t)src * C, s.t + row * C, (size_t)C * sizeof(float));
				}
		}
		free(s.t), free(s.u), free(s.qkv), free(s.o), free(s.hid), free(s.attn), free(s.region);
		qbuf_free(&s.qb);
	}
	return failed ? tf_seterr("out of memory in attention branch") : 0;
}

struct block_scratch {
	float *x, *br[3]; /* [N][C] each at the largest level */
};

/* One TFSWA block, in place on cur [H][W][C]; skip added when not NULL. */
static int block_forward(const struct unet *u, float *cur, const float *skip, int H, int W,
			 const struct block *b, const struct unet_config *cfg, struct block_scratch *s)
{
	size_t n = (size_t)H * W;
	int C = b->C, failed = 0;
	if (pointwise(u, s->x, cur, n, &b->in_proj, 0) ||
	    branch_forward(u, s->br[0], s->x, H, W, C, &b->br[0], cfg, ALONG_H, 0) ||
	    branch_forward(u, s->br[1], s->x, H, W, C, &b->br[1], cfg, ALONG_W, 0) ||
	    branch_forward(u, s->br[2], s->x, H, W, C, &b->br[2], cfg, WINDOWS, b->shift))
		return -1;
	/* fusion of concat[a, f, w]: three products into one output, no concat */
	size_t chunks = (n + ROW_CHUNK - 1) / ROW_CHUNK;
#pragma omp parallel
	{
		struct qbuf qb;
		if (qbuf_alloc(&qb, u, ROW_CHUNK, (size_t)C))
			failed = 1;
#pragma omp for schedule(static)
		for (size_t k = 0; k < chunks; k++) {
			size_t r0 = k * ROW_CHUNK, rows = n - r0 < ROW_CHUNK ? n - r0 : ROW_CHUNK;
			float *y = s->x + r0 * C;
			if (failed)
				continue;
			for (int r = 0; r < ARCH_BRANCHES; r++)
				run_op(u, &b->fusion.op[r], (int)rows, s->br[r] + r0 * C, C, r > 0, y, C, &qb);
			bias_gelu_forward(y, b->fusion.b, rows, C);
			float *o = cur + r0 * C;
			const float *sk = skip ? skip + r0 * C : NULL;
			for (size_t i = 0; i < rows * (size_t)C; i++)
				o[i] = sk ? (y[i] + o[i]) + sk[i] : y[i] + o[i];
		}
		qbuf_free(&qb);
	}
	return failed ? tf_seterr("out of memory") : 0;
}

static int stage_forward(const struct unet *u, float *cur, const float *skip, int H, int W,
			 const struct block *blocks, int depth, const struct unet_config *cfg,
			 struct block_scratch *s)
{
	for (int b = 0; b < depth; b++)
		if (block_forward(u, cur, b == 0 ? skip : NULL, H, W, &blocks[b], cfg, s))
			return -1;
	return 0;
}

/* ---------- the network ---------- */

/* A stage's convolution on cur [h][w][ci] into next; *h, *w become the
 * output's size. */
static int conv_forward(const struct unet *u, float *next, const float *cur, int *h, int *w, const struct conv *c)
{
	if (c->kind == LAYER_CONVT) {
		if (convt_gelu(u, next, cur, *h, *w, c))
			return -1;
		*h *= 2, *w *= 2;
		return 0;
	}
	if (c->k == 1)
		return pointwise(u, next, cur, (size_t)*h * *w, c, c->gelu);
	if (conv_gelu(u, next, cur, *h, *w, c))
		return -1;
	*h = conv_out_size(*h, c->k, c->stride, c->pad);
	*w = conv_out_size(*w, c->k, c->stride, c->pad);
	return 0;
}

static int forward_one(const struct unet *u, const float *in, float *out, int H, int W, int bi,
		       unet_tap_fn tap, void *ctx)
{
	const struct unet_config *c = &u->cfg;
	const struct arch *a = &u->arch;
	const int *d = c->dims;
	int hs[UNET_LEVELS], wsz[UNET_LEVELS], rc = -1, L = a->nlevels;
	float *kept[ARCH_MAX_STAGES] = {0}, *cur = NULL, *next = NULL;
	struct block_scratch bs = {0};
	size_t n0 = (size_t)H * W;
	/* the channel-last input and the output head's result live in these too */
	size_t maxnc = n0 * (size_t)(c->in_channels > c->out_channels ? c->in_channels : c->out_channels);

	arch_level_sizes(a, H, W, hs, wsz);
	for (int s = 0; s < L; s++) {
		size_t nc = (size_t)hs[s] * wsz[s] * d[s];
		/* the upsampled map before resizing can be up to one row/col larger */
		size_t up = s < L - 1 ? (size_t)2 * hs[s + 1] * 2 * wsz[s + 1] * d[s] : 0;
		maxnc = nc > maxnc ? nc : maxnc;
		maxnc = up > maxnc ? up : maxnc;
	}
	if (!(bs.x = tf_alloc_aligned(maxnc, 4)) || !(bs.br[0] = tf_alloc_aligned(maxnc, 4)) ||
	    !(bs.br[1] = tf_alloc_aligned(maxnc, 4)) || !(bs.br[2] = tf_alloc_aligned(maxnc, 4)) ||
	    !(cur = tf_alloc_aligned(maxnc, 4)) || !(next = tf_alloc_aligned(maxnc, 4)))
		goto out;

	/* NCHW input -> channel-last */
	for (int ch = 0; ch < c->in_channels; ch++)
		for (size_t p = 0; p < n0; p++)
			cur[p * c->in_channels + ch] = in[(size_t)ch * n0 + p];
	int h = H, w = W, C = c->in_channels;
	for (int s = 0; s < a->nstages; s++) {
		const struct arch_stage *st = &a->stage[s];
		for (int k = 0; k < st->nconvs; k++) {
			if (conv_forward(u, next, cur, &h, &w, &u->st[s].conv[k]))
				goto out;
			C = st->conv[k].co;
			if (h != hs[st->level] || w != wsz[st->level]) {
				/* odd sizes: bring the upsampled map to the skip's size */
				int Ho = hs[st->level], Wo = wsz[st->level], hi = h, wi = w;
#pragma omp parallel for schedule(static)
				for (int r = 0; r < Ho; r++)
					resize_bilinear_rows(cur, next, hi, wi, C, Ho, Wo, r, r + 1);
				h = Ho, w = Wo;
			} else {
				float *t = cur;
				cur = next, next = t;
			}
		}
		if (stage_forward(u, cur, st->skip >= 0 ? kept[st->skip] : NULL, h, w, u->st[s].blocks,
				  st->nblocks, c, &bs))
			goto out;
		if (st->skip >= 0) {
			free(kept[st->skip]);
			kept[st->skip] = NULL;
		}
		if (tap && st->role != STAGE_HEAD)
			tap(ctx, st->name, bi, cur, h, w, C);
		if (st->keep) {
			if (!(kept[s] = tf_alloc_aligned((size_t)h * w * C, 4)))
				goto out;
			memcpy(kept[s], cur, (size_t)h * w * C * sizeof(float));
		}
	}

	for (int o = 0; o < c->out_channels; o++)
		for (size_t p = 0; p < n0; p++)
			out[(size_t)o * n0 + p] = cur[p * c->out_channels + o];
	sigmoid_forward(out, n0 * c->out_channels);
	rc = 0;
out:
	for (int s = 0; s < ARCH_MAX_STAGES; s++)
		free(kept[s]);
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
