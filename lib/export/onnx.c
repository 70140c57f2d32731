/* The network as a standard ONNX model (opset 17, IR version 8) for one
 * fixed input shape, written with our own protobuf encoder (protobuf.h).
 * Field numbers are those of the public onnx.proto. The graph follows
 * lib/nn/unet.c: BatchNorm folded into the convolutions in double (as
 * unet_prepare does), the TFSWA blocks on channel-last pixels flattened to
 * [B*H*W, C] so that every 1x1 convolution and linear layer is one Gemm on
 * the model's own weights; formats/onnx.md describes the layout.
 *
 * The small messages (nodes, constants, inputs and outputs) are built in
 * memory; the weights are written straight from the model into the file,
 * each once, as raw_data (little-endian float32). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "export/export.h"
#include "export/protobuf.h"
#include "kernels/norm.h"
#include "arch.h"
#include "unet.h"

#define ONNX_IR_VERSION 8 /* the IR of opset 17 (ONNX 1.12) */
#define ONNX_OPSET 17     /* LayerNormalization */

/* onnx.proto field numbers */
enum { MODEL_IR_VERSION = 1, MODEL_PRODUCER_NAME = 2, MODEL_PRODUCER_VERSION = 3, MODEL_DOC = 6,
       MODEL_GRAPH = 7, MODEL_OPSET_IMPORT = 8, MODEL_METADATA = 14 };
enum { OPSET_DOMAIN = 1, OPSET_VERSION = 2 };
enum { ENTRY_KEY = 1, ENTRY_VALUE = 2 };
enum { GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INITIALIZER = 5, GRAPH_DOC = 10, GRAPH_INPUT = 11,
       GRAPH_OUTPUT = 12 };
enum { NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5 };
enum { ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_S = 4, ATTR_INTS = 8, ATTR_TYPE = 20 };
enum { ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_STRING = 3, ATTR_INTS_TYPE = 7 };
enum { TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9 };
enum { DTYPE_FLOAT = 1, DTYPE_INT64 = 7 };
enum { VALUE_NAME = 1, VALUE_TYPE = 2 };
enum { TYPE_TENSOR = 1, TENSOR_TYPE_ELEM = 1, TENSOR_TYPE_SHAPE = 2, SHAPE_DIM = 1, DIM_VALUE = 1,
       DIM_PARAM = 2 };

#define NAME_MAX_LEN 160

/* A float32 initializer written from memory at the end: a model tensor as
 * it is, or a folded one the builder owns. */
struct weight {
	char name[NAME_MAX_LEN];
	int ndim;
	int64_t dims[4];
	const float *data;
	size_t n;
	float *owned;
};

struct builder {
	const struct model *m;
	const struct unet_config *c;
	int64_t B, H, W;
	int dyn;                /* the time axis (W) is symbolic: "frames" */
	struct pbuf nodes;      /* GraphProto node fields */
	struct pbuf constants;  /* GraphProto initializer fields built in memory */
	char **const_names;     /* the constants' names, for sharing one per value */
	int nconst;
	struct weight *w;
	int nw;
	char **names;           /* every value name made, freed at the end */
	int nnames;
	char scope[NAME_MAX_LEN];
	int counter;
	int failed;
};

/* ---------- names ---------- */

static const char *keep(struct builder *g, const char *s)
{
	char *copy = strdup(s), **n;
	if (!copy || !(n = realloc(g->names, (size_t)(g->nnames + 1) * sizeof *n))) {
		free(copy);
		g->failed = 1;
		return "";
	}
	g->names = n;
	return g->names[g->nnames++] = copy;
}

static const char *fmt(struct builder *g, const char *f, ...) __attribute__((format(printf, 2, 3)));
static const char *fmt(struct builder *g, const char *f, ...)
{
	char buf[NAME_MAX_LEN + 64];
	va_list ap;
	va_start(ap, f);
	vsnprintf(buf, sizeof buf, f, ap);
	va_end(ap);
	return keep(g, buf);
}

static void scope(struct builder *g, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void scope(struct builder *g, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	vsnprintf(g->scope, sizeof g->scope, f, ap);
	va_end(ap);
}

/* ---------- initializers ---------- */

static void tensor_header(struct pbuf *t, const char *name, int dtype, const int64_t *dims, int ndim)
{
	for (int d = 0; d < ndim; d++)
		pb_int(t, TENSOR_DIMS, dims[d]);
	pb_int(t, TENSOR_DATA_TYPE, dtype);
	pb_string(t, TENSOR_NAME, name);
}

static const char *find_const(struct builder *g, const char *name)
{
	for (int i = 0; i < g->nconst; i++)
		if (!strcmp(g->const_names[i], name))
			return g->const_names[i];
	return NULL;
}

static const char *add_const(struct builder *g, const char *name, const struct pbuf *t)
{
	char **n = realloc(g->const_names, (size_t)(g->nconst + 1) * sizeof *n);
	if (!n) {
		g->failed = 1;
		return "";
	}
	g->const_names = n;
	g->const_names[g->nconst++] = (char *)keep(g, name);
	pb_message(&g->constants, GRAPH_INITIALIZER, t);
	return g->const_names[g->nconst - 1];
}

/* A 1-D int64 constant named name, made once. */
static const char *ints_named(struct builder *g, const char *name, int n, const int64_t *v)
{
	const char *have = find_const(g, name);
	if (have)
		return have;
	struct pbuf t = {0};
	int64_t dim = n;
	tensor_header(&t, name, DTYPE_INT64, &dim, 1);
	pb_int64s_le(&t, TENSOR_RAW_DATA, v, (size_t)n);
	have = add_const(g, name, &t);
	pb_free(&t);
	return have;
}

/* A short 1-D int64 constant (shapes, axes, pads), named after its value:
 * one per distinct value. */
static const char *ints(struct builder *g, int n, const int64_t *v)
{
	char name[NAME_MAX_LEN] = "i64";
	size_t len = strlen(name);
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(name + len, sizeof name - len, "_%s%lld", v[i] < 0 ? "m" : "",
					(long long)llabs(v[i]));
	return ints_named(g, name, n, v);
}

#define INTS(g, ...) ints(g, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

/* A 0-D constant: a float scalar or an int64 index. */
static const char *scalar(struct builder *g, const char *name, float f)
{
	const char *have = find_const(g, name);
	if (have)
		return have;
	struct pbuf t = {0};
	tensor_header(&t, name, DTYPE_FLOAT, NULL, 0);
	pb_floats_le(&t, TENSOR_RAW_DATA, &f, 1);
	have = add_const(g, name, &t);
	pb_free(&t);
	return have;
}

static struct weight *find_weight(struct builder *g, const char *name)
{
	for (int i = 0; i < g->nw; i++)
		if (!strcmp(g->w[i].name, name))
			return &g->w[i];
	return NULL;
}

static struct weight *new_weight(struct builder *g, const char *name)
{
	struct weight *w = find_weight(g, name);
	if (w)
		return w;
	w = realloc(g->w, (size_t)(g->nw + 1) * sizeof *w);
	if (!w) {
		g->failed = 1;
		return NULL;
	}
	g->w = w;
	w = &g->w[g->nw++];
	memset(w, 0, sizeof *w);
	snprintf(w->name, sizeof w->name, "%s", name);
	return w;
}

/* Tensor i of the model's table as it is, under its state_dict key,
 * written once. */
static const char *param(struct builder *g, int i)
{
	const struct param_spec *s = &g->m->specs[i];
	struct weight *w = new_weight(g, s->name);
	if (!w)
		return "";
	if (!w->data) {
		w->ndim = s->ndim;
		memcpy(w->dims, s->shape, sizeof w->dims);
		w->data = g->m->params + s->offset;
		w->n = s->numel;
	}
	return keep(g, s->name);
}

/* A tensor the builder computes (a folded weight), shape dims. */
static float *owned_weight(struct builder *g, const char *name, int ndim, const int64_t *dims)
{
	struct weight *w = new_weight(g, name);
	size_t n = 1;
	if (!w)
		return NULL;
	for (int d = 0; d < ndim; d++)
		n *= (size_t)dims[d];
	if (!(w->owned = malloc(n * sizeof *w->owned))) {
		g->failed = 1;
		return NULL;
	}
	w->data = w->owned, w->n = n, w->ndim = ndim;
	memcpy(w->dims, dims, (size_t)ndim * sizeof *dims);
	return w->owned;
}

/* ---------- nodes ---------- */

struct node {
	struct pbuf pb;
	const char *op;
};

static void node_begin(struct node *n, const char *op)
{
	n->pb = (struct pbuf){0};
	n->op = op;
}

static void in(struct node *n, const char *name)
{
	pb_string(&n->pb, NODE_INPUT, name);
}

static void attr_int(struct node *n, const char *name, int64_t v)
{
	struct pbuf a = {0};
	pb_string(&a, ATTR_NAME, name);
	pb_int(&a, ATTR_TYPE, ATTR_INT);
	pb_int(&a, ATTR_I, v);
	pb_message(&n->pb, NODE_ATTRIBUTE, &a);
	pb_free(&a);
}

static void attr_float(struct node *n, const char *name, float v)
{
	struct pbuf a = {0};
	pb_string(&a, ATTR_NAME, name);
	pb_int(&a, ATTR_TYPE, ATTR_FLOAT);
	pb_float(&a, ATTR_F, v);
	pb_message(&n->pb, NODE_ATTRIBUTE, &a);
	pb_free(&a);
}

static void attr_string(struct node *n, const char *name, const char *v)
{
	struct pbuf a = {0};
	pb_string(&a, ATTR_NAME, name);
	pb_int(&a, ATTR_TYPE, ATTR_STRING);
	pb_string(&a, ATTR_S, v);
	pb_message(&n->pb, NODE_ATTRIBUTE, &a);
	pb_free(&a);
}

static void attr_ints(struct node *n, const char *name, int k, const int64_t *v)
{
	struct pbuf a = {0};
	pb_string(&a, ATTR_NAME, name);
	pb_int(&a, ATTR_TYPE, ATTR_INTS_TYPE);
	for (int i = 0; i < k; i++)
		pb_int(&a, ATTR_INTS, v[i]);
	pb_message(&n->pb, NODE_ATTRIBUTE, &a);
	pb_free(&a);
}

#define ATTR_INTS(n, name, ...) \
	attr_ints(n, name, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

/* Ends the node with nout outputs named after the scope (or out[0] when
 * given); returns the first output's name, the others in out. */
static const char *node_end_n(struct builder *g, struct node *n, int nout, const char **out)
{
	const char *first = NULL;
	const char *name = fmt(g, "%s/%s_%d", g->scope, n->op, g->counter++);
	for (int k = 0; k < nout; k++) {
		const char *o = out && out[k] ? out[k] : nout == 1 ? name : fmt(g, "%s:%d", name, k);
		if (out)
			out[k] = o;
		if (!k)
			first = o;
		pb_string(&n->pb, NODE_OUTPUT, o);
	}
	pb_string(&n->pb, NODE_NAME, name);
	pb_string(&n->pb, NODE_OP_TYPE, n->op);
	pb_message(&g->nodes, GRAPH_NODE, &n->pb);
	pb_free(&n->pb);
	return first;
}

static const char *node_end(struct builder *g, struct node *n)
{
	return node_end_n(g, n, 1, NULL);
}

static const char *op1(struct builder *g, const char *op, const char *a)
{
	struct node n;
	node_begin(&n, op);
	in(&n, a);
	return node_end(g, &n);
}

static const char *op2(struct builder *g, const char *op, const char *a, const char *b)
{
	struct node n;
	node_begin(&n, op);
	in(&n, a);
	in(&n, b);
	return node_end(g, &n);
}

static const char *reshape(struct builder *g, const char *x, int k, const int64_t *shape)
{
	return op2(g, "Reshape", x, ints(g, k, shape));
}
#define RESHAPE(g, x, ...) \
	reshape(g, x, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static const char *transpose(struct builder *g, const char *x, int k, const int64_t *perm)
{
	struct node n;
	node_begin(&n, "Transpose");
	in(&n, x);
	attr_ints(&n, "perm", k, perm);
	return node_end(g, &n);
}
#define TRANSPOSE(g, x, ...) \
	transpose(g, x, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

/* x[start:end] along axis */
static const char *slice(struct builder *g, const char *x, int64_t axis, int64_t start, int64_t end)
{
	struct node n;
	node_begin(&n, "Slice");
	in(&n, x);
	in(&n, INTS(g, start));
	in(&n, INTS(g, end));
	in(&n, INTS(g, axis));
	return node_end(g, &n);
}

static const char *concat(struct builder *g, int64_t axis, int k, const char **xs)
{
	struct node n;
	node_begin(&n, "Concat");
	for (int i = 0; i < k; i++)
		in(&n, xs[i]);
	attr_int(&n, "axis", axis);
	return node_end(g, &n);
}

/* torch.roll(x, by, axis) for |by| < the axis's size: out[i] = x[(i - by)
 * mod size]; the slices count from the end for by > 0, so that the size
 * need not be known. */
static const char *roll(struct builder *g, const char *x, int64_t axis, int64_t by)
{
	if (!by)
		return x;
	const char *parts[2] = {slice(g, x, axis, -by, INT64_MAX), slice(g, x, axis, 0, -by)};
	return concat(g, axis, 2, parts);
}

/* A value that depends on the time axis: -1 (for Reshape: "the rest")
 * when that axis is symbolic. */
static int64_t kn(const struct builder *g, int64_t v)
{
	return g->dyn ? -1 : v;
}

/* The size of x along axis, as a 1-D int64 tensor of one element. */
static const char *dim_of(struct builder *g, const char *x, int64_t axis)
{
	struct node n;
	node_begin(&n, "Shape");
	in(&n, x);
	attr_int(&n, "start", axis);
	attr_int(&n, "end", axis + 1);
	return node_end(g, &n);
}

/* GELU, the exact erf form: x * (1 + erf(x / sqrt 2)) * 0.5 */
static const char *gelu(struct builder *g, const char *x)
{
	const char *e = op1(g, "Erf", op2(g, "Div", x, scalar(g, "sqrt2", (float)M_SQRT2)));
	return op2(g, "Mul", op2(g, "Mul", x, op2(g, "Add", e, scalar(g, "one", 1.0f))),
		   scalar(g, "half", 0.5f));
}

/* x [M, K] times w [N, K] transposed, plus b [N] when given */
static const char *gemm(struct builder *g, const char *x, const char *w, const char *b)
{
	struct node n;
	node_begin(&n, "Gemm");
	in(&n, x);
	in(&n, w);
	if (b)
		in(&n, b);
	attr_int(&n, "transB", 1);
	return node_end(g, &n);
}

static const char *layernorm(struct builder *g, const char *x, const char *w, const char *b)
{
	struct node n;
	node_begin(&n, "LayerNormalization");
	in(&n, x);
	in(&n, w);
	in(&n, b);
	attr_int(&n, "axis", -1);
	attr_float(&n, "epsilon", LN_EPS);
	return node_end(g, &n);
}

/* ---------- folded convolutions ---------- */

/* Convolution l with its BatchNorm folded in, named "<weight's key>+bn"
 * and "<bias's key>+bn"; a [co][ci] weight when flat (for Gemm). The
 * weight's output axis is l's (the second of a transposed convolution's). */
static void folded_conv(struct builder *g, const struct arch_conv *l, int flat, const char **wname,
			const char **bname)
{
	const struct param_spec *s = &g->m->specs[l->w], *sb = &g->m->specs[l->b];
	int64_t flatdims[2] = {s->shape[0], s->shape[1]};
	size_t outer = l->kind == LAYER_CONVT ? (size_t)l->ci : 1;
	*wname = fmt(g, "%s+bn", s->name);
	*bname = fmt(g, "%s+bn", sb->name);
	float *w = owned_weight(g, *wname, flat ? 2 : s->ndim, flat ? flatdims : s->shape);
	float *b = owned_weight(g, *bname, 1, sb->shape);
	if (!w || !b)
		return;
	memcpy(w, g->m->params + s->offset, s->numel * sizeof *w);
	memcpy(b, g->m->params + sb->offset, sb->numel * sizeof *b);
	const float *p = g->m->params;
	const struct param_spec *bn = &g->m->specs[l->bn];
	batchnorm_fold(w, b, outer, (size_t)l->co, s->numel / outer / (size_t)l->co, p + bn[0].offset,
		       p + bn[1].offset, p + bn[2].offset, p + bn[3].offset, NULL);
}

/* A stage's convolution l on NCHW: Conv(k, stride, pad) or
 * ConvTranspose(4, 2, 1), BatchNorm folded in (or the layer's own weights
 * when it has none), GELU when l has it. */
static const char *conv_layer(struct builder *g, const char *x, const struct arch_conv *l)
{
	const char *w, *b;
	struct node n;
	if (l->bn >= 0) {
		folded_conv(g, l, 0, &w, &b);
	} else {
		w = param(g, l->w);
		b = param(g, l->b);
	}
	node_begin(&n, l->kind == LAYER_CONVT ? "ConvTranspose" : "Conv");
	in(&n, x);
	in(&n, w);
	in(&n, b);
	ATTR_INTS(&n, "kernel_shape", l->k, l->k);
	if (l->stride != 1 || l->pad != 0) { /* else the defaults */
		ATTR_INTS(&n, "strides", l->stride, l->stride);
		ATTR_INTS(&n, "pads", l->pad, l->pad, l->pad, l->pad);
	}
	x = node_end(g, &n);
	return l->gelu ? gelu(g, x) : x;
}

/* ---------- the TFSWA block ---------- */

/* The Swin mask of a shifted window's scores, for mask_shifted models: the
 * mask of window w is one of four (is it in the last row of windows, in the
 * last column), so the graph holds those four [4][1][L][L] and gathers them
 * by window. 0 where two tokens share a region, -1e9 where they do not
 * (softmax then gives exactly 0, as tf-unet's masked keys). */
static const char *window_mask(struct builder *g, int Hp, int Wp, int ws, int shift)
{
	char name[NAME_MAX_LEN];
	int L = ws * ws, nh = Hp / ws, nw = Wp / ws;
	snprintf(name, sizeof name, "swa_mask_%dx%d", Hp, Wp);
	int64_t dims[4] = {4, 1, L, L};
	if (!find_weight(g, name)) {
		float *m = owned_weight(g, name, 4, dims);
		if (!m)
			return "";
		for (int type = 0; type < 4; type++) {
			int i = type & 2 ? nh - 1 : 0, j = type & 1 ? nw - 1 : 0, reg[64 * 64];
			if (!(type & 2) && nh == 1)
				i = -1; /* no such window: any pattern will do */
			for (int t = 0; t < L; t++) {
				int hs = i * ws + t / ws, wsx = j * ws + t % ws;
				int rh = hs < Hp - ws ? 0 : hs < Hp - shift ? 1 : 2;
				int rw = wsx < Wp - ws ? 0 : wsx < Wp - shift ? 1 : 2;
				reg[t] = 3 * rh + rw;
			}
			for (int a = 0; a < L; a++)
				for (int b = 0; b < L; b++)
					m[((size_t)type * L + a) * L + b] = reg[a] == reg[b] ? 0.0f : -1e9f;
		}
	}
	int64_t *idx = malloc((size_t)nh * nw * sizeof *idx);
	if (!idx) {
		g->failed = 1;
		return "";
	}
	for (int i = 0; i < nh; i++)
		for (int j = 0; j < nw; j++)
			idx[i * nw + j] = (i == nh - 1) * 2 + (j == nw - 1);
	const char *ix = ints_named(g, fmt(g, "swa_mask_index_%dx%d", Hp, Wp), nh * nw, idx);
	free(idx);
	struct node n;
	node_begin(&n, "Gather");
	in(&n, name);
	in(&n, ix);
	attr_int(&n, "axis", 0);
	return node_end(g, &n);
}

/* t = t + MHA(LN1(t)); t = t + MLP(LN2(t)) on t [N*L, C] (N sequences of
 * L tokens); mask [nwin][1][L][L] added to the scores when given. */
static const char *tlayer(struct builder *g, const char *t, const struct arch_tlayer *p, int64_t C, int64_t N,
			  int64_t L, const char *mask, int64_t nwin)
{
	int64_t h = g->c->num_heads, d;
	d = C / h;
	const char *u = layernorm(g, t, param(g, p->norm1_w), param(g, p->norm1_b));
	const char *qkv = gemm(g, u, param(g, p->qkv_w), NULL);
	const char *parts[3] = {0};
	struct node n;
	node_begin(&n, "Split");
	in(&n, qkv);
	attr_int(&n, "axis", 1);
	node_end_n(g, &n, 3, parts);
	int64_t NL = N < 0 || L < 0 ? -1 : N * L; /* N or L is -1 when it depends on the time axis */
	const char *q = TRANSPOSE(g, RESHAPE(g, parts[0], N, L, h, d), 0, 2, 1, 3);
	const char *k = TRANSPOSE(g, RESHAPE(g, parts[1], N, L, h, d), 0, 2, 3, 1);
	const char *v = TRANSPOSE(g, RESHAPE(g, parts[2], N, L, h, d), 0, 2, 1, 3);
	char sname[32];
	snprintf(sname, sizeof sname, "scale_d%lld", (long long)d);
	q = op2(g, "Mul", q, scalar(g, sname, 1.0f / sqrtf((float)d)));
	const char *s = op2(g, "MatMul", q, k); /* [N][h][L][L] */
	if (mask) {
		s = RESHAPE(g, s, N / nwin, nwin, h, L, L);
		s = RESHAPE(g, op2(g, "Add", s, mask), N, h, L, L);
	}
	node_begin(&n, "Softmax");
	in(&n, s);
	attr_int(&n, "axis", -1);
	s = node_end(g, &n);
	const char *o = RESHAPE(g, TRANSPOSE(g, op2(g, "MatMul", s, v), 0, 2, 1, 3), NL, C);
	t = op2(g, "Add", t, gemm(g, o, param(g, p->proj_w), param(g, p->proj_b)));
	u = layernorm(g, t, param(g, p->norm2_w), param(g, p->norm2_b));
	const char *hid = gelu(g, gemm(g, u, param(g, p->fc1_w), param(g, p->fc1_b)));
	return op2(g, "Add", t, gemm(g, hid, param(g, p->fc2_w), param(g, p->fc2_b)));
}

/* One TFSWA block on x0 [B*H*W, C] (pixels in row-major order, channels
 * last); skip (the same layout) added at the end when given. */
static const char *block(struct builder *g, const char *x0, const char *skip, const struct arch_block *k,
			 int64_t H, int64_t W)
{
	const struct unet_config *c = g->c;
	const char *p = k->name;
	int64_t B = g->B, ws = c->window_size, C = k->C;
	int shift = k->shift;
	const char *w, *b, *br[3];
	scope(g, "%s", p);
	folded_conv(g, &k->in_proj, 1, &w, &b);
	const char *x = gemm(g, x0, w, b);

	/* along H (tsa): one sequence per (b, w) */
	scope(g, "%s.tsa", p);
	const char *t = RESHAPE(g, TRANSPOSE(g, RESHAPE(g, x, B, H, kn(g, W), C), 0, 2, 1, 3), kn(g, B * W * H), C);
	t = tlayer(g, t, &k->br[BRANCH_H], C, kn(g, B * W), H, NULL, 0);
	br[0] = RESHAPE(g, TRANSPOSE(g, RESHAPE(g, t, B, kn(g, W), H, C), 0, 2, 1, 3), kn(g, B * H * W), C);

	/* along W (fsa): one sequence per (b, h), already in order */
	scope(g, "%s.fsa", p);
	br[1] = tlayer(g, x, &k->br[BRANCH_W], C, B * H, kn(g, W), NULL, 0);

	/* windows (swa): pad at the end, roll by -shift, partition */
	scope(g, "%s.swa", p);
	int64_t Hp = (H + ws - 1) / ws * ws, Wp = (W + ws - 1) / ws * ws, nh = Hp / ws, nw = Wp / ws;
	const char *x4 = t = RESHAPE(g, x, B, H, kn(g, W), C), *wdim = NULL;
	if (g->dyn) {
		/* pad W by (-W) mod ws, computed from the input */
		wdim = dim_of(g, x4, 2);
		const char *pads[3] = {INTS(g, 0, 0, 0, 0, 0, Hp - H),
				       op2(g, "Mod", op1(g, "Neg", wdim), INTS(g, ws)), INTS(g, 0)};
		t = op2(g, "Pad", t, concat(g, 0, 3, pads));
	} else if (Hp != H || Wp != W) {
		t = op2(g, "Pad", t, INTS(g, 0, 0, 0, 0, 0, Hp - H, Wp - W, 0));
	}
	t = roll(g, roll(g, t, 1, -shift), 2, -shift);
	t = RESHAPE(g, TRANSPOSE(g, RESHAPE(g, t, B, nh, ws, kn(g, nw), ws, C), 0, 1, 3, 2, 4, 5),
		    kn(g, B * nh * nw * ws * ws), C);
	const char *mask = shift && c->mask_shifted ? window_mask(g, (int)Hp, (int)Wp, (int)ws, shift) : NULL;
	t = tlayer(g, t, &k->br[BRANCH_WINDOWS], C, kn(g, B * nh * nw), ws * ws, mask, nh * nw);
	t = RESHAPE(g, TRANSPOSE(g, RESHAPE(g, t, B, nh, kn(g, nw), ws, ws, C), 0, 1, 3, 2, 4, 5), B, Hp,
		    kn(g, Wp), C);
	t = roll(g, roll(g, t, 1, shift), 2, shift);
	if (Hp != H)
		t = slice(g, t, 1, 0, H);
	if (g->dyn) {
		struct node n;
		node_begin(&n, "Slice");
		in(&n, t);
		in(&n, INTS(g, 0));
		in(&n, wdim);
		in(&n, INTS(g, 2));
		t = node_end(g, &n);
	} else if (Wp != W) {
		t = slice(g, t, 2, 0, W);
	}
	br[2] = RESHAPE(g, t, kn(g, B * H * W), C);

	/* fusion of concat[a, f, w], GELU, the residual, the skip */
	scope(g, "%s", p);
	folded_conv(g, &k->fusion, 1, &w, &b);
	const char *y = op2(g, "Add", gelu(g, gemm(g, concat(g, 1, 3, br), w, b)), x0);
	return skip ? op2(g, "Add", y, skip) : y;
}

static const char *stage(struct builder *g, const char *x, const char *skip, const struct arch_stage *st,
			 int64_t H, int64_t W)
{
	for (int b = 0; b < st->nblocks; b++)
		x = block(g, x, b ? NULL : skip, &st->blocks[b], H, W);
	return x;
}

/* NCHW <-> pixels [B*H*W, C] */
static const char *to_pixels(struct builder *g, const char *x, int64_t H, int64_t W, int64_t C)
{
	return RESHAPE(g, TRANSPOSE(g, x, 0, 2, 3, 1), kn(g, g->B * H * W), C);
}

static const char *to_nchw(struct builder *g, const char *x, int64_t H, int64_t W, int64_t C)
{
	return TRANSPOSE(g, RESHAPE(g, x, g->B, H, kn(g, W), C), 0, 3, 1, 2);
}

/* ---------- the network ---------- */

static int network(struct builder *g)
{
	struct arch a;
	int hs[UNET_LEVELS], wsz[UNET_LEVELS];
	int64_t h = g->H, w = g->W, C = g->c->in_channels;
	const char *kept[ARCH_MAX_STAGES] = {0}, *kept_nchw[ARCH_MAX_STAGES] = {0};
	const char *x = "spec"; /* NCHW until the first stage's convolutions are done */
	if (arch_init(&a, g->c))
		return -1;
	arch_level_sizes(&a, (int)g->H, (int)g->W, hs, wsz);
	for (int s = 0; s < a.nstages; s++) {
		const struct arch_stage *st = &a.stage[s];
		if (st->nconvs) {
			scope(g, "%s", st->module);
			if (s > 0) {
				x = to_nchw(g, x, h, w, C);
				if (a.stage[s - 1].keep)
					kept_nchw[s - 1] = x;
			}
		}
		for (int k = 0; k < st->nconvs; k++) {
			const struct arch_conv *l = &st->conv[k];
			x = conv_layer(g, x, l);
			C = l->co;
			if (l->kind == LAYER_CONVT &&
			    (g->dyn || 2 * h != hs[st->level] || 2 * w != wsz[st->level])) {
				/* odd sizes: bilinear, half-pixel centres, to the skip's size (with
				 * a symbolic time axis always: the same size is an exact copy) */
				struct node n;
				node_begin(&n, "Resize");
				in(&n, x);
				in(&n, "");
				in(&n, "");
				in(&n, g->dyn ? op1(g, "Shape", kept_nchw[st->skip])
					      : INTS(g, g->B, C, hs[st->level], wsz[st->level]));
				attr_string(&n, "mode", "linear");
				attr_string(&n, "coordinate_transformation_mode", "half_pixel");
				x = node_end(g, &n);
			}
			h = hs[st->level], w = wsz[st->level];
		}
		if (st->role == STAGE_HEAD)
			break;
		if (st->nconvs)
			x = to_pixels(g, x, h, w, C);
		x = stage(g, x, st->skip >= 0 ? kept[st->skip] : NULL, st, h, w);
		if (st->keep)
			kept[s] = x;
	}
	arch_free(&a);
	const char *out[1] = {"masks"};
	struct node n;
	node_begin(&n, "Sigmoid");
	in(&n, x);
	node_end_n(g, &n, 1, out);
	return 0;
}

/* ---------- the file ---------- */

/* dims[k] < 0: the symbolic dimension "frames" */
static void value_info(struct pbuf *graph, int field, const char *name, const int64_t *dims)
{
	struct pbuf v = {0}, type = {0}, tt = {0}, shape = {0};
	for (int k = 0; k < 4; k++) {
		struct pbuf dim = {0};
		if (dims[k] < 0)
			pb_string(&dim, DIM_PARAM, "frames");
		else
			pb_int(&dim, DIM_VALUE, dims[k]);
		pb_message(&shape, SHAPE_DIM, &dim);
		pb_free(&dim);
	}
	pb_int(&tt, TENSOR_TYPE_ELEM, DTYPE_FLOAT);
	pb_message(&tt, TENSOR_TYPE_SHAPE, &shape);
	pb_message(&type, TYPE_TENSOR, &tt);
	pb_string(&v, VALUE_NAME, name);
	pb_message(&v, VALUE_TYPE, &type);
	pb_message(graph, field, &v);
	pb_free(&v), pb_free(&type), pb_free(&tt), pb_free(&shape);
}

static void metadata(struct pbuf *model, const char *key, const char *value)
{
	struct pbuf e = {0};
	pb_string(&e, ENTRY_KEY, key);
	pb_string(&e, ENTRY_VALUE, value);
	pb_message(model, MODEL_METADATA, &e);
	pb_free(&e);
}

static int put(FILE *fp, const void *p, size_t n)
{
	return n && fwrite(p, 1, n, fp) != n ? -1 : 0;
}

/* A weight: its TensorProto without the data, then the data in chunks. */
static int write_weight(FILE *fp, const struct weight *w)
{
	struct pbuf h = {0};
	unsigned char hdr[24], buf[1 << 16];
	tensor_header(&h, w->name, DTYPE_FLOAT, w->dims, w->ndim);
	size_t k = pb_len_header(hdr, TENSOR_RAW_DATA, 4 * w->n);
	size_t body = h.n + k + 4 * w->n;
	unsigned char outer[24];
	size_t ko = pb_len_header(outer, GRAPH_INITIALIZER, body);
	int rc = h.failed ? -1 : put(fp, outer, ko) || put(fp, h.p, h.n) || put(fp, hdr, k);
	for (size_t i = 0; !rc && i < w->n; i += sizeof buf / 4) {
		size_t n = w->n - i < sizeof buf / 4 ? w->n - i : sizeof buf / 4;
		pb_store_floats_le(buf, w->data + i, n);
		rc = put(fp, buf, 4 * n);
	}
	pb_free(&h);
	return rc;
}

static size_t weight_size(const struct weight *w)
{
	struct pbuf h = {0};
	tensor_header(&h, w->name, DTYPE_FLOAT, w->dims, w->ndim);
	size_t n = pb_len_field_size(GRAPH_INITIALIZER, h.n + pb_len_field_size(TENSOR_RAW_DATA, 4 * w->n));
	pb_free(&h);
	return n;
}

static void builder_free(struct builder *g)
{
	pb_free(&g->nodes);
	pb_free(&g->constants);
	for (int i = 0; i < g->nw; i++)
		free(g->w[i].owned);
	free(g->w);
	for (int i = 0; i < g->nnames; i++)
		free(g->names[i]);
	free(g->names);
	free(g->const_names);
}

int onnx_check_shape(const struct unet_config *c, const int64_t shape[4])
{
	if (shape[1] != c->in_channels)
		return tf_seterr("the input has %lld channels, the model takes %d (real and imaginary parts of %d "
				 "audio channel%s)", (long long)shape[1], c->in_channels, c->channels,
				 c->channels == 1 ? "" : "s");
	if (shape[2] < UNET_MIN_SIZE || shape[3] < UNET_MIN_SIZE)
		return tf_seterr("input %lld x %lld (bins x frames) is smaller than the network's minimum %d x %d",
				 (long long)shape[2], (long long)shape[3], UNET_MIN_SIZE, UNET_MIN_SIZE);
	if (shape[0] < 1 || shape[0] > 4096 || shape[2] > (1 << 20) || shape[3] > (1 << 24) ||
	    shape[0] * shape[1] * shape[2] * shape[3] > ((int64_t)1 << 31) || shape[2] * shape[3] > ((int64_t)1 << 26))
		return tf_seterr("input %lld x %lld x %lld x %lld is too large", (long long)shape[0],
				 (long long)shape[1], (long long)shape[2], (long long)shape[3]);
	return 0;
}

int export_onnx(const struct model *m, FILE *fp, const int64_t shape[4], int dynamic_frames)
{
	struct builder g = {.m = m, .c = &m->cfg, .B = shape[0], .H = shape[2], .W = shape[3],
			    .dyn = dynamic_frames};
	struct pbuf head = {0}, tail = {0}, opset = {0};
	char *settings = NULL;
	int rc = -1;
	if (onnx_check_shape(&m->cfg, shape))
		return -1;
	if (dynamic_frames && m->cfg.mask_shifted && m->cfg.shift_size)
		return tf_seterr("a model with the Swin mask in shifted windows (mask_shifted) needs a fixed number "
				 "of frames");
	if (network(&g))
		goto out;

	/* GraphProto: nodes, name, constants, weights (streamed), inputs, outputs */
	int64_t T = dynamic_frames ? -1 : shape[3];
	int64_t in_shape[4] = {shape[0], shape[1], shape[2], T}, out_shape[4] = {shape[0], m->cfg.out_channels, shape[2], T};
	pb_string(&tail, GRAPH_NAME, "tfswa_unet");
	pb_string(&tail, GRAPH_DOC, "TFSWA-UNet: spec [B, in_channels, bins, frames] (real parts, then imaginary "
				    "parts) to sigmoid masks [B, out_channels, bins, frames], mask s*channels+c "
				    "for stem s of audio channel c");
	value_info(&tail, GRAPH_INPUT, "spec", in_shape);
	value_info(&tail, GRAPH_OUTPUT, "masks", out_shape);
	size_t graph_len = g.nodes.n + g.constants.n + tail.n;
	for (int i = 0; i < g.nw; i++)
		graph_len += weight_size(&g.w[i]);

	/* ModelProto: header fields, the graph, opset and metadata */
	pb_int(&head, MODEL_IR_VERSION, ONNX_IR_VERSION);
	pb_string(&head, MODEL_PRODUCER_NAME, "tfswa");
	pb_string(&head, MODEL_PRODUCER_VERSION, TF_VERSION);
	pb_string(&head, MODEL_DOC, "TFSWA-UNet exported by tf-export --to onnx");
	pb_string(&opset, OPSET_DOMAIN, "");
	pb_int(&opset, OPSET_VERSION, ONNX_OPSET);
	struct pbuf model_tail = {0};
	pb_message(&model_tail, MODEL_OPSET_IMPORT, &opset);
	if (!(settings = export_settings_json(&m->cfg)))
		g.failed = 1;
	else
		metadata(&model_tail, "tfswa.config", settings);
	metadata(&model_tail, "tfswa.quantization", quant_traits[m->cfg.quantization].name);

	if (g.failed || g.nodes.failed || g.constants.failed || tail.failed || head.failed || model_tail.failed) {
		tf_seterr("out of memory building the ONNX graph");
		goto out;
	}
	unsigned char gh[24];
	size_t ghn = pb_len_header(gh, MODEL_GRAPH, graph_len);
	if (put(fp, head.p, head.n) || put(fp, gh, ghn) || put(fp, g.nodes.p, g.nodes.n) ||
	    put(fp, g.constants.p, g.constants.n))
		goto write_error;
	for (int i = 0; i < g.nw; i++)
		if (write_weight(fp, &g.w[i]))
			goto write_error;
	if (put(fp, tail.p, tail.n) || put(fp, model_tail.p, model_tail.n))
		goto write_error;
	rc = 0;
	goto out;
write_error:
	tf_seterr("writing ONNX: %s", strerror(errno));
out:
	free(settings);
	pb_free(&head), pb_free(&tail), pb_free(&opset), pb_free(&model_tail);
	builder_free(&g);
	return rc;
}
