#include <math.h>
#include <string.h>

#include "error.h"
#include "quant.h"

int quant_type_check(const char *type)
{
	if (!strcmp(type, "f16"))
		return 0;
	if (!strcmp(type, "q8") || !strcmp(type, "q8s"))
		return tf_seterr("-t %s: int8 quantisation is not written yet in this version (f16 is)", type);
	return tf_seterr("-t %s: unknown type (f16; q8 and q8s are planned)", type);
}

int quant_plan(const struct model *m, const char *type, struct quant_layer *layers)
{
	if (quant_type_check(type))
		return -1;
	if (strcmp(m->cfg.quantization, "none"))
		return tf_seterr("the model is already quantised (%s): quantise the f32 model instead",
				 m->cfg.quantization);
	for (int i = 0; i < m->nspecs; i++) {
		const struct param_spec *s = &m->specs[i];
		struct quant_layer *q = &layers[i];
		const float *x = m->params + s->offset;
		memset(q, 0, sizeof *q);
		q->bytes_before = s->numel * sizeof(float);
		if (s->ndim < 2) {
			q->dtype = DT_F32;
			q->kept = !s->trainable ? "BatchNorm statistic" : "1-D (bias or norm)";
			q->bytes_after = q->bytes_before;
			continue;
		}
		double err2 = 0, val2 = 0;
		for (size_t k = 0; k < s->numel; k++) {
			double e = (double)f16_to_f32(f32_to_f16(x[k])) - x[k];
			err2 += e * e, val2 += (double)x[k] * x[k];
			if (fabs(e) > q->max_err)
				q->max_err = fabs(e);
		}
		q->dtype = DT_F16;
		q->rel_rms = val2 > 0 ? sqrt(err2 / val2) : 0;
		q->bytes_after = s->numel * 2;
	}
	return 0;
}
