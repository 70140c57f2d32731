/* Shared by the training tests: a tiny model with random weights in the
 * ranges where activations stay O(1) and masks away from 0 and 1. */
#ifndef TEST_TRAIN_UTIL_H
#define TEST_TRAIN_UTIL_H
#include <math.h>
#include <string.h>

#include "model.h"

/* Its own xorshift64, not lib/rng: tests/tools/grad_golden.py draws the
 * same numbers to make the torch goldens of test_grad_torch (parameters,
 * input and R), which match only when the draws are bit for bit these. */
static unsigned long long train_rng = 0x2545f4914f6cdd1dull;
static double __attribute__((unused)) urand(void) /* uniform in [-1, 1) */
{
	train_rng ^= train_rng << 13, train_rng ^= train_rng >> 7, train_rng ^= train_rng << 17;
	return (double)(train_rng >> 11) * (1.0 / 4503599627370496.0) - 1.0;
}

static void __attribute__((unused)) tiny_config(struct unet_config *c, const int depths[4])
{
	static const int dims[4] = {8, 16, 16, 32};
	config_default(c);
	memcpy(c->depths, depths, sizeof c->depths);
	memcpy(c->dims, dims, sizeof c->dims);
	c->window_size = 4;
	c->shift_size = 2;
	c->num_heads = 2;
}

static void __attribute__((unused)) random_params(struct model *m)
{
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *s = &m->specs[i];
		float *p = m->params + s->offset;
		const char *n = s->name;
		size_t len = strlen(n);
		int is = len > 5 && !strcmp(n + len - 5, ".bias");
		double fan = s->ndim > 1 ? (double)s->numel / (double)s->shape[0] : 1;
		for (size_t j = 0; j < s->numel; j++) {
			double u = urand();
			if (strstr(n, "running_mean"))
				p[j] = (float)(0.1 * u);
			else if (strstr(n, "running_var"))
				p[j] = (float)(1.0 + 0.3 * u);
			else if (s->ndim == 1 && !is)
				p[j] = (float)(1.0 + 0.2 * u); /* LayerNorm, BatchNorm weights */
			else if (is)
				p[j] = (float)(0.1 * u);
			else
				p[j] = (float)(u * sqrt(3.0 / fan));
		}
	}
}
#endif
