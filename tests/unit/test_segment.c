/* Segmenting long inputs: every frame comes out once and in order, the
 * mixture passes through untouched, one segment equals the plain forward
 * pass, and the result does not depend on how the input was chunked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "segment.h"
#include "test.h"

#define F 16

static float frand(void)
{
	return (float)rng_uniform(fixed_rng()) * 2.0f - 1.0f;
}

struct collect {
	float *masks, *mix; /* [O][F][T], [C][F][T][2] */
	int T, O, C, next, in_order;
};

static int collect(void *ctx, const float *masks, const float *mix, int64_t first, int n)
{
	struct collect *c = ctx;
	if (first != c->next || first + n > c->T) {
		c->in_order = 0;
		return first + n > c->T ? -1 : 0;
	}
	for (int o = 0; o < c->O; o++)
		for (int f = 0; f < F; f++)
			for (int t = 0; t < n; t++)
				c->masks[((size_t)o * F + f) * c->T + first + t] = masks[((size_t)o * F + f) * n + t];
	for (int ch = 0; ch < c->C; ch++)
		for (int f = 0; f < F; f++)
			for (int t = 0; t < n; t++)
				for (int k = 0; k < 2; k++)
					c->mix[(((size_t)ch * F + f) * c->T + first + t) * 2 + k] =
						mix[(((size_t)ch * F + f) * n + t) * 2 + k];
	c->next = (int)(first + n);
	return 0;
}

/* Runs the segmenter over spec [C][F][T] in chunks of `chunk` frames. */
static int separate(const struct unet *u, const float *spec, int T, int C, int O, int segment, int overlap,
		    int chunk, struct collect *out)
{
	struct segmenter *s = segmenter_new(u, F, segment, overlap, 0);
	float *piece = malloc((size_t)C * F * chunk * 2 * sizeof *piece);
	*out = (struct collect){calloc((size_t)O * F * T, sizeof(float)),
		calloc((size_t)C * F * T * 2, sizeof(float)), T, O, C, 0, 1};
	int rc = s ? 0 : -1;
	for (int t0 = 0; t0 < T && !rc; t0 += chunk) {
		int n = T - t0 < chunk ? T - t0 : chunk;
		for (int ch = 0; ch < C; ch++)
			for (int f = 0; f < F; f++)
				memcpy(piece + ((size_t)ch * F + f) * n * 2, spec + (((size_t)ch * F + f) * T + t0) * 2,
				       (size_t)n * 2 * sizeof *piece);
		rc = segmenter_push(s, piece, n, collect, out);
	}
	if (!rc)
		rc = segmenter_finish(s, collect, out);
	segmenter_free(s);
	free(piece);
	return rc;
}

static double maxdiff(const float *a, const float *b, size_t n)
{
	double d = 0;
	for (size_t i = 0; i < n; i++)
		d = fmax(d, fabs((double)a[i] - b[i]));
	return d;
}

int main(void)
{
	struct unet_config c;
	struct model m;
	config_default(&c);
	c.in_channels = 4, c.out_channels = 4, c.channels = 2, c.nstems = 2;
	for (int s = 0; s < 4; s++)
		c.dims[s] = 8, c.depths[s] = 1;
	c.num_heads = 2, c.window_size = 4, c.shift_size = 2;
	c.n_fft = 2 * (F - 1);
	c.hop = c.n_fft / 4;
	if (!ok(model_init(&m, &c) == 0, "tiny model"))
		return test_done();
	for (int i = 0; i < m.nspecs; i++) {
		const struct param_spec *p = &m.specs[i];
		float *w = m.params + p->offset;
		int is_var = strstr(p->name, "running_var") != NULL;
		int is_scale = strstr(p->name, "norm") || (strstr(p->name, ".1.weight") != NULL);
		for (size_t k = 0; k < p->numel; k++)
			w[k] = is_var ? 1.0f : is_scale ? 1.0f + 0.1f * frand() : 0.3f * frand();
	}
	struct unet *u = unet_prepare(&m);
	ok(u != NULL, "prepare");

	int T = 75, C = 2, O = 4;
	float *spec = malloc((size_t)C * F * T * 2 * sizeof *spec);
	for (size_t i = 0; i < (size_t)C * F * T * 2; i++)
		spec[i] = frand();

	int rc;
	/* reference: the network on the whole input at once */
	float *in = malloc((size_t)2 * C * F * T * sizeof(float)), *direct = malloc((size_t)O * F * T * sizeof(float));
	for (int ch = 0; ch < C; ch++)
		for (int p = 0; p < F * T; p++) {
			in[(size_t)ch * F * T + p] = spec[((size_t)ch * F * T + p) * 2];
			in[(size_t)(C + ch) * F * T + p] = spec[((size_t)ch * F * T + p) * 2 + 1];
		}
	rc = unet_forward(u, in, 1, F, T, direct, NULL, NULL);
	ok(rc == 0, "direct forward %s", rc ? tf_strerror() : "");

	struct collect whole, longseg, a, b, cc;
	rc = separate(u, spec, T, C, O, 0, 0, 10, &whole);
	ok(rc == 0 && whole.in_order && whole.next == T,
	   "--segment 0: %d frames out, in order", whole.next);
	ok(maxdiff(whole.masks, direct, (size_t)O * F * T) == 0,
	   "--segment 0 equals the plain forward pass (max diff %g)", maxdiff(whole.masks, direct, (size_t)O * F * T));
	ok(maxdiff(whole.mix, spec, (size_t)C * F * T * 2) == 0, "the mixture passes through unchanged");
	ok(separate(u, spec, T, C, O, 128, 32, 9, &longseg) == 0 &&
		   maxdiff(longseg.masks, direct, (size_t)O * F * T) == 0,
	   "an input shorter than one segment runs unpadded as one segment");

	rc = separate(u, spec, T, C, O, 16, 4, 1, &a);
	ok(rc == 0 && a.in_order && a.next == T,
	   "segment 16 overlap 4, chunks of 1 frame: %d frames out, in order", a.next);
	ok(separate(u, spec, T, C, O, 16, 4, 7, &b) == 0 && b.next == T, "chunks of 7 frames");
	ok(separate(u, spec, T, C, O, 16, 4, T, &cc) == 0 && cc.next == T, "one chunk");
	ok(maxdiff(a.masks, b.masks, (size_t)O * F * T) == 0 && maxdiff(a.masks, cc.masks, (size_t)O * F * T) == 0,
	   "the masks do not depend on the chunking");
	double lo = 1, hi = 0;
	for (size_t i = 0; i < (size_t)O * F * T; i++)
		lo = fmin(lo, a.masks[i]), hi = fmax(hi, a.masks[i]);
	ok(lo >= 0 && hi <= 1 && hi > lo, "cross-faded masks stay in [0, 1] (%g .. %g)", lo, hi);
	ok(maxdiff(a.masks, direct, (size_t)O * F * T) > 0,
	   "segmenting really segments (differs from the whole-input pass by %g)",
	   maxdiff(a.masks, direct, (size_t)O * F * T));

	/* segment_count (what tf-bench charges a track) is what the segmenter runs;
	 * the input's values do not matter here */
	static const int cuts[][2] = {{16, 4}, {16, 0}, {16, 8}, {12, 3}};
	static const int lengths[] = {1, 5, 16, 17, 24, 28, 29, 32, 40, 41, 75};
	int counted = 1;
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < (int)(sizeof lengths / sizeof *lengths); j++) {
			int L = cuts[i][0], ov = cuts[i][1], n = lengths[j];
			struct segmenter *sg = segmenter_new(u, F, L, ov, 0);
			struct collect out = {calloc((size_t)O * F * n, sizeof(float)),
				calloc((size_t)C * F * n * 2, sizeof(float)), n, O, C, 0, 1};
			rc = !sg || segmenter_push(sg, spec, n, collect, &out) || segmenter_finish(sg, collect, &out);
			if (rc || segmenter_runs(sg) != segment_count(n, L, ov) || out.next != n) {
				ok(0, "segment %d overlap %d, %d frames: segmenter ran %lld, segment_count says %lld", L, ov,
				   n, sg ? (long long)segmenter_runs(sg) : -1LL, (long long)segment_count(n, L, ov));
				counted = 0;
			}
			segmenter_free(sg);
			free(out.masks), free(out.mix);
		}
	ok(counted, "segment_count matches the segmenter's runs for every length and overlap tried");

	/* mask_apply: stems = mask x mixture */
	float *stems = malloc((size_t)2 * C * F * T * 2 * sizeof(float));
	mask_apply(stems, direct, spec, 2, C, F, T);
	size_t k = ((size_t)1 * C + 1) * F * T + 5; /* stem 1, channel 1, element 5 */
	ok(stems[2 * k] == direct[(size_t)(1 * C + 1) * F * T + 5] * spec[((size_t)F * T + 5) * 2],
	   "mask_apply multiplies mask s*C+c with channel c of the mixture");

	/* mask_normalize: per bin and channel over the stems; a bin whose
	 * masks are all zero is split equally */
	{
		/* S 3, C 2, F 1, n 2: masks[s*C + c][t] */
		const float raw[12] = {0.2f, 0, 0.5f, 1, 0.1f, 0, 0.3f, 0, 0.2f, 0, 0.1f, 0};
		float o[12];
		mask_normalize(o, raw, 3, 2, 1, 2, MASK_SUM1);
		ok(fabsf(o[0] - 0.2f / 0.5f) < 1e-6f && fabsf(o[2] - 0.5f / 0.9f) < 1e-6f &&
			   fabsf(o[3] - 1.0f) < 1e-6f && o[7] == 0 && fabsf(o[1] - 1.0f / 3) < 1e-6f &&
			   fabsf(o[5] - 1.0f / 3) < 1e-6f && fabsf(o[9] - 1.0f / 3) < 1e-6f,
		   "mask_normalize sum1: m / sum of the stems' masks in the bin; an all-zero bin split in thirds");
		mask_normalize(o, raw, 3, 2, 1, 2, MASK_POWER);
		ok(fabsf(o[0] - 0.04f / 0.09f) < 1e-6f && fabsf(o[4] - 0.01f / 0.09f) < 1e-6f,
		   "mask_normalize power: m^2 / sum of m^2");
		mask_normalize(o, raw, 3, 2, 1, 2, MASK_RAW);
		ok(!memcmp(o, raw, sizeof raw), "mask_normalize raw copies the masks");
		ok(mask_norm_parse("sum1") == MASK_SUM1 && mask_norm_parse("raw") == MASK_RAW &&
			   mask_norm_parse("power") == MASK_POWER && mask_norm_parse("sum") < 0,
		   "mask_norm_parse knows raw, sum1, power only");
	}

	/* mask_normalize_backward against central differences of
	 * L = sum_i c_i out_i, for every mask element (S 4, C 2, F 3, n 5) */
	{
		enum { S = 4, Cn = 2, Fn = 3, N = 5, E = S * Cn * Fn * N };
		float mk[E], cw[E], dm[E], o[E];
		for (int i = 0; i < E; i++)
			mk[i] = 0.05f + 0.9f * (0.5f + 0.5f * frand()), cw[i] = frand();
		for (int k = 0; k < 2; k++) {
			enum mask_norm norm = k ? MASK_POWER : MASK_SUM1;
			mask_normalize_backward(dm, cw, mk, S, Cn, Fn, N, norm);
			double worst = 0;
			int at = 0;
			for (int i = 0; i < E; i++) {
				float keep = mk[i], h = 1e-3f;
				double lp = 0, lm = 0;
				mk[i] = keep + h;
				mask_normalize(o, mk, S, Cn, Fn, N, norm);
				for (int j = 0; j < E; j++)
					lp += (double)cw[j] * o[j];
				mk[i] = keep - h;
				mask_normalize(o, mk, S, Cn, Fn, N, norm);
				for (int j = 0; j < E; j++)
					lm += (double)cw[j] * o[j];
				mk[i] = keep;
				double fd = (lp - lm) / (2.0 * h), diff = fabs(fd - dm[i]);
				if (diff > worst)
					worst = diff, at = i;
			}
			ok(worst < 5e-4, "mask_normalize_backward %s matches central differences (largest difference %.2g "
			   "at element %d)", mask_norm_name(norm), worst, at);
		}
		float inplace[E];
		memcpy(inplace, cw, sizeof cw);
		mask_normalize_backward(dm, cw, mk, S, Cn, Fn, N, MASK_SUM1);
		mask_normalize_backward(inplace, inplace, mk, S, Cn, Fn, N, MASK_SUM1);
		ok(!memcmp(inplace, dm, sizeof dm), "mask_normalize_backward in place gives the same bits");
		mask_normalize_backward(dm, cw, mk, S, Cn, Fn, N, MASK_RAW);
		ok(!memcmp(dm, cw, sizeof dm), "mask_normalize_backward raw passes the gradient through");
		for (int s = 0; s < S; s++) /* bin 0 of channel 1 silent in every stem */
			mk[(s * Cn + 1) * Fn * N] = 0;
		mask_normalize_backward(dm, cw, mk, S, Cn, Fn, N, MASK_SUM1);
		int zero = 1;
		for (int s = 0; s < S; s++)
			zero &= dm[(s * Cn + 1) * Fn * N] == 0;
		ok(zero && dm[0] != 0, "mask_normalize_backward: no gradient where the masks sum to 0 (the 1/S split)");
		ok(mask_norm_name(MASK_SUM1) && !strcmp(mask_norm_name(MASK_SUM1), "sum1") && !mask_norm_name(3) &&
			   !mask_norm_name(-1), "mask_norm_name names the three and nothing else");
	}

	free(spec), free(in), free(direct), free(stems);
	struct collect *runs[] = {&whole, &longseg, &a, &b, &cc};
	for (int i = 0; i < 5; i++)
		free(runs[i]->masks), free(runs[i]->mix);
	unet_free(u);
	model_free(&m);
	return test_done();
}
