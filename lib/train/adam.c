#include <math.h>
#include <string.h>

#include "train/adam.h"

void adamw_update(const struct adamw *o, float *p, const float *g, float *m, float *v, size_t n,
		  double lr, int64_t t, int decay)
{
	/* in torch.optim.AdamW's order of operations */
	float b1 = (float)o->beta1, b2 = (float)o->beta2;
	float a1 = (float)(1.0 - o->beta1), a2 = (float)(1.0 - o->beta2);
	float step_size = (float)(lr / (1.0 - pow(o->beta1, (double)t)));
	float sqrt_bc2 = (float)sqrt(1.0 - pow(o->beta2, (double)t));
	float keep = decay ? (float)(1.0 - lr * o->weight_decay) : 1.0f, eps = (float)o->eps;
#pragma omp parallel for schedule(static) if (n > 65536)
	for (size_t i = 0; i < n; i++) {
		float gi = g[i];
		float mi = b1 * m[i] + a1 * gi;
		float vi = b2 * v[i] + a2 * gi * gi;
		m[i] = mi, v[i] = vi;
		float denom = sqrtf(vi) / sqrt_bc2 + eps;
		p[i] = p[i] * keep - step_size * (mi / denom);
	}
}

void adamw_step(const struct adamw *o, struct model *m, const float *grad, float *mom1, float *mom2,
		double lr, int64_t t)
{
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *s = &m->specs[i];
		if (!s->trainable)
			continue;
		size_t off = s->offset;
		adamw_update(o, m->params + off, grad + off, mom1 + off, mom2 + off, s->numel, lr, t, s->ndim >= 2);
	}
}

double lr_at(const struct lr_schedule *s, int64_t t)
{
	if (t < s->warmup)
		return s->lr * (double)(t + 1) / (double)s->warmup;
	int64_t after = t - s->warmup, span = s->total - s->warmup;
	switch (s->kind) {
	case LR_COSINE:
		if (span <= 0 || after >= span)
			return s->lr_min;
		return s->lr_min + 0.5 * (s->lr - s->lr_min) * (1.0 + cos(M_PI * (double)after / (double)span));
	case LR_STEP:
		return s->lr * pow(s->gamma, (double)(s->step_size > 0 ? after / s->step_size : 0));
	case LR_CONSTANT:
		break;
	}
	return s->lr;
}

static const char *const lr_names[] = {"cosine", "step", "constant"};

int lr_kind_from_name(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(name, lr_names[i]))
			return i;
	return -1;
}

const char *lr_kind_name(enum lr_kind k)
{
	return lr_names[k];
}

/* Sum of squares in blocks of this many elements, each block summed alone
 * and the blocks then added in order: the same result for any thread count. */
#define NORM_BLOCK 16384

double grad_norm(const struct model *m, const float *grad)
{
	double total = 0;
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *s = &m->specs[i];
		if (!s->trainable)
			continue;
		const float *g = grad + s->offset;
		size_t nb = (s->numel + NORM_BLOCK - 1) / NORM_BLOCK;
		double part[64];
		/* at most 64 blocks at a time (1M elements), in order */
		for (size_t b0 = 0; b0 < nb; b0 += 64) {
			size_t b1 = b0 + 64 < nb ? b0 + 64 : nb;
#pragma omp parallel for schedule(static) if (b1 - b0 > 1)
			for (size_t b = b0; b < b1; b++) {
				size_t lo = b * NORM_BLOCK, hi = lo + NORM_BLOCK < s->numel ? lo + NORM_BLOCK : s->numel;
				double acc = 0;
				for (size_t k = lo; k < hi; k++)
					acc += (double)g[k] * g[k];
				part[b - b0] = acc;
			}
			for (size_t b = b0; b < b1; b++)
				total += part[b - b0];
		}
	}
	return sqrt(total);
}

double grad_clip(const struct model *m, float *grad, double max_norm)
{
	double norm = grad_norm(m, grad);
	if (max_norm <= 0 || !(norm > max_norm))
		return norm;
	float scale = (float)(max_norm / (norm + 1e-6));
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *s = &m->specs[i];
		if (!s->trainable)
			continue;
		float *g = grad + s->offset;
		for (size_t k = 0; k < s->numel; k++)
			g[k] *= scale;
	}
	return norm;
}
