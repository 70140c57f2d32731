#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "quant.h"

int quant_type_parse(const char *name)
{
	char list[64];
	size_t used = 0;
	for (int q = 0; q < QUANT_COUNT; q++)
		if (quant_traits[q].store != DT_F32 && !strcmp(quant_traits[q].name, name))
			return q;
	list[0] = 0;
	for (int q = 0; q < QUANT_COUNT; q++)
		if (quant_traits[q].store != DT_F32 && used < sizeof list)
			used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "",
						 quant_traits[q].name);
	return tf_seterr("-t %s: unknown type (%s)", name, list);
}

/* Symmetric int8 per output channel of x (laid out as s says): q = rint(x /
 * scale), scale = max |x| / 127 over the channel (0 for an all-zero one). */
static void quantize_channels(const struct param_spec *s, const float *x, int8_t *q, float *scale)
{
	int axis = model_out_axis(s);
	size_t outs = (size_t)s->shape[axis], inner = 1;
	for (int d = axis + 1; d < s->ndim; d++)
		inner *= (size_t)s->shape[d];
	for (size_t o = 0; o < outs; o++)
		scale[o] = 0;
	for (size_t k = 0; k < s->numel; k++) {
		size_t o = (k / inner) % outs;
		scale[o] = fabsf(x[k]) > scale[o] ? fabsf(x[k]) : scale[o];
	}
	for (size_t o = 0; o < outs; o++)
		scale[o] /= 127.0f;
	for (size_t k = 0; k < s->numel; k++) {
		float sc = scale[(k / inner) % outs];
		float v = sc > 0 ? x[k] / sc : 0.0f;
		v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
		q[k] = (int8_t)lrintf(v);
	}
}

static void quantize_tensor(struct model *m, int i)
{
	const struct param_spec *s = &m->specs[i];
	quantize_channels(s, m->params + s->offset, m->q8 + s->offset, m->q8_scale[i]);
}

int quant_fake_q8(struct model *m, float *keep)
{
	size_t maxn = 0, maxo = 0;
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *s = &m->specs[i];
		if (!model_q8_tensor(s, NULL))
			continue;
		maxn = s->numel > maxn ? s->numel : maxn;
		maxo = (size_t)s->shape[model_out_axis(s)] > maxo ? (size_t)s->shape[model_out_axis(s)] : maxo;
	}
	int8_t *q = malloc(maxn ? maxn : 1);
	float *scale = malloc((maxo ? maxo : 1) * sizeof *scale);
	if (!q || !scale) {
		free(q), free(scale);
		return tf_seterr("out of memory");
	}
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *s = &m->specs[i];
		float *x = m->params + s->offset;
		if (!model_q8_tensor(s, NULL))
			continue;
		size_t outs = (size_t)s->shape[model_out_axis(s)], inner = 1;
		for (int d = model_out_axis(s) + 1; d < s->ndim; d++)
			inner *= (size_t)s->shape[d];
		quantize_channels(s, x, q, scale);
		memcpy(keep + s->offset, x, s->numel * sizeof *x);
		for (size_t k = 0; k < s->numel; k++)
			x[k] = (float)q[k] * scale[(k / inner) % outs];
	}
	free(q), free(scale);
	return 0;
}

void quant_fake_restore(struct model *m, const float *keep)
{
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *s = &m->specs[i];
		if (model_q8_tensor(s, NULL))
			memcpy(m->params + s->offset, keep + s->offset, s->numel * sizeof(float));
	}
}

static void measure(struct quant_layer *q, const struct param_spec *s, const float *x, const float *y)
{
	double err2 = 0, val2 = 0;
	for (size_t k = 0; k < s->numel; k++) {
		double e = (double)y[k] - x[k];
		err2 += e * e, val2 += (double)x[k] * x[k];
		if (fabs(e) > q->max_err)
			q->max_err = fabs(e);
	}
	q->rel_rms = val2 > 0 ? sqrt(err2 / val2) : 0;
}

int quant_plan(struct model *m, enum quantization type, struct quant_layer *layers)
{
	int q8 = 0, q8s = 0;
	float *back = NULL;
	if ((int)type < 0 || type >= QUANT_COUNT || quant_traits[type].store == DT_F32)
		return tf_seterr("quantization %d: not a type a model can be narrowed to", (int)type);
	if (m->cfg.quantization != QUANT_NONE)
		return tf_seterr("the model is already quantised (%s): quantise the f32 model instead",
				 quant_traits[m->cfg.quantization].name);
	q8s = quant_traits[type].act_scales;
	q8 = quant_traits[type].int8;
	if (q8s && !m->act_scale)
		return tf_seterr("-t q8s needs activation scales: calibrate first (--calibrate)");
	if (q8 && !m->q8 && model_q8_alloc(m))
		return -1;
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *s = &m->specs[i];
		struct quant_layer *q = &layers[i];
		const float *x = m->params + s->offset;
		const char *why = NULL;
		memset(q, 0, sizeof *q);
		q->bytes_before = s->numel * sizeof(float);
		if (q8 ? !model_q8_tensor(s, &why) : !model_half_tensor(s)) {
			q->dtype = DT_F32;
			q->kept = why ? why : !s->trainable ? "BatchNorm statistic" : "1-D (bias or norm)";
			q->bytes_after = q->bytes_before;
			continue;
		}
		float *y = realloc(back, s->numel * sizeof *y);
		if (!y) {
			free(back);
			return tf_seterr("out of memory");
		}
		back = y;
		if (q8) {
			size_t outs = (size_t)s->shape[model_out_axis(s)], inner = 1;
			for (int d = model_out_axis(s) + 1; d < s->ndim; d++)
				inner *= (size_t)s->shape[d];
			quantize_tensor(m, i);
			for (size_t k = 0; k < s->numel; k++)
				y[k] = (float)m->q8[s->offset + k] * m->q8_scale[i][(k / inner) % outs];
			q->dtype = DT_I8;
			q->bytes_after = s->numel + outs * sizeof(float) + (q8s ? sizeof(float) : 0);
		} else if (quant_traits[type].store == DT_BF16) {
			for (size_t k = 0; k < s->numel; k++)
				y[k] = bf16_to_f32(f32_to_bf16(x[k]));
			q->dtype = DT_BF16;
			q->bytes_after = s->numel * 2;
		} else {
			for (size_t k = 0; k < s->numel; k++)
				y[k] = f16_to_f32(f32_to_f16(x[k]));
			q->dtype = DT_F16;
			q->bytes_after = s->numel * 2;
		}
		measure(q, s, x, y);
	}
	free(back);
	return 0;
}
