/* The corpus's formant singer and studio effects: singers by name, the
 * sung pitch, silence outside the notes, determinism, and what each effect
 * does to a known signal (equaliser gains, an echo's delay and level, the
 * compressor's effect on peaks, the reverb's decaying tail). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "corpus/corpus.h"
#include "corpus/effects.h"
#include "corpus/voice.h"
#include "error.h"
#include "test.h"

#define RATE CORPUS_RATE

static void test_singer_names(void)
{
	unsigned m = 0, h = 0;
	int r = corpus_singers_parse("default", &m);
	ok(!r && m == corpus_singers_default() && m, "default: %#x", m);
	int held = 0;
	for (int i = 0; i < corpus_nsingers; i++)
		held += corpus_singers[i].held_out && !(m >> i & 1);
	ok(held >= 2, "at least two singers are held out of the default set (%d)", held);
	r = corpus_singers_parse("held-out", &h);
	ok(!r && h && !(h & m), "held-out: %#x, disjoint from default", h);
	r = corpus_singers_parse("tenor,alto", &m);
	ok(!r && m == ((1u << 1) | (1u << 3)), "a list of names: %#x", m);
	r = corpus_singers_parse("tenor,nobody", &m);
	ok(r && strstr(tf_strerror(), "nobody"), "an unknown name: %s", tf_strerror());
	r = corpus_singers_parse("none", &m);
	ok(!r && !m, "none");
}

/* One note on channel 0 from 0.2 s to 1.4 s: key 57 (220 Hz). */
static size_t one_note(struct corpus_event *ev, int vibrato)
{
	size_t n = 0;
	ev[n++] = (struct corpus_event){.time = 0, .type = EV_CONTROL, .chan = 0, .a = 7, .b = 120};
	ev[n++] = (struct corpus_event){.time = 0, .type = EV_CONTROL, .chan = 0, .a = 1, .b = vibrato ? 100 : 0};
	ev[n++] = (struct corpus_event){.time = 8820 / 64 * 64, .type = EV_NOTE_ON, .chan = 0, .a = 57, .b = 100};
	ev[n++] = (struct corpus_event){.time = 61740 / 64 * 64, .type = EV_NOTE_OFF, .chan = 0, .a = 57};
	for (size_t i = 0; i < n; i++)
		ev[i].seq = (uint32_t)i;
	return n;
}

/* The period (in samples) in [lo, hi] with the highest normalised
 * autocorrelation of x's left channel over [from, from + len). */
static double period(const float *x, int from, int len, int lo, int hi)
{
	double best = -2;
	int at = lo;
	for (int p = lo; p <= hi; p++) {
		double xy = 0, xx = 0, yy = 0;
		for (int t = from; t < from + len; t++) {
			double a = x[2 * t], b = x[2 * (t + p)];
			xy += a * b, xx += a * a, yy += b * b;
		}
		double c = xy / sqrt(xx * yy + 1e-30);
		if (c > best)
			best = c, at = p;
	}
	return at;
}

static double rms(const float *x, int from, int to)
{
	double s = 0;
	for (int t = from; t < to; t++)
		s += (double)x[2 * t] * x[2 * t] + (double)x[2 * t + 1] * x[2 * t + 1];
	return sqrt(s / (2.0 * (to - from)) + 1e-300);
}

static void test_sing(void)
{
	enum { FRAMES = 2 * RATE };
	struct corpus_event ev[8];
	size_t n = one_note(ev, 0);
	float *a = calloc(2 * FRAMES, sizeof *a), *b = calloc(2 * FRAMES, sizeof *b);
	const struct corpus_singer *tenor = &corpus_singers[1];
	ok(!corpus_sing(ev, n, 0, tenor, 42, FRAMES, a) && !corpus_sing(ev, n, 0, tenor, 42, FRAMES, b) &&
		   !memcmp(a, b, 2 * FRAMES * sizeof *a),
	   "the same events and seed sing the same samples");
	int finite = 1;
	for (int i = 0; i < 2 * FRAMES; i++)
		finite &= isfinite(a[i]);
	ok(finite, "every sample is finite");
	/* the middle of the note, past any consonant and before any coda */
	double p = period(a, RATE / 2, RATE / 5, RATE / 300, RATE / 150), hz = RATE / p;
	ok(fabs(hz - 220) < 220 * 0.02, "key 57 is sung at 220 Hz (autocorrelation: %.1f Hz)", hz);
	double before = rms(a, 0, 8000), during = rms(a, RATE / 2, RATE), after = rms(a, (int)(1.9 * RATE), FRAMES);
	ok(during > 1e-3 && 20 * log10(before / during) < -100 &&
		   20 * log10(after / during) < -60,
	   "silent before the note, audible in it, died away 0.5 s after (%.0f, %.0f dB against the note)",
	   20 * log10(before / during), 20 * log10(after / during));
	/* a second channel with the same notes is another performance */
	for (size_t i = 0; i < n; i++)
		ev[i].chan = 1;
	memset(b, 0, 2 * FRAMES * sizeof *b);
	ok(!corpus_sing(ev, n, 1, tenor, 42, FRAMES, b) && memcmp(a, b, 2 * FRAMES * sizeof *a) &&
		   fabs(20 * log10(rms(b, RATE / 2, RATE) / during)) < 6,
	   "a double on another channel: not a copy, as loud within 6 dB");
	/* vibrato from the modulation wheel moves the pitch */
	n = one_note(ev, 1);
	memset(b, 0, 2 * FRAMES * sizeof *b);
	corpus_sing(ev, n, 0, tenor, 42, FRAMES, b);
	double lo = 1e9, hi = 0;
	for (int k = 0; k < 8; k++) {
		double q = RATE / period(b, RATE / 2 + k * RATE / 40, RATE / 40, RATE / 300, RATE / 150);
		lo = fmin(lo, q), hi = fmax(hi, q);
	}
	double cents = 1200 * log2(hi / lo);
	ok(cents > 40 && cents < 250, "CC1 100 gives vibrato: the pitch spans %.0f cents over 0.2 s", cents);
	free(a);
	free(b);
}

static void test_equaliser(void)
{
	struct biquad q;
	biquad_low_shelf(&q, 200, 6);
	ok(fabs(biquad_gain_db(&q, 5) - 6) < 0.1 && fabs(biquad_gain_db(&q, 10000)) < 0.1,
	   "low shelf +6 dB at 200 Hz: %.2f dB at 5 Hz, %.2f dB at 10 kHz", biquad_gain_db(&q, 5),
	   biquad_gain_db(&q, 10000));
	biquad_high_shelf(&q, 6000, -4);
	ok(fabs(biquad_gain_db(&q, 20000) + 4) < 0.3 && fabs(biquad_gain_db(&q, 50)) < 0.05,
	   "high shelf -4 dB at 6 kHz: %.2f dB at 20 kHz, %.2f dB at 50 Hz", biquad_gain_db(&q, 20000),
	   biquad_gain_db(&q, 50));
	biquad_peak(&q, 1000, 5, 1.2);
	ok(fabs(biquad_gain_db(&q, 1000) - 5) < 1e-6 && fabs(biquad_gain_db(&q, 20)) < 0.05,
	   "peak +5 dB at 1 kHz: %.6f dB there, %.3f dB at 20 Hz", biquad_gain_db(&q, 1000), biquad_gain_db(&q, 20));
	/* the filter as run on a stem: a 1 kHz sine comes out 5 dB louder */
	enum { N = RATE };
	float *x = malloc(2 * N * sizeof *x);
	for (int t = 0; t < N; t++)
		x[2 * t] = x[2 * t + 1] = (float)(0.1 * sin(2 * M_PI * 1000 * t / RATE));
	struct corpus_effects fx = {.eq = 1, .lo_hz = 100, .lo_db = 0, .mid_hz = 1000, .mid_db = 5, .mid_q = 1.2,
				    .hi_hz = 8000, .hi_db = 0};
	double in = rms(x, N / 2, N);
	corpus_effects_apply(&fx, x, N);
	double gain = 20 * log10(rms(x, N / 2, N) / in);
	ok(fabs(gain - 5) < 0.05, "the equaliser on a 1 kHz sine: %+.3f dB", gain);
	free(x);
}

static void test_dynamics_and_time(void)
{
	enum { N = RATE };
	float *x = calloc(2 * N, sizeof *x);
	/* an impulse: the echo comes delay_s later at delay_mix (damping aside) */
	x[2 * 1000] = x[2 * 1000 + 1] = 1;
	struct corpus_effects fx = {.delay = 1, .delay_s = 0.25, .feedback = 0.4, .delay_mix = 0.3,
				    .delay_damp_hz = 20000};
	corpus_effects_apply(&fx, x, N);
	int d = (int)(0.25 * RATE), peak_at = 1001;
	for (int t = 1001; t < N; t++)
		if (fabs(x[2 * t]) > fabs(x[2 * peak_at]))
			peak_at = t;
	ok(abs(peak_at - (1000 + d)) <= 2 && x[2 * peak_at] > 0.1 && x[2 * peak_at] < 0.3,
	   "delay 0.25 s: the first echo %d samples later (want %d), at %.3f", peak_at - 1000, d, x[2 * peak_at]);

	/* compressor: a loud burst in a quiet tone loses more than the tone */
	for (int t = 0; t < N; t++) {
		double a = t > N / 2 && t < N / 2 + 4410 ? 0.8 : 0.05;
		x[2 * t] = x[2 * t + 1] = (float)(a * sin(2 * M_PI * 440 * t / RATE));
	}
	double quiet = rms(x, 1000, 10000), loud = rms(x, N / 2 + 2000, N / 2 + 4000);
	struct corpus_effects c = {.comp = 1, .comp_over_db = 0, .comp_ratio = 4, .attack_ms = 1, .release_ms = 100};
	corpus_effects_apply(&c, x, N);
	double quiet2 = rms(x, 1000, 10000), loud2 = rms(x, N / 2 + 2000, N / 2 + 4000);
	double burst_db = 20 * log10(loud2 / loud), tone_db = 20 * log10(quiet2 / quiet);
	ok(burst_db < -6 && fabs(tone_db) < 0.5, "compressor 4:1: the burst %.1f dB, the quiet tone %.2f dB", burst_db,
	   tone_db);

	/* reverb: an impulse leaves a tail that decays */
	memset(x, 0, 2 * N * sizeof *x);
	x[0] = x[1] = 1;
	struct corpus_effects r = {.reverb = 1, .room = 0.6, .damp = 0.4, .reverb_mix = 0.3};
	corpus_effects_apply(&r, x, N);
	double early = rms(x, 2000, 12000), late = rms(x, 30000, 40000);
	int finite = 1;
	for (int i = 0; i < 2 * N; i++)
		finite &= isfinite(x[i]);
	ok(finite && early > 1e-4 && late < early / 4 && late > 0,
	   "reverb: a tail after the impulse that decays (%.2g then %.2g rms)", early, late);
	free(x);
}

int main(void)
{
	test_singer_names();
	test_sing();
	test_equaliser();
	test_dynamics_and_time();
	printf("# %d tests, %d failed\n", test_count, test_failed);
	return test_failed != 0;
}
