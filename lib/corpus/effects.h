/* Studio effects on a stem before the stems are summed, as a mix engineer
 * would put them on a channel strip: equaliser (low shelf, one peak, high
 * shelf), compressor (stereo-linked, feed-forward), delay (feedback echo,
 * damped) and an artificial reverb (parallel combs, series all-passes).
 * Applied to each stem on its own, so the mixture stays the exact sum of the
 * stems as written. Each effect is drawn per track and stem from the seed
 * (corpus_effects_pick); a stem may get none. */
#ifndef TF_CORPUS_EFFECTS_H
#define TF_CORPUS_EFFECTS_H
#include <stdint.h>

#include "rng.h"

struct corpus_effects {
	int eq, comp, delay, reverb; /* which are on */
	double lo_hz, lo_db, mid_hz, mid_db, mid_q, hi_hz, hi_db;
	double comp_over_db, comp_ratio, attack_ms, release_ms; /* threshold: stem RMS + comp_over_db */
	double delay_s, feedback, delay_mix, delay_damp_hz;
	double room, damp, reverb_mix;
};

/* Draws the effects of stem (corpus_stem) of a song whose beat lasts
 * beat_s seconds; sung: the vocals are the formant singer (dry). */
void corpus_effects_pick(struct rng *r, int stem, double beat_s, int sung, struct corpus_effects *fx);
/* Applies them in place to frames interleaved stereo frames at CORPUS_RATE.
 * -1 (out of memory) with a message. */
int corpus_effects_apply(const struct corpus_effects *fx, float *stereo, int64_t frames);
/* "eq+comp+delay", "none": for --list. */
void corpus_effects_describe(const struct corpus_effects *fx, char *buf, int size);

/* The equaliser's sections, exposed for their test: RBJ cookbook biquads. */
struct biquad {
	double b0, b1, b2, a1, a2;
};
void biquad_low_shelf(struct biquad *q, double hz, double db);
void biquad_high_shelf(struct biquad *q, double hz, double db);
void biquad_peak(struct biquad *q, double hz, double db, double Q);
/* |H| at hz, in dB. */
double biquad_gain_db(const struct biquad *q, double hz);

#endif
