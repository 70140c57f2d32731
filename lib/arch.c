/* The architecture table (arch.h). Parameters are added in the reference's
 * state_dict order (the order of the model file), which is not the order
 * of the forward pass: all encoder stages come before all downsampling
 * layers. The stages are filled in as their layers are added. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "error.h"
#include "kernels/conv.h"

static const char *const branch_names[ARCH_BRANCHES] = {"tsa", "fsa", "swa"};

struct builder {
	struct arch *a;
	int max;   /* a->params has room for max (0 while counting) */
	int nblocks;
};

static int add(struct builder *l, enum param_role role, const char *not_int8, int out_axis, int64_t d0,
	       int64_t d1, int64_t d2, int64_t d3, const char *fmt, ...) __attribute__((format(printf, 9, 10)));

/* One tensor; its index. not_int8: why a q8 model keeps a weight in float
 * (NULL: int8), for the tensors of two or more axes. */
static int add(struct builder *l, enum param_role role, const char *not_int8, int out_axis, int64_t d0,
	       int64_t d1, int64_t d2, int64_t d3, const char *fmt, ...)
{
	int trainable = role != PARAM_RUNNING_MEAN && role != PARAM_RUNNING_VAR;
	struct arch *a = l->a;
	int64_t dims[4] = {d0, d1, d2, d3};
	struct param_spec p = {0};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p.name, sizeof p.name, fmt, ap);
	va_end(ap);
	p.numel = 1;
	for (int i = 0; i < 4 && dims[i] > 0; i++) {
		p.shape[p.ndim++] = dims[i];
		p.numel *= (size_t)dims[i];
	}
	p.offset = a->nfloats;
	p.trainable = trainable;
	p.role = role;
	p.not_int8 = p.ndim < 2 ? (trainable ? "1-D (bias or norm)" : "BatchNorm statistic") : not_int8;
	p.out_axis = out_axis;
	/* keep every tensor 64-byte aligned inside the one buffer */
	a->nfloats += (p.numel + 15) & ~(size_t)15;
	if (a->nparams < l->max)
		a->params[a->nparams] = p;
	return a->nparams++;
}

/* BatchNorm "<prefix>" over c channels: the index of its weight. */
static int add_bn(struct builder *l, int64_t c, const char *prefix)
{
	int i = add(l, PARAM_SCALE, NULL, 0, c, 0, 0, 0, "%s.weight", prefix);
	add(l, PARAM_BIAS, NULL, 0, c, 0, 0, 0, "%s.bias", prefix);
	add(l, PARAM_RUNNING_MEAN, NULL, 0, c, 0, 0, 0, "%s.running_mean", prefix);
	add(l, PARAM_RUNNING_VAR, NULL, 0, c, 0, 0, 0, "%s.running_var", prefix);
	return i;
}

/* Conv2d "<module>.<at>" (k x k, co x ci) with bias, then BatchNorm
 * "<module>.<at+1>" when bn. */
static struct arch_conv add_conv(struct builder *l, const char *module, int at, int ci, int co, int k, int stride,
				 int pad, int bn, int gelu, const char *not_int8)
{
	char p[MODEL_NAME_MAX + 16];
	struct arch_conv c = {LAYER_CONV, ci, co, k, stride, pad, gelu, 0, 0, -1};
	c.w = add(l, PARAM_WEIGHT, not_int8, 0, co, ci, k, k, "%s.%d.weight", module, at);
	c.b = add(l, PARAM_BIAS, NULL, 0, co, 0, 0, 0, "%s.%d.bias", module, at);
	if (bn) {
		snprintf(p, sizeof p, "%s.%d", module, at + 1);
		c.bn = add_bn(l, co, p);
	}
	return c;
}

/* ConvTranspose2d(4, 2, 1) "<module>.0" + BatchNorm "<module>.1" + GELU:
 * the output channel is the weight's second axis. */
static struct arch_conv add_convt(struct builder *l, const char *module, int ci, int co)
{
	char p[MODEL_NAME_MAX + 16];
	struct arch_conv c = {LAYER_CONVT, ci, co, 4, 2, 1, 1, 0, 0, -1};
	c.w = add(l, PARAM_WEIGHT, NULL, 1, ci, co, 4, 4, "%s.0.weight", module);
	c.b = add(l, PARAM_BIAS, NULL, 0, co, 0, 0, 0, "%s.0.bias", module);
	snprintf(p, sizeof p, "%s.1", module);
	c.bn = add_bn(l, co, p);
	return c;
}

static void add_block(struct builder *l, const struct unet_config *c, struct arch_block *k, int C, int shift,
		      const char *fmt, int i, int b)
{
	char m[MODEL_NAME_MAX + 16];
	struct arch_block blk = {.C = C, .hidden = config_mlp_hidden(c, C), .shift = shift};
	int64_t H = blk.hidden;
	snprintf(blk.name, sizeof blk.name, fmt, i, b);
	snprintf(m, sizeof m, "%s.input_proj", blk.name);
	blk.in_proj = add_conv(l, m, 0, C, C, 1, 1, 0, 1, 0, NULL);
	for (int r = 0; r < ARCH_BRANCHES; r++) {
		struct arch_tlayer *t = &blk.br[r];
		const char *p = blk.name, *br = branch_names[r];
		t->norm1_w = add(l, PARAM_SCALE, NULL, 0, C, 0, 0, 0, "%s.%s.norm1.weight", p, br);
		t->norm1_b = add(l, PARAM_BIAS, NULL, 0, C, 0, 0, 0, "%s.%s.norm1.bias", p, br);
		t->qkv_w = add(l, PARAM_WEIGHT, NULL, 0, 3 * C, C, 0, 0, "%s.%s.attn.qkv.weight", p, br);
		t->proj_w = add(l, PARAM_WEIGHT, NULL, 0, C, C, 0, 0, "%s.%s.attn.proj.weight", p, br);
		t->proj_b = add(l, PARAM_BIAS, NULL, 0, C, 0, 0, 0, "%s.%s.attn.proj.bias", p, br);
		t->norm2_w = add(l, PARAM_SCALE, NULL, 0, C, 0, 0, 0, "%s.%s.norm2.weight", p, br);
		t->norm2_b = add(l, PARAM_BIAS, NULL, 0, C, 0, 0, 0, "%s.%s.norm2.bias", p, br);
		t->fc1_w = add(l, PARAM_WEIGHT, NULL, 0, H, C, 0, 0, "%s.%s.mlp.0.weight", p, br);
		t->fc1_b = add(l, PARAM_BIAS, NULL, 0, H, 0, 0, 0, "%s.%s.mlp.0.bias", p, br);
		t->fc2_w = add(l, PARAM_WEIGHT, NULL, 0, C, H, 0, 0, "%s.%s.mlp.3.weight", p, br);
		t->fc2_b = add(l, PARAM_BIAS, NULL, 0, C, 0, 0, 0, "%s.%s.mlp.3.bias", p, br);
	}
	snprintf(m, sizeof m, "%s.fusion", blk.name);
	blk.fusion = add_conv(l, m, 0, 3 * C, C, 1, 1, 0, 1, 1, NULL);
	if (k)
		*k = blk;
}

/* A stage's blocks: depth of them at C channels, "<fmt % i>.<b>". */
static void add_blocks(struct builder *l, const struct unet_config *c, struct arch_stage *st, int depth, int C,
		       const char *fmt, int i)
{
	st->nblocks = depth;
	st->blocks = l->a->blocks ? l->a->blocks + l->nblocks : NULL;
	for (int b = 0; b < depth; b++)
		add_block(l, c, st->blocks ? &st->blocks[b] : NULL, C, b % 2 ? c->shift_size : 0, fmt, i, b);
	l->nblocks += depth;
}

static void build(struct builder *l, const struct unet_config *c)
{
	struct arch *a = l->a;
	const int *d = c->dims;
	int L = a->nlevels, E = L - 1; /* levels; encoder stages (and decoder ones) */
	struct arch_stage *stem = &a->stage[0], *enc = &a->stage[1], *bott = &a->stage[1 + E],
			  *dec = &a->stage[2 + E], *head = &a->stage[2 + 2 * E];
	a->nstages = 3 + 2 * E;
	for (int s = 0; s < a->nstages; s++)
		a->stage[s] = (struct arch_stage){.skip = -1};
	snprintf(stem->name, sizeof stem->name, "stem");
	snprintf(bott->name, sizeof bott->name, "bottleneck");
	snprintf(head->name, sizeof head->name, "head");
	for (int s = 0; s < E; s++) {
		snprintf(enc[s].name, sizeof enc[s].name, "enc%d", s);
		snprintf(dec[s].name, sizeof dec[s].name, "dec%d", s);
	}
	stem->role = STAGE_STEM, stem->nconvs = 1;
	snprintf(stem->module, sizeof stem->module, "stem");
	stem->conv[0] = add_conv(l, "stem", 0, c->in_channels, d[0], 7, 1, 3, 1, 1,
				 "first layer: the raw spectrogram's range within a 7x7 patch exceeds int8");
	for (int s = 0; s < E; s++) {
		enc[s].role = STAGE_ENCODER, enc[s].level = s, enc[s].keep = 1;
		add_blocks(l, c, &enc[s], c->depths[s], d[s], "encoder_stages.%d.%d", s);
	}
	/* downsampling s feeds the stage at level s+1: encoder s+1, or the bottleneck */
	for (int s = 0; s < E; s++) {
		struct arch_stage *st = s + 1 < E ? &enc[s + 1] : bott;
		char m[MODEL_NAME_MAX];
		snprintf(st->module, sizeof st->module, "downsample_layers.%d", s);
		snprintf(m, sizeof m, "%s.downsample", st->module);
		st->nconvs = 1;
		st->conv[0] = add_conv(l, m, 0, d[s], d[s + 1], 4, 2, 1, 1, 1, NULL);
	}
	bott->role = STAGE_BOTTLENECK, bott->level = E;
	add_blocks(l, c, bott, c->depths[E], d[E], "bottleneck%.0d.%d", 0);
	/* decoder i serves level E-1-i: the deepest first */
	for (int i = 0; i < E; i++) {
		int s = E - 1 - i;
		char m[MODEL_NAME_MAX];
		dec[i].role = STAGE_DECODER, dec[i].level = s, dec[i].skip = 1 + s;
		snprintf(dec[i].module, sizeof dec[i].module, "upsample_layers.%d", i);
		snprintf(m, sizeof m, "%s.upsample", dec[i].module);
		dec[i].nconvs = 1;
		dec[i].conv[0] = add_convt(l, m, d[s + 1], d[s]);
	}
	for (int i = 0; i < E; i++)
		add_blocks(l, c, &dec[i], c->depths[E - 1 - i], d[E - 1 - i], "decoder_stages.%d.%d", i);
	head->role = STAGE_HEAD, head->nconvs = 2;
	snprintf(head->module, sizeof head->module, "output_head");
	head->conv[0] = add_conv(l, "output_head", 0, d[0], d[0], 3, 1, 1, 1, 1, "mask head: kept in float");
	head->conv[1] = add_conv(l, "output_head", 3, d[0], c->out_channels, 1, 1, 0, 0, 0,
				 "mask head: kept in float");
}

int arch_init(struct arch *a, const struct unet_config *c)
{
	struct builder l = {a, 0, 0};
	memset(a, 0, sizeof *a);
	if (config_validate(c))
		return -1;
	a->nlevels = UNET_LEVELS;
	build(&l, c); /* counting */
	int n = a->nparams, nb = l.nblocks;
	memset(a, 0, sizeof *a);
	a->nlevels = UNET_LEVELS;
	if (!(a->params = tf_calloc((size_t)n, sizeof *a->params)) ||
	    !(a->blocks = tf_calloc((size_t)nb + 1, sizeof *a->blocks))) {
		arch_free(a);
		return -1;
	}
	a->nblocks = nb;
	l = (struct builder){a, n, 0};
	build(&l, c);
	return 0;
}

void arch_free(struct arch *a)
{
	free(a->params);
	free(a->blocks);
	memset(a, 0, sizeof *a);
}

void arch_level_sizes(const struct arch *a, int H, int W, int *h, int *w)
{
	h[0] = H, w[0] = W;
	for (int l = 1; l < a->nlevels; l++) {
		h[l] = conv_out_size(h[l - 1], 4, 2, 1);
		w[l] = conv_out_size(w[l - 1], 4, 2, 1);
	}
}
