#include <math.h>
#include <string.h>

#include "error.h"
#include "train/augment.h"

int augment_eligible(const struct dataset *d, const struct augment *a)
{
	int n = 0;
	for (int t = 0; t < d->ntracks; t++)
		n += d->tracks[t].frames >= a->seg_len;
	return n;
}

/* The i-th track long enough for a segment. */
static int eligible_track(const struct dataset *d, const struct augment *a, uint64_t i)
{
	for (int t = 0; t < d->ntracks; t++)
		if (d->tracks[t].frames >= a->seg_len && i-- == 0)
			return t;
	return -1;
}

int augment_draw(const struct dataset *d, const struct augment *a, struct rng *r, float *stems,
		 float *mix, int64_t *skipped)
{
	int S = d->nstems, C = d->channels, n = augment_eligible(d, a);
	int64_t L = a->seg_len;
	size_t plane = (size_t)C * (size_t)L;
	double floor = pow(10.0, a->silence_db / 10.0);
	if (!n)
		return tf_seterr("no track is as long as a segment (%lld samples)", (long long)L);
	for (int attempt = 0; attempt < AUGMENT_MAX_TRIES; attempt++) {
		int base = eligible_track(d, a, rng_below(r, (uint64_t)n)), audible = 0;
		int64_t base_off = (int64_t)rng_below(r, (uint64_t)(d->tracks[base].frames - L + 1));
		for (int s = 0; s < S; s++) {
			int t = base;
			int64_t off = base_off;
			if (a->remix) {
				t = eligible_track(d, a, rng_below(r, (uint64_t)n));
				off = (int64_t)rng_below(r, (uint64_t)(d->tracks[t].frames - L + 1));
			}
			double gain = a->gain_lo + (a->gain_hi - a->gain_lo) * rng_uniform(r);
			int swap = a->swap && C == 2 && rng_uniform(r) < 0.5;
			float *x = stems + (size_t)s * plane;
			if (dataset_read(d, t, s, off, L, x))
				return -1;
			if (swap)
				for (int64_t i = 0; i < L; i++) {
					float tmp = x[i];
					x[i] = x[L + i], x[L + i] = tmp;
				}
			double energy = 0;
			for (size_t i = 0; i < plane; i++) {
				x[i] *= (float)gain;
				energy += (double)x[i] * x[i];
			}
			audible |= energy / (double)plane >= floor;
		}
		if (!audible) {
			if (skipped)
				++*skipped;
			continue;
		}
		memset(mix, 0, plane * sizeof *mix);
		for (int s = 0; s < S; s++)
			for (size_t i = 0; i < plane; i++)
				mix[i] += stems[(size_t)s * plane + i];
		return 0;
	}
	return tf_seterr("%d draws in a row were silent (every stem below %g dBFS): is the dataset silent?",
			 AUGMENT_MAX_TRIES, a->silence_db);
}
