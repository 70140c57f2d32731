/* Studio effects per stem (effects.h). The biquads follow Robert
 * Bristow-Johnson's "Audio EQ Cookbook" formulas (shelf slope 1); the reverb
 * is the classic Schroeder/Moorer arrangement with the comb and all-pass
 * lengths commonly used at 44.1 kHz. Everything runs in double precision
 * on one thread, so a stem is the same on every machine. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus/corpus.h"
#include "corpus/effects.h"
#include "error.h"

#define RATE ((double)CORPUS_RATE)

static void shelf(struct biquad *q, double hz, double db, int high)
{
	double A = pow(10, db / 40), w = 2 * M_PI * hz / RATE, cw = cos(w);
	double alpha = sin(w) / 2 * sqrt(2), s = 2 * sqrt(A) * alpha; /* shelf slope 1 */
	double b0, b1, b2, a0, a1, a2;
	if (!high) {
		b0 = A * ((A + 1) - (A - 1) * cw + s), b1 = 2 * A * ((A - 1) - (A + 1) * cw);
		b2 = A * ((A + 1) - (A - 1) * cw - s), a0 = (A + 1) + (A - 1) * cw + s;
		a1 = -2 * ((A - 1) + (A + 1) * cw), a2 = (A + 1) + (A - 1) * cw - s;
	} else {
		b0 = A * ((A + 1) + (A - 1) * cw + s), b1 = -2 * A * ((A - 1) + (A + 1) * cw);
		b2 = A * ((A + 1) + (A - 1) * cw - s), a0 = (A + 1) - (A - 1) * cw + s;
		a1 = 2 * ((A - 1) - (A + 1) * cw), a2 = (A + 1) - (A - 1) * cw - s;
	}
	*q = (struct biquad){b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0};
}

void biquad_low_shelf(struct biquad *q, double hz, double db)
{
	shelf(q, hz, db, 0);
}

void biquad_high_shelf(struct biquad *q, double hz, double db)
{
	shelf(q, hz, db, 1);
}

void biquad_peak(struct biquad *q, double hz, double db, double Q)
{
	double A = pow(10, db / 40), w = 2 * M_PI * hz / RATE, alpha = sin(w) / (2 * Q), a0 = 1 + alpha / A;
	*q = (struct biquad){(1 + alpha * A) / a0, -2 * cos(w) / a0, (1 - alpha * A) / a0, -2 * cos(w) / a0,
			     (1 - alpha / A) / a0};
}

double biquad_gain_db(const struct biquad *q, double hz)
{
	double w = 2 * M_PI * hz / RATE;
	/* H(e^jw) = (b0 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 + a2 z^-2) */
	double nr = q->b0 + q->b1 * cos(w) + q->b2 * cos(2 * w), ni = -q->b1 * sin(w) - q->b2 * sin(2 * w);
	double dr = 1 + q->a1 * cos(w) + q->a2 * cos(2 * w), di = -q->a1 * sin(w) - q->a2 * sin(2 * w);
	return 10 * log10((nr * nr + ni * ni) / (dr * dr + di * di));
}

/* Direct form I over one channel of interleaved stereo. */
static void biquad_run(const struct biquad *q, float *x, int64_t frames, int ch)
{
	double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
	for (int64_t t = 0; t < frames; t++) {
		double in = x[2 * t + ch], y = q->b0 * in + q->b1 * x1 + q->b2 * x2 - q->a1 * y1 - q->a2 * y2;
		x2 = x1, x1 = in, y2 = y1, y1 = y;
		x[2 * t + ch] = (float)y;
	}
}

static void equalise(const struct corpus_effects *fx, float *x, int64_t frames)
{
	struct biquad q[3];
	biquad_low_shelf(&q[0], fx->lo_hz, fx->lo_db);
	biquad_peak(&q[1], fx->mid_hz, fx->mid_db, fx->mid_q);
	biquad_high_shelf(&q[2], fx->hi_hz, fx->hi_db);
	for (int k = 0; k < 3; k++)
		for (int ch = 0; ch < 2; ch++)
			biquad_run(&q[k], x, frames, ch);
}

/* Feed-forward compressor, both channels by one gain: a peak detector with
 * attack and release, a hard knee at the stem's RMS plus comp_over_db. */
static void compress(const struct corpus_effects *fx, float *x, int64_t frames)
{
	double sum = 0;
	for (int64_t i = 0; i < 2 * frames; i++)
		sum += (double)x[i] * x[i];
	if (sum <= 0)
		return;
	double thresh_db = 10 * log10(sum / (2 * (double)frames)) + fx->comp_over_db;
	double att = exp(-1 / (RATE * fx->attack_ms / 1000)), rel = exp(-1 / (RATE * fx->release_ms / 1000));
	double env = 0;
	for (int64_t t = 0; t < frames; t++) {
		double peak = fmax(fabs(x[2 * t]), fabs(x[2 * t + 1]));
		env = peak > env ? att * env + (1 - att) * peak : rel * env + (1 - rel) * peak;
		double level_db = 20 * log10(env + 1e-12), over = level_db - thresh_db;
		if (over > 0) {
			double g = pow(10, -over * (1 - 1 / fx->comp_ratio) / 20);
			x[2 * t] = (float)(x[2 * t] * g), x[2 * t + 1] = (float)(x[2 * t + 1] * g);
		}
	}
}

/* Feedback echo, its repeats darkened by a one-pole low-pass, added wet. */
static int echo(const struct corpus_effects *fx, float *x, int64_t frames)
{
	int64_t d = (int64_t)(fx->delay_s * RATE);
	if (d < 1)
		return 0;
	double *line = calloc((size_t)d * 2, sizeof *line);
	if (!line)
		return tf_seterr("out of memory");
	double k = 1 - exp(-2 * M_PI * fx->delay_damp_hz / RATE), lp[2] = {0, 0};
	for (int64_t t = 0; t < frames; t++) {
		int64_t at = t % d;
		for (int ch = 0; ch < 2; ch++) {
			double delayed = line[2 * at + ch];
			lp[ch] += (delayed - lp[ch]) * k;
			line[2 * at + ch] = x[2 * t + ch] + fx->feedback * lp[ch];
			x[2 * t + ch] = (float)(x[2 * t + ch] + fx->delay_mix * lp[ch]);
		}
	}
	free(line);
	return 0;
}

/* Eight damped feedback combs in parallel, then four all-passes, per
 * channel; the right channel's lines are 23 samples longer (width). */
static const int comb_len[8] = {1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617};
static const int allpass_len[4] = {556, 441, 341, 225};
#define SPREAD 23

struct reverb_channel {
	double *comb[8], *ap[4], filt[8];
	int cl[8], al[4], ci[8], ai[4];
};

static double reverb_run(struct reverb_channel *c, double in, double fb, double damp)
{
	double out = 0;
	for (int i = 0; i < 8; i++) {
		double y = c->comb[i][c->ci[i]];
		c->filt[i] = y * (1 - damp) + c->filt[i] * damp;
		c->comb[i][c->ci[i]] = in + c->filt[i] * fb;
		if (++c->ci[i] == c->cl[i])
			c->ci[i] = 0;
		out += y;
	}
	for (int i = 0; i < 4; i++) {
		double b = c->ap[i][c->ai[i]];
		c->ap[i][c->ai[i]] = out + b * 0.5;
		out = b - out;
		if (++c->ai[i] == c->al[i])
			c->ai[i] = 0;
	}
	return out;
}

static int reverberate(const struct corpus_effects *fx, float *x, int64_t frames)
{
	size_t total = 0;
	for (int i = 0; i < 8; i++)
		total += 2 * (size_t)(comb_len[i] + SPREAD);
	for (int i = 0; i < 4; i++)
		total += 2 * (size_t)(allpass_len[i] + SPREAD);
	double *mem = calloc(total, sizeof *mem), *m = mem;
	if (!mem)
		return tf_seterr("out of memory");
	struct reverb_channel rc[2];
	memset(rc, 0, sizeof rc);
	for (int ch = 0; ch < 2; ch++) {
		for (int i = 0; i < 8; i++)
			rc[ch].cl[i] = comb_len[i] + ch * SPREAD, rc[ch].comb[i] = m, m += rc[ch].cl[i];
		for (int i = 0; i < 4; i++)
			rc[ch].al[i] = allpass_len[i] + ch * SPREAD, rc[ch].ap[i] = m, m += rc[ch].al[i];
	}
	double fb = 0.7 + 0.28 * fx->room;
	for (int64_t t = 0; t < frames; t++) {
		double in = 0.015 * ((double)x[2 * t] + x[2 * t + 1]); /* both channels hear the dry sum */
		double wl = reverb_run(&rc[0], in, fb, fx->damp), wr = reverb_run(&rc[1], in, fb, fx->damp);
		x[2 * t] = (float)(x[2 * t] + fx->reverb_mix * wl);
		x[2 * t + 1] = (float)(x[2 * t + 1] + fx->reverb_mix * wr);
	}
	free(mem);
	return 0;
}

int corpus_effects_apply(const struct corpus_effects *fx, float *x, int64_t frames)
{
	if (fx->eq)
		equalise(fx, x, frames);
	if (fx->comp)
		compress(fx, x, frames);
	if (fx->delay && echo(fx, x, frames))
		return -1;
	if (fx->reverb && reverberate(fx, x, frames))
		return -1;
	return 0;
}

static double uniform(struct rng *r, double lo, double hi)
{
	return lo + (hi - lo) * rng_uniform(r);
}

void corpus_effects_pick(struct rng *r, int stem, double beat_s, int sung, struct corpus_effects *fx)
{
	/*                       vocals drums bass other */
	static const double p_eq[] = {0.7, 0.6, 0.6, 0.6}, p_comp[] = {0.7, 0.6, 0.6, 0.4};
	static const double p_delay[] = {0.3, 0.05, 0.02, 0.2}, p_reverb[] = {0.45, 0.2, 0.05, 0.3};
	memset(fx, 0, sizeof *fx);
	fx->eq = rng_uniform(r) < p_eq[stem];
	fx->lo_hz = uniform(r, 80, 300), fx->lo_db = uniform(r, -6, 4);
	fx->mid_hz = exp(uniform(r, log(300), log(5000))), fx->mid_db = uniform(r, -6, 6), fx->mid_q = uniform(r, 0.7, 2);
	fx->hi_hz = uniform(r, 4000, 10000), fx->hi_db = uniform(r, -6, 5);
	fx->comp = rng_uniform(r) < p_comp[stem];
	fx->comp_over_db = uniform(r, 0, 9), fx->comp_ratio = uniform(r, 2, 6);
	fx->attack_ms = uniform(r, 2, 25), fx->release_ms = uniform(r, 50, 300);
	fx->delay = rng_uniform(r) < p_delay[stem];
	static const double beats[] = {0.5, 0.75, 1, 1.5};
	fx->delay_s = beat_s * beats[(int)(rng_uniform(r) * 4)];
	fx->feedback = uniform(r, 0.15, 0.45), fx->delay_mix = uniform(r, 0.1, 0.3);
	fx->delay_damp_hz = uniform(r, 2000, 8000);
	/* the singer is dry (fluidsynth's reverb does not reach it): a room more often */
	fx->reverb = rng_uniform(r) < (sung && stem == 0 ? 0.85 : p_reverb[stem]);
	fx->room = uniform(r, 0.3, 0.9), fx->damp = uniform(r, 0.2, 0.7), fx->reverb_mix = uniform(r, 0.1, 0.35);
}

void corpus_effects_describe(const struct corpus_effects *fx, char *buf, int size)
{
	snprintf(buf, (size_t)size, "%s%s%s%s%s", fx->eq ? "+eq" : "", fx->comp ? "+comp" : "",
		 fx->delay ? "+delay" : "", fx->reverb ? "+reverb" : "",
		 fx->eq || fx->comp || fx->delay || fx->reverb ? "" : "+none");
	memmove(buf, buf + 1, strlen(buf)); /* drop the first '+' */
}
