#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "segment.h"
#include "tensor.h"

/* Frames are held time-major (mix[t][c][f], acc[t][o][f]) so that appending
 * and dropping frames are contiguous copies. */
struct segmenter {
	const struct unet *u;
	int C, F, O, L, overlap, step;
	int W;             /* the width the plan is for */
	int64_t base;      /* absolute index of held frame 0 */
	int64_t have;      /* frames received in all */
	int64_t next;      /* start of the next segment to run */
	int64_t runs;
	int held, cap;     /* frames held, capacity */
	float *mix;        /* [cap][C][F][2] */
	float *acc;        /* [cap][O][F] weighted mask sums */
	float *wsum;       /* [cap] */
	int threads;
	struct unet_plan *plan; /* for the width of the last run (normally L) */
	float *emit_m, *emit_x; /* emission buffers in stream layout */
	int emit_cap;
};

static int reserve(struct segmenter *s, int frames)
{
	if (frames <= s->cap)
		return 0;
	int cap = s->cap ? s->cap : 64;
	while (cap < frames)
		cap *= 2;
	size_t fr = (size_t)s->C * s->F * 2, fa = (size_t)s->O * s->F;
	float *mix = realloc(s->mix, (size_t)cap * fr * sizeof(float));
	if (mix)
		s->mix = mix;
	float *acc = realloc(s->acc, (size_t)cap * fa * sizeof(float));
	if (acc)
		s->acc = acc;
	float *w = realloc(s->wsum, (size_t)cap * sizeof(float));
	if (w)
		s->wsum = w;
	if (!mix || !acc || !w)
		return tf_seterr("out of memory holding %d frames", cap);
	memset(s->acc + (size_t)s->cap * fa, 0, (size_t)(cap - s->cap) * fa * sizeof(float));
	memset(s->wsum + s->cap, 0, (size_t)(cap - s->cap) * sizeof(float));
	s->cap = cap;
	return 0;
}

struct segmenter *segmenter_new(const struct unet *u, int bins, int segment, int overlap, int threads)
{
	const struct unet_config *c = unet_config(u);
	struct segmenter *s = calloc(1, sizeof *s);
	if (!s)
		return tf_seterr("out of memory"), NULL;
	if (segment && (segment < UNET_MIN_SIZE || overlap < 0 || 2 * overlap > segment)) {
		free(s);
		return tf_seterr("segment %d / overlap %d: need segment >= %d and overlap <= segment/2",
				 segment, overlap, UNET_MIN_SIZE), NULL;
	}
	s->u = u;
	s->threads = threads > 0 ? threads : omp_get_max_threads();
	s->C = c->channels;
	s->F = bins;
	s->O = c->out_channels;
	s->L = segment;
	s->overlap = segment ? overlap : 0;
	s->step = segment - s->overlap;
	/* nothing reserved here: the buffers grow with the frames that arrive,
	 * so a short input costs what it is, not what the segment could hold */
	return s;
}

void segmenter_free(struct segmenter *s)
{
	if (!s)
		return;
	free(s->mix), free(s->acc), free(s->wsum);
	unet_plan_free(s->plan);
	free(s->emit_m), free(s->emit_x);
	free(s);
}

int64_t segmenter_runs(const struct segmenter *s)
{
	return s->runs;
}

/* Cross-fade weight of frame i of a segment of n frames: a raised-cosine
 * ramp over the overlap at each end that meets another segment. The sums
 * are normalised afterwards, so the weights only decide the blend. */
static float fade(const struct segmenter *s, int i, int n, int fade_in, int fade_out)
{
	float w = 1.0f;
	int O = s->overlap;
	if (O <= 0)
		return w;
	if (fade_in && i < O) {
		float r = sinf((float)M_PI_2 * ((float)i + 0.5f) / (float)O);
		w = r * r;
	}
	if (fade_out && n - 1 - i < O) {
		float r = sinf((float)M_PI_2 * ((float)(n - 1 - i) + 0.5f) / (float)O);
		w = fminf(w, r * r);
	}
	return w;
}

/* Runs the network on absolute frames [start, start+n) (zero-padded to
 * width frames past what is held) and adds the weighted masks. */
static int run(struct segmenter *s, int64_t start, int n, int width, int fade_in, int fade_out)
{
	const struct unet_config *c = unet_config(s->u);
	int F = s->F, C = s->C, O = s->O, W = width;
	float scale = c->normalization == NORM_SCALE ? (float)c->input_scale : 1.0f;
	if (!s->plan || W != s->W) {
		/* planned once for the segment length; again only for a short
		 * input's one run of its own length */
		unet_plan_free(s->plan);
		if (!(s->plan = unet_plan_new(s->u, F, W, s->threads)))
			return -1;
		s->W = W;
	}
	/* the network's input, channel-last [F][W][2C]: the real parts of the
	 * channels, then the imaginary parts; zero past the held frames */
	float *in = unet_plan_input(s->plan);
	int off = (int)(start - s->base);
	for (int f = 0; f < F; f++) {
		float *x = in + (size_t)f * W * 2 * C;
		for (int t = 0; t < n; t++) {
			const float *m = s->mix + ((size_t)(off + t) * C * F + f) * 2;
			for (int ch = 0; ch < C; ch++) {
				x[(size_t)t * 2 * C + ch] = m[(size_t)ch * F * 2] * scale;
				x[(size_t)t * 2 * C + C + ch] = m[(size_t)ch * F * 2 + 1] * scale;
			}
		}
		memset(x + (size_t)n * 2 * C, 0, (size_t)(W - n) * 2 * C * sizeof *x);
	}
	const float *y = unet_run(s->plan, NULL, NULL); /* [F][W][O] */
	for (int t = 0; t < n; t++) {
		float w = fade(s, t, W, fade_in, fade_out);
		float *a = s->acc + (size_t)(off + t) * O * F;
		for (int o = 0; o < O; o++)
			for (int f = 0; f < F; f++)
				a[(size_t)o * F + f] += w * y[((size_t)f * W + t) * O + o];
		s->wsum[off + t] += w;
	}
	s->runs++;
	return 0;
}

/* Hands on held frames [base, upto) and drops them. */
static int emit(struct segmenter *s, int64_t upto, segment_emit_fn fn, void *ctx)
{
	int n = (int)(upto - s->base), F = s->F, C = s->C, O = s->O;
	if (n <= 0)
		return 0;
	if (n > s->emit_cap) {
		free(s->emit_m), free(s->emit_x);
		s->emit_m = tf_alloc((size_t)n * O * F, sizeof(float));
		s->emit_x = tf_alloc((size_t)n * C * F * 2, sizeof(float));
		if (!s->emit_m || !s->emit_x)
			return s->emit_cap = 0, -1;
		s->emit_cap = n;
	}
	for (int t = 0; t < n; t++) {
		const float *a = s->acc + (size_t)t * O * F, *m = s->mix + (size_t)t * C * F * 2;
		float inv = 1.0f / s->wsum[t];
		for (int o = 0; o < O; o++)
			for (int f = 0; f < F; f++)
				s->emit_m[((size_t)o * F + f) * n + t] = a[(size_t)o * F + f] * inv;
		for (int ch = 0; ch < C; ch++)
			for (int f = 0; f < F; f++) {
				size_t d = (((size_t)ch * F + f) * n + t) * 2, k = ((size_t)ch * F + f) * 2;
				s->emit_x[d] = m[k];
				s->emit_x[d + 1] = m[k + 1];
			}
	}
	if (fn(ctx, s->emit_m, s->emit_x, s->base, n))
		return -1;
	/* drop the emitted frames */
	int rest = s->held - n;
	memmove(s->mix, s->mix + (size_t)n * C * F * 2, (size_t)rest * C * F * 2 * sizeof(float));
	memmove(s->acc, s->acc + (size_t)n * O * F, (size_t)rest * O * F * sizeof(float));
	memmove(s->wsum, s->wsum + n, (size_t)rest * sizeof(float));
	memset(s->acc + (size_t)rest * O * F, 0, (size_t)n * O * F * sizeof(float));
	memset(s->wsum + rest, 0, (size_t)n * sizeof(float));
	s->held = rest;
	s->base = upto;
	return 0;
}

int segmenter_push(struct segmenter *s, const float *spec, int n, segment_emit_fn fn, void *ctx)
{
	int C = s->C, F = s->F;
	if (n <= 0)
		return 0;
	if (reserve(s, s->held + n))
		return -1;
	for (int t = 0; t < n; t++) {
		float *m = s->mix + (size_t)(s->held + t) * C * F * 2;
		for (int ch = 0; ch < C; ch++)
			for (int f = 0; f < F; f++) {
				size_t k = (((size_t)ch * F + f) * n + t) * 2;
				m[((size_t)ch * F + f) * 2] = spec[k];
				m[((size_t)ch * F + f) * 2 + 1] = spec[k + 1];
			}
	}
	s->held += n;
	s->have += n;
	if (!s->L)
		return 0; /* one segment: everything waits for the end */
	while (s->next + s->L <= s->have) {
		if (run(s, s->next, s->L, s->L, s->next > 0, 1))
			return -1;
		s->next += s->step;
		/* frames before the next segment's start are final */
		if (emit(s, s->next, fn, ctx))
			return -1;
	}
	return 0;
}

int segmenter_finish(struct segmenter *s, segment_emit_fn fn, void *ctx)
{
	int64_t left = s->have - s->next;
	if (s->have == 0)
		return 0;
	if (s->runs == 0) {
		/* a short input (or --segment 0) runs as one segment of its own
		 * length, padded only up to the network's minimum width; nothing
		 * has been emitted yet, so every frame is still held */
		int n = (int)s->have, width = n < UNET_MIN_SIZE ? UNET_MIN_SIZE : n;
		if (run(s, 0, n, width, 0, 0))
			return -1;
	} else if (left > s->overlap || (s->held > 0 && s->wsum[s->held - 1] == 0)) {
		/* the tail: one more full-length segment, zero-padded at the end */
		if (run(s, s->next, (int)left, s->L, 1, 0))
			return -1;
	}
	return emit(s, s->have, fn, ctx);
}

/* Mirrors segmenter_push and segmenter_finish: full segments every step
 * frames while they fit, then one padded tail segment if more than the
 * overlap is left; an input shorter than a segment is one segment. */
int64_t segment_count(int64_t frames, int segment, int overlap)
{
	if (frames <= 0)
		return 0;
	if (!segment || frames < segment)
		return 1;
	int64_t step = segment - overlap, full = (frames - segment) / step + 1;
	int64_t left = frames - full * step;
	return full + (left > overlap);
}

void mask_apply(float *stems, const float *masks, const float *mix, int S, int C, int F, int n)
{
	size_t plane = (size_t)F * n;
	for (int st = 0; st < S; st++)
		for (int ch = 0; ch < C; ch++) {
			const float *m = masks + (size_t)(st * C + ch) * plane, *x = mix + (size_t)ch * plane * 2;
			float *y = stems + ((size_t)st * C + ch) * plane * 2;
			for (size_t i = 0; i < plane; i++) {
				y[2 * i] = m[i] * x[2 * i];
				y[2 * i + 1] = m[i] * x[2 * i + 1];
			}
		}
}

static const char *const mask_norm_names[] = {[MASK_RAW] = "raw", [MASK_SUM1] = "sum1", [MASK_POWER] = "power"};

int mask_norm_parse(const char *name)
{
	for (int i = 0; i < (int)(sizeof mask_norm_names / sizeof *mask_norm_names); i++)
		if (!strcmp(name, mask_norm_names[i]))
			return i;
	return -1;
}

const char *mask_norm_name(int norm)
{
	return norm >= 0 && norm < (int)(sizeof mask_norm_names / sizeof *mask_norm_names) ? mask_norm_names[norm]
											  : NULL;
}

void mask_normalize(float *out, const float *masks, int S, int C, int F, int n, enum mask_norm norm)
{
	size_t plane = (size_t)F * n;
	for (int ch = 0; ch < C; ch++)
		for (size_t i = 0; i < plane; i++) {
			float w[MODEL_MAX_STEMS], sum = 0;
			for (int st = 0; st < S; st++) {
				float m = masks[(size_t)(st * C + ch) * plane + i];
				w[st] = norm == MASK_POWER ? m * m : m;
				sum += w[st];
			}
			for (int st = 0; st < S; st++) {
				float *o = &out[(size_t)(st * C + ch) * plane + i];
				if (norm == MASK_RAW)
					*o = w[st];
				else
					*o = sum >= MASK_NORM_EPS ? w[st] / sum : 1.0f / (float)S;
			}
		}
}

void mask_normalize_backward(float *dmasks, const float *dout, const float *masks, int S, int C, int F, int n,
			     enum mask_norm norm)
{
	size_t plane = (size_t)F * n;
	for (int ch = 0; ch < C; ch++)
		for (size_t i = 0; i < plane; i++) {
			float m[MODEL_MAX_STEMS], g[MODEL_MAX_STEMS], sum = 0, dot = 0;
			for (int st = 0; st < S; st++) {
				size_t at = (size_t)(st * C + ch) * plane + i;
				m[st] = masks[at], g[st] = dout[at];
				sum += norm == MASK_POWER ? m[st] * m[st] : m[st];
			}
			if (norm != MASK_RAW && sum >= MASK_NORM_EPS)
				for (int st = 0; st < S; st++) /* sum_s dout_s out_s, out_s as mask_normalize has it */
					dot += g[st] * ((norm == MASK_POWER ? m[st] * m[st] : m[st]) / sum);
			for (int st = 0; st < S; st++) {
				float *d = &dmasks[(size_t)(st * C + ch) * plane + i];
				if (norm == MASK_RAW)
					*d = g[st];
				else if (sum < MASK_NORM_EPS)
					*d = 0;
				else
					*d = (norm == MASK_POWER ? 2 * m[st] : 1.0f) * ((g[st] - dot) / sum);
			}
		}
}
