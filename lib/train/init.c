#include <math.h>
#include <string.h>

#include "error.h"
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
