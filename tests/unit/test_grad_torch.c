/* The training pass against PyTorch autograd on the reference network
 * (tests/tools/grad_golden.py): masks, every parameter's gradient and the
 * BatchNorm running statistics after one step, for an aligned case and a
 * ragged one with shifted windows. Parameters, input and R come from the
 * same generator as in the script. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "model.h"
#include "npy.h"
#include "test.h"
#include "train_util.h"
#include "unet_train.h"

struct gcase {
	const char *name;
	int depths[4], dims[4], ws, shift, heads, B, H, W;
	unsigned long long seed;
};

static const struct gcase cases[] = {
	{"aligned", {1, 1, 1, 1}, {4, 8, 8, 16}, 4, 2, 2, 2, 16, 12, 0x2545F4914F6CDD1Dull},
	{"ragged-shifted", {2, 1, 1, 1}, {4, 8, 8, 16}, 4, 2, 2, 2, 19, 13, 0x9E3779B97F4A7C15ull},
};

static void run_case(const struct gcase *gc, int checkpoint)
{
	char path[256], label[96];
	struct unet_config cfg;
	struct model m;
	struct npy gn, mn;
	snprintf(label, sizeof label, "torch %s%s", gc->name, checkpoint ? " (checkpointing)" : "");
	config_default(&cfg);
	memcpy(cfg.depths, gc->depths, sizeof cfg.depths);
	memcpy(cfg.dims, gc->dims, sizeof cfg.dims);
	cfg.window_size = gc->ws, cfg.shift_size = gc->shift, cfg.num_heads = gc->heads;
	if (!ok(model_init(&m, &cfg) == 0, "%s: model", label))
		return;
	snprintf(path, sizeof path, "tests/data/grad/%s/grad.npy", gc->name);
	float *want = npy_load_f32(path, &gn);
	snprintf(path, sizeof path, "tests/data/grad/%s/masks.npy", gc->name);
	float *want_masks = npy_load_f32(path, &mn);
	if (!ok(want && want_masks, "%s: read goldens", label))
		return;
	train_rng = gc->seed;
	random_params(&m);
	size_t nio = (size_t)gc->B * 2 * gc->H * gc->W;
	float *in = malloc(nio * sizeof *in), *R = malloc(nio * sizeof *R), *masks = malloc(nio * sizeof *masks);
	float *grad = calloc(m.nparams, sizeof *grad);
	for (size_t i = 0; i < nio; i++)
		in[i] = (float)urand();
	for (size_t i = 0; i < nio; i++)
		R[i] = (float)urand();
	struct unet_train *t = unet_train_new(&m, gc->B, gc->H, gc->W, checkpoint, omp_get_max_threads());
	int rc = !t || unet_train_forward(t, &m, in, masks) || unet_train_backward(t, &m, R, grad);
	if (!ok(rc == 0, "%s: forward and backward (%s)", label, rc ? tf_strerror() : "ok"))
		return;
	/* the goldens are float64; torch's own float32 run of the same cases
	 * is 3.2e-6 (aligned) and 1.7e-5 (ragged-shifted, mask 265: training
	 * BatchNorm over a few pixels and LayerNorm over 4 channels amplify
	 * rounding) from them, so float32 cannot promise 1e-5 there */
	check_close(label, masks, want_masks, mn.numel < nio ? mn.numel : nio, 3e-5);
	ok(mn.numel == nio, "%s: %zu masks in the golden, %zu here", label, mn.numel, nio);

	/* the golden is every tensor in state_dict order, back to back */
	size_t total = 0;
	double G = 0;
	for (int i = 0; i < m.nspecs; i++)
		total += m.specs[i].numel;
	if (!ok(gn.numel == total, "%s: golden holds %zu values, the model %zu", label, gn.numel, total))
		return;
	for (size_t i = 0; i < total; i++)
		G = fabs(want[i]) > G ? fabs(want[i]) : G;
	double worst = 0, worst_abs = 0, worst_rs = 0;
	const char *worst_name = "", *worst_rs_name = "";
	size_t worst_j = 0, at = 0, worst_rs_j = 0;
	float worst_got = 0, worst_want = 0;
	for (int i = 0; i < m.nspecs; i++) {
		const struct param_spec *s = &m.specs[i];
		const float *got = s->trainable ? grad + s->offset : m.params + s->offset, *w = want + at;
		double scale = 0, e = 0;
		size_t ej = 0;
		for (size_t j = 0; j < s->numel; j++)
			scale = fabs(w[j]) > scale ? fabs(w[j]) : scale;
		for (size_t j = 0; j < s->numel; j++)
			if (fabs((double)got[j] - w[j]) > e)
				e = fabs((double)got[j] - w[j]), ej = j;
		if (!s->trainable) {
			if (e / scale > worst_rs)
				worst_rs = e / scale, worst_rs_name = s->name, worst_rs_j = ej;
		} else {
			/* relative to the tensor's largest entry; tensors whose
			 * gradient is zero in exact arithmetic (a convolution's
			 * bias before BatchNorm: float sums of dz over the pixels
			 * leave ~1e-6 of the largest gradient) are held to a
			 * thousandth of the network's largest */
			double rel = e / (scale + 1e-3 * G);
			if (rel > worst)
				worst = rel, worst_abs = e, worst_name = s->name, worst_j = ej, worst_got = got[ej],
				worst_want = w[ej];
		}
		at += s->numel;
	}
	/* LayerNorm over 4 channels makes some gradients sensitive to
	 * rounding: torch's own float32 run differs from its float64 one by
	 * 4.3e-3 (aligned) and 8.6e-4 (ragged) on this measure, at the same
	 * tensors as this code */
	ok(worst < 1e-2, "%s: gradients of all %d tensors vs torch autograd (float64): worst max|diff|/(max|torch| + 1e-3 G) "
			 "%.3g (abs %.3g) at %s[%zu] (got %.7g, torch %.7g); largest gradient G %.3g",
	   label, m.nspecs, worst, worst_abs, worst_name, worst_j, worst_got, worst_want, G);
	ok(worst_rs < 1e-5, "%s: BatchNorm running statistics after the step vs torch: worst relative %.3g at %s[%zu]",
	   label, worst_rs, worst_rs_name, worst_rs_j);
	unet_train_free(t);
	free(in), free(R), free(masks), free(grad), free(gn.data), free(mn.data);
	model_free(&m);
}

int main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		for (int ck = 0; ck < 2; ck++)
			run_case(&cases[i], ck);
	return test_done();
}
