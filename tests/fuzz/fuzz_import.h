/* The mapping of an imported tensor set onto the model, for the pth and
 * safetensors targets: configuration with small settings, then the model
 * when its size stays reasonable (a fuzzed header may describe any size). */
#ifndef TF_FUZZ_IMPORT_H
#define TF_FUZZ_IMPORT_H
#include <stdlib.h>

#include "fuzz_common.h"
#include "import/import.h"

static void fuzz_map(const struct import_set *w)
{
	struct import_settings s = {0};
	struct unet_config cfg;
	struct model m;
	float *f;
	/* every tensor converts (strides and dtypes), when it is small */
	for (int i = 0; i < w->n; i++) {
		size_t n = import_numel(&w->t[i]);
		if (n <= 1 << 16 && (f = malloc(n * sizeof *f + 1))) {
			import_to_f32(&w->t[i], f);
			free(f);
		}
	}
	s.c.num_heads = 1;
	s.set = SET_NUM_HEADS;
	if (import_config(&cfg, w, &s) == 0 && unet_param_count(&cfg) < (1 << 22) && import_model(&m, w, &cfg) == 0)
		model_free(&m);
}
#endif
