#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "error.h"
#include "tensor.h"
#include "train/init.h"

struct named {
	const char *name;
	int depths[UNET_LEVELS], dims[UNET_LEVELS], heads, window, shift, n_fft, hop;
};

static const struct named configs[] = {
	{"default", {2, 2, 6, 2}, {32, 64, 128, 256}, 8, 8, 4, 2048, 512},
	{"compact", {1, 1, 1, 1}, {8, 16, 32, 64}, 2, 8, 4, 1024, 256},
	{"tiny", {1, 1, 1, 1}, {8, 8, 16, 16}, 2, 4, 2, 256, 64},
};

const char *train_config_names(void)
{
	return "default, compact, tiny";
}

int train_config_named(struct unet_config *c, const char *name)
{
	static const char *const stems[] = {"vocals", "drums", "bass", "other"};
	for (size_t i = 0; i < sizeof configs / sizeof *configs; i++) {
		const struct named *n = &configs[i];
		if (strcmp(name, n->name))
			continue;
		config_default(c);
		memcpy(c->depths, n->depths, sizeof n->depths);
		memcpy(c->dims, n->dims, sizeof n->dims);
		c->num_heads = n->heads, c->window_size = n->window, c->shift_size = n->shift;
		c->n_fft = n->n_fft, c->hop = n->hop;
		c->channels = 2, c->in_channels = 4;
		c->nstems = 4, c->out_channels = 8;
		for (int s = 0; s < 4; s++)
			strcpy(c->stems[s], stems[s]);
		c->normalization = NORM_SCALE;
		return config_validate(c);
	}
	return tf_seterr("no configuration named \"%s\" (named ones: %s; or a JSON file)", name,
			 train_config_names());
}

/* fan_in of a weight as PyTorch computes it: shape[1] times the kernel
 * size (for a transposed convolution, stored [in, out, kh, kw], that is
 * out * kh * kw, as in PyTorch). */
static double fan_in(const struct param_spec *s)
{
	double f = (double)s->shape[1];
	for (int d = 2; d < s->ndim; d++)
		f *= (double)s->shape[d];
	return f;
}

void train_init_params(struct model *m, struct rng *r)
{
	double bound = 0; /* of the last weight, for the bias after it */
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *s = &m->specs[i];
		float *p = m->params + s->offset;
		if (s->role == PARAM_RUNNING_MEAN || s->role == PARAM_RUNNING_VAR) {
			float v = s->role == PARAM_RUNNING_VAR ? 1.0f : 0.0f;
			for (size_t k = 0; k < s->numel; k++)
				p[k] = v;
		} else if (s->role == PARAM_WEIGHT) {
			bound = 1.0 / sqrt(fan_in(s));
			for (size_t k = 0; k < s->numel; k++)
				p[k] = (float)(bound * (2.0 * rng_uniform(r) - 1.0));
		} else if (s->role == PARAM_SCALE) {
			bound = 0; /* a norm's scale: its bias starts at 0 */
			for (size_t k = 0; k < s->numel; k++)
				p[k] = 1.0f;
		} else { /* a bias: the preceding weight's bound, or 0 after a norm */
			for (size_t k = 0; k < s->numel; k++)
				p[k] = bound ? (float)(bound * (2.0 * rng_uniform(r) - 1.0)) : 0.0f;
		}
	}
}

/* The stem's index in c, or -1. */
static int stem_index(const struct unet_config *c, const char *name)
{
	for (int s = 0; s < c->nstems; s++)
		if (!strcmp(c->stems[s], name))
			return s;
	return -1;
}

/* The mask head's last convolution in c's network (lib/arch.c): one output
 * channel per stem and audio channel, stem-major, the only tensors whose
 * shape depends on the stems. -1 with a message. */
static int mask_conv(const struct unet_config *c, struct arch_conv *conv)
{
	struct arch a;
	if (arch_init(&a, c))
		return -1;
	for (int i = 0; i < a.nstages; i++)
		if (a.stage[i].role == STAGE_HEAD)
			*conv = a.stage[i].conv[a.stage[i].nconvs - 1];
	arch_free(&a);
	return 0;
}

/* Sets the fusion BatchNorm's scale and shift to 0 in every block of m
 * (network a) whose tensors have[] says were not taken from the grown
 * model: such a block adds 0 to its residual. */
static void silence_new_blocks(struct model *m, const struct arch *a, const char *have)
{
	for (int i = 0; i < a->nblocks; i++) {
		int bn = a->blocks[i].fusion.bn; /* weight, then bias */
		for (int k = bn; k <= bn + 1; k++)
			if (!have[k])
				memset(m->params + m->specs[k].offset, 0, m->specs[k].numel * sizeof *m->params);
	}
}

/* Rows of the mask convolution (weight [S*C][in][1][1] or bias [S*C]) for the
 * stems m and from share; m's other stems keep their fresh initialisation. */
static void copy_mask_rows(float *dst, const struct unet_config *m, const float *src,
			   const struct unet_config *f, size_t row)
{
	for (int s = 0; s < m->nstems; s++) {
		int fs = stem_index(f, m->stems[s]);
		if (fs >= 0)
			memcpy(dst + (size_t)s * m->channels * row, src + (size_t)fs * f->channels * row,
			       (size_t)m->channels * row * sizeof *dst);
	}
}

/* "8,16,32,64" */
static const char *levels_str(const int *v, char *buf, size_t n)
{
	snprintf(buf, n, "%d,%d,%d,%d", v[0], v[1], v[2], v[3]);
	return buf;
}

/* The network of from is the part of m's that has from's blocks: the same
 * layers at the same widths, the same input and output. */
static int grow_check(const struct unet_config *m, const struct unet_config *f)
{
	char a[64], b[64];
	for (int l = 0; l < UNET_LEVELS; l++)
		if (m->depths[l] < f->depths[l])
			return tf_seterr("depths: the model has %s blocks, more than %s at level %d (growing adds blocks)",
					 levels_str(f->depths, a, sizeof a), levels_str(m->depths, b, sizeof b), l);
	if (memcmp(m->dims, f->dims, sizeof m->dims))
		return tf_seterr("dims: got %s, expected %s (growing keeps the widths)",
				 levels_str(m->dims, a, sizeof a), levels_str(f->dims, b, sizeof b));
	if (m->num_heads != f->num_heads || m->window_size != f->window_size || m->shift_size != f->shift_size ||
	    m->mlp_ratio != f->mlp_ratio || m->mask_shifted != f->mask_shifted)
		return tf_seterr("heads, window, shift, mlp_ratio or mask_shifted differ from the model's "
				 "(growing adds blocks only; tf-export --info shows the model's)");
	if (m->n_fft != f->n_fft || m->hop != f->hop || m->sample_rate != f->sample_rate ||
	    m->channels != f->channels)
		return tf_seterr("n_fft %d, hop %d, %d Hz, %d channels: the model has %d, %d, %d Hz, %d", m->n_fft, m->hop,
				 m->sample_rate, m->channels, f->n_fft, f->hop, f->sample_rate, f->channels);
	int shared = 0;
	for (int s = 0; s < m->nstems; s++)
		shared += stem_index(f, m->stems[s]) >= 0;
	if (!shared)
		return tf_seterr("no stem in common with the model's (tf-export --info shows them)");
	if (m->normalization != f->normalization)
		return tf_seterr("the normalisation differs from the model's");
	return 0;
}

int train_grow(struct model *m, const struct model *from)
{
	struct arch_conv head = {.w = -1, .b = -1};
	struct arch am;
	if (grow_check(&m->cfg, &from->cfg) || mask_conv(&from->cfg, &head) || arch_init(&am, &m->cfg))
		return -1;
	/* every tensor checked before any is copied: m is left as it was on error */
	int *at = malloc((size_t)from->nspecs * sizeof *at);
	char *have = calloc((size_t)m->nspecs, 1);
	int rc = !at || !have ? tf_seterr("out of memory") : 0, hint = 0;
	for (int i = 0; i < from->nspecs && !rc; i++) {
		const struct param_spec *s = &from->specs[i], *d = model_spec_near(m, s->name, &hint);
		char a[64], b[64];
		int rows = i == head.w || i == head.b; /* the stems may differ: rows are per stem */
		if (!d)
			rc = tf_seterr("%s: in the model, not in the grown network", s->name);
		else if (d->ndim != s->ndim ||
			 memcmp(d->shape + rows, s->shape + rows, sizeof d->shape - rows * sizeof d->shape[0]))
			rc = tf_seterr("%s: got %s, expected %s", s->name, shape_str(s->shape, s->ndim, a, sizeof a),
				       shape_str(d->shape, d->ndim, b, sizeof b));
		else
			at[i] = (int)(d - m->specs);
	}
	if (!rc) {
		for (int i = 0; i < from->nspecs; i++) {
			const struct param_spec *s = &from->specs[i], *d = &m->specs[at[i]];
			if (i == head.w || i == head.b)
				copy_mask_rows(m->params + d->offset, &m->cfg, from->params + s->offset, &from->cfg,
					       s->numel / (size_t)s->shape[0]);
			else
				memcpy(m->params + d->offset, from->params + s->offset, s->numel * sizeof *m->params);
			have[at[i]] = 1;
		}
		silence_new_blocks(m, &am, have);
		m->cfg.input_scale = from->cfg.input_scale;
		m->cfg.segment = from->cfg.segment;
		m->cfg.overlap = from->cfg.overlap;
	}
	free(at), free(have);
	arch_free(&am);
	return rc;
}
