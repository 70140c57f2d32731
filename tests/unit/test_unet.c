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

int main(void)
{
	run_case("tests/data/golden/tiny-aligned");
	run_case("tests/data/golden/tiny-ragged");
	run_case("tests/data/golden/stereo-4stem");
	return test_done();
}
