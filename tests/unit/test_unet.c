/* The whole network against the PyTorch reference's golden vectors: the
 * masks and every intermediate activation of the three golden cases. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "golden.h"
#include "model.h"
#include "npy.h"
#include "test.h"
#include "unet.h"

struct taps {
	const char *dir;
	int B, checked;
	double worst;
};

/* Compares a channel-last activation with the golden NCHW one. */
static void tap(void *ctx, const char *name, int b, const float *x, int H, int W, int C)
{
	struct taps *t = ctx;
	char path[512];
	struct npy a;
	snprintf(path, sizeof path, "%s/act_%s.npy", t->dir, name);
	float *want = npy_load_f32(path, &a);
	if (!want) {
		ok(0, "%s: cannot read %s", t->dir, path);
		return;
	}
	int shape_ok = a.ndim == 4 && a.shape[0] == t->B && a.shape[1] == C && a.shape[2] == H && a.shape[3] == W;
	if (!ok(shape_ok, "%s %s[%d]: shape %dx%dx%d matches golden", t->dir, name, b, C, H, W)) {
		free(a.data);
		return;
	}
	size_t n = (size_t)H * W;
	float *got = malloc(n * C * sizeof *got);
	for (int c = 0; c < C; c++)
		for (size_t p = 0; p < n; p++)
			got[c * n + p] = x[p * C + c];
	char what[256];
	snprintf(what, sizeof what, "%s act_%s[batch %d] (index c*H*W + h*W + w)", t->dir, name, b);
	/* activations are O(1)-O(10); errors grow through the layers */
	check_close(what, got, want + (size_t)b * C * n, n * C, 1e-3);
	free(got);
	free(a.data);
	t->checked++;
}

static void run_case(const char *dir)
{
	struct model m;
	struct unet *u;
	struct npy in, want;
	char path[512];
	int rc = golden_model_load(&m, dir);
	if (!ok(rc == 0, "%s: load model %s", dir, rc ? tf_strerror() : ""))
		return;
	ok((u = unet_prepare(&m)) != NULL, "%s: prepare", dir);
	snprintf(path, sizeof path, "%s/input.npy", dir);
	float *x = npy_load_f32(path, &in);
	snprintf(path, sizeof path, "%s/output.npy", dir);
	float *y = npy_load_f32(path, &want);
	if (!ok(u && x && y && in.ndim == 4, "%s: golden input and output", dir))
		return;
	int B = (int)in.shape[0], H = (int)in.shape[2], W = (int)in.shape[3];
	float *out = calloc(want.numel, sizeof *out);
	struct taps t = {dir, B, 0, 0};
	rc = unet_forward(u, x, B, H, W, out, tap, &t);
	ok(rc == 0, "%s: forward %dx%dx%dx%d", dir, B, (int)in.shape[1], H, W);
	ok(t.checked == 8 * B, "%s: all 8 intermediate activations seen per batch item (%d)", dir, t.checked);
	char what[256];
	snprintf(what, sizeof what, "%s masks %s", dir, "(index b,c,h,w flattened)");
	check_close(what, out, y, want.numel, 1e-4);
	size_t inside = 0;
	for (size_t i = 0; i < want.numel; i++)
		inside += out[i] > 0.01f && out[i] < 0.99f;
	ok(inside > want.numel / 2, "%s: %zu of %zu masks strictly inside (0.01, 0.99)", dir, inside, want.numel);
	free(out), free(in.data), free(want.data);
	unet_free(u);
	model_free(&m);
}

/* More input and output channels than dims[0]: the buffers that hold the
 * network's input and the head's output must be sized for them too. Two
 * identical batch items must give identical masks, inside (0, 1). */
static void wide_channels(void)
{
	struct unet_config c;
	struct model m;
	config_default(&c);
	c.channels = 8, c.in_channels = 16, c.nstems = 4, c.out_channels = 32;
	for (int s = 0; s < 4; s++)
		snprintf(c.stems[s], sizeof c.stems[s], "s%d", s);
	for (int s = 0; s < 4; s++)
		c.dims[s] = 4, c.depths[s] = 1;
	c.num_heads = 2, c.window_size = 4, c.shift_size = 2;
	int rc = model_init(&m, &c);
	if (!ok(rc == 0, "wide model: 16 channels in, 32 out, dims 4 %s", rc ? tf_strerror() : ""))
		return;
	struct rng r;
	rng_seed(&r, 12345);
	for (size_t k = 0; k < m.nparams; k++)
		m.params[k] = (float)rng_uniform(&r) * 0.4f - 0.2f;
	for (int i = 0; i < m.nspecs; i++)
		if (strstr(m.specs[i].name, "running_var"))
			for (size_t k = 0; k < m.specs[i].numel; k++)
				m.params[m.specs[i].offset + k] = 1.0f;
	struct unet *u = unet_prepare(&m);
	int H = 24, W = 20;
	size_t nin = (size_t)16 * H * W, nout = (size_t)32 * H * W;
	float *x = malloc(2 * nin * sizeof *x), *y = calloc(2 * nout, sizeof *y);
	for (size_t k = 0; k < nin; k++)
		x[k] = x[nin + k] = (float)rng_uniform(&r) - 0.5f;
	ok(u && unet_forward(u, x, 2, H, W, y, NULL, NULL) == 0, "wide model: forward of 2 x 16 x %d x %d", H, W);
	size_t inside = 0;
	for (size_t k = 0; k < 2 * nout; k++)
		inside += y[k] > 0 && y[k] < 1;
	ok(inside == 2 * nout, "wide model: %zu of %zu masks inside (0, 1)", inside, 2 * nout);
	check_close("wide model: batch item 1 against item 0", y + nout, y, nout, 0);
	free(x), free(y);
	unet_free(u);
	model_free(&m);
}

int main(void)
{
	wide_channels();
	run_case("tests/data/golden/tiny-aligned");
	run_case("tests/data/golden/tiny-ragged");
	run_case("tests/data/golden/stereo-4stem");
	return test_done();
}
