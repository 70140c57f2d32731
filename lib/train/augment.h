/* Training examples drawn from a dataset, with the augmentations of the
 * reference's training (and of Open-Unmix / Demucs before it):
 *   - a random segment of seg_len samples,
 *   - each stem from a random track at its own random offset (remix; off:
 *     every stem from one track at one offset),
 *   - a random gain per stem, uniform in [gain_lo, gain_hi],
 *   - a random swap of the left and right channels per stem (stereo),
 *   - the mixture remade as the sum of the augmented stems,
 *   - examples whose stems are all silent (mean square below silence_db
 *     dBFS) drawn again.
 * Every random choice comes from the caller's rng in a fixed order, so the
 * same rng state gives the same example. */
#ifndef TF_TRAIN_AUGMENT_H
#define TF_TRAIN_AUGMENT_H
#include <stdint.h>

#include "train/dataset.h"
#include "rng.h"

#define AUGMENT_MAX_TRIES 1000

struct augment {
	int64_t seg_len;          /* samples per segment */
	double gain_lo, gain_hi;  /* per-stem gain range (1, 1: none) */
	int swap;                 /* random channel swap */
	int remix;                /* stems from different tracks */
	double silence_db;        /* below this (dBFS, mean square) a stem is silent */
};

/* Tracks long enough for a segment; 0 when none is. */
int augment_eligible(const struct dataset *d, const struct augment *a);

/* One example: stems [S][C][seg_len], mix [C][seg_len]. -1 with a message
 * on a read error, when no track is long enough, or when AUGMENT_MAX_TRIES
 * draws in a row were silent. *skipped (may be NULL) counts silent draws. */
int augment_draw(const struct dataset *d, const struct augment *a, struct rng *r, float *stems,
		 float *mix, int64_t *skipped);

#endif
