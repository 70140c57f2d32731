#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calibrate.h"
#include "error.h"
#include "fileio.h"
#include "segment.h"
#include "specstream.h"
#include "unet.h"

/* Bins of |x| on a logarithmic scale, read off the float's bits: 32 per
 * octave (the top 5 bits of the significand) from 2^-64 to 2^64, the
 * first bin also holding zero and everything smaller, the last
 * everything larger. A value's bin does not depend on what came before,
 * so the histogram, and the scale chosen from it, are the same however the
 * threads interleave. */
#define SUB_BITS 5
#define EXP_LO 63  /* biased exponent of 2^-64 */
#define EXP_HI 191 /* of 2^64 */
#define NBINS ((EXP_HI - EXP_LO) << SUB_BITS)

struct hist {
	uint64_t bin[NBINS];
	double absmax;
	pthread_mutex_t lock;
};

struct calib {
	struct hist *h; /* [nspecs], used for the int8 layers */
	int failed;
};

static int bin_of(float a)
{
	uint32_t u;
	memcpy(&u, &a, sizeof a);
	int e = (int)(u >> 23);
	if (e < EXP_LO)
		return 0;
	if (e >= EXP_HI)
		return NBINS - 1;
	return ((e - EXP_LO) << SUB_BITS) | (int)((u >> (23 - SUB_BITS)) & ((1u << SUB_BITS) - 1));
}

/* The lower edge of bin b. */
static double bin_edge(int b)
{
	return ldexp(1.0 + (double)(b & ((1 << SUB_BITS) - 1)) / (1 << SUB_BITS), (b >> SUB_BITS) + EXP_LO - 127);
}

static void observe(void *ctx, int layer, const float *x, int M, int K, int ld)
{
	struct calib *c = ctx;
	struct hist *h = &c->h[layer];
	float amax = 0;
	for (int m = 0; m < M; m++)
		for (int k = 0; k < K; k++) {
			float a = fabsf(x[(size_t)m * ld + k]);
			amax = a > amax ? a : amax; /* NaN is not counted */
		}
	if (!isfinite(amax)) {
		c->failed = 1;
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (amax > h->absmax)
		h->absmax = amax;
	for (int m = 0; m < M; m++)
		for (int k = 0; k < K; k++)
			h->bin[bin_of(fabsf(x[(size_t)m * ld + k]))]++;
	pthread_mutex_unlock(&h->lock);
}

/* The MSE-optimal clip (calibrate.h) of one histogram, each bin's values
 * taken at its midpoint (the first bin's at 0). */
static void choose(const struct hist *h, struct calib_layer *out)
{
	double total = 0, sq = 0, best = INFINITY;
	int best_edge = NBINS;
	memset(out, 0, sizeof *out);
	for (int b = 0; b < NBINS; b++) {
		double v = b ? 0.5 * (bin_edge(b) + bin_edge(b + 1)) : 0;
		total += (double)h->bin[b], sq += (double)h->bin[b] * v * v;
	}
	out->absmax = h->absmax, out->count = total;
	if (!(h->absmax > 0) || total <= 0) {
		/* nothing but zeros: any scale; 1/127 keeps the arithmetic finite */
		out->clip = 1.0;
		return;
	}
	/* clip at the lower edge of bin e (values in bins >= e lie beyond it);
	 * the squared error beyond, sum n (v - c)^2, from suffix sums of n,
	 * n v and n v^2 */
	double s0 = 0, s1 = 0, s2 = 0;
	for (int e = NBINS - 1; e >= 1; e--) {
		double nb = (double)h->bin[e], vb = 0.5 * (bin_edge(e) + bin_edge(e + 1));
		s0 += nb, s1 += nb * vb, s2 += nb * vb * vb;
		double c = bin_edge(e);
		if (c > 2 * h->absmax)
			continue; /* empty bins above what was seen */
		double step = c / 127, below = total - s0;
		double mse = below * step * step / 12 + (s2 - 2 * c * s1 + c * c * s0);
		if (mse < best)
			best = mse, best_edge = e;
	}
	double c = bin_edge(best_edge), beyond = 0;
	for (int b = best_edge; b < NBINS; b++)
		beyond += (double)h->bin[b];
	/* never above what was seen */
	out->clip = c < h->absmax ? c : h->absmax;
	out->rel_rms = sq > 0 ? sqrt(best / sq) : 0;
	out->clipped = beyond / total;
}

static int discard(void *ctx, const float *masks, const float *mix, int64_t first, int n)
{
	int64_t *frames = ctx;
	*frames += n;
	return 0;
}

/* One stream through the network. */
static int run_stream(const struct unet *u, const struct unet_config *c, const char *path, int64_t *frames)
{
	int fd = file_open_read(path), rc = -1, got;
	struct spec_reader *r = fd >= 0 ? spec_reader_open(fd, path, SPEC_SPECTROGRAM) : NULL;
	struct segmenter *seg = NULL;
	struct spec_chunk chunk;
	if (!r || spec_fits(spec_reader_header(r), c) ||
	    !(seg = segmenter_new(u, spec_reader_header(r)->bins, c->segment, c->overlap, 0)))
		goto out;
	while ((got = spec_read_chunk(r, &chunk)) > 0)
		if (segmenter_push(seg, chunk.data, chunk.n, discard, frames))
			goto out;
	if (got < 0 || segmenter_finish(seg, discard, frames))
		goto out;
	rc = 0;
out:
	segmenter_free(seg);
	spec_reader_close(r);
	if (fd > 0)
		close(fd);
	return rc;
}

int calibrate(struct model *m, const char *const *paths, int n, struct calib_layer *layers)
{
	struct calib c = {0};
	struct unet *u = NULL;
	int rc = -1;
	int64_t frames = 0;
	if (m->cfg.quantization != QUANT_NONE)
		return tf_seterr("the model is already quantised (%s): calibrate the f32 model",
				 quant_traits[m->cfg.quantization].name);
	if (!m->q8 && model_q8_alloc(m))
		return -1;
	if (!(c.h = tf_calloc((size_t)m->nspecs, sizeof *c.h)))
		return -1;
	for (int i = 0; i < m->nspecs; i++)
		pthread_mutex_init(&c.h[i].lock, NULL);
	if (!(u = unet_prepare(m)))
		goto out;
	unet_set_observer(u, observe, &c);
	for (int k = 0; k < n; k++)
		if (run_stream(u, &m->cfg, paths[k], &frames))
			goto out;
	if (c.failed) {
		tf_seterr("calibration: the network produced a non-finite activation");
		goto out;
	}
	if (!frames) {
		tf_seterr("calibration: the stream%s held no frames", n > 1 ? "s" : "");
		goto out;
	}
	for (int i = 0; i < m->nspecs; i++) {
		memset(&layers[i], 0, sizeof layers[i]);
		if (!model_q8_tensor(&m->specs[i], NULL))
			continue;
		choose(&c.h[i], &layers[i]);
		m->act_scale[i] = (float)(layers[i].clip / 127);
		if (!(m->act_scale[i] > 0))
			m->act_scale[i] = 1.0f / 127;
		if (layers[i].rel_rms > CALIB_PER_ROW_ABOVE)
			m->act_scale[i] = 0; /* per row at run time */
	}
	rc = 0;
out:
	unet_free(u);
	for (int i = 0; i < m->nspecs; i++)
		pthread_mutex_destroy(&c.h[i].lock);
	free(c.h);
	return rc;
}
