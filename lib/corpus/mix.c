/* The mix: each stem brought to its level relative to the others (RMS),
 * then one gain for all of them that puts the peak where the song wants
 * it, never above full scale; the mixture is the float sum of the stems as
 * written, so mixture == vocals + drums + bass + other holds exactly when
 * summed in that order in float32. */
#include <math.h>

#include "corpus/corpus.h"

void corpus_mix(const struct corpus_song *song, float *stems[CORPUS_STEMS], float *mix, size_t n)
{
	double gain[CORPUS_STEMS], peak = 0;
	for (int s = 0; s < CORPUS_STEMS; s++) {
		double sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += (double)stems[s][i] * stems[s][i];
		double rms = sqrt(sum / (n ? (double)n : 1));
		gain[s] = rms > 1e-9 ? pow(10, song->part[s].level_db / 20) / rms : 1;
	}
	/* the peak of the balanced stems and of their sum */
	for (size_t i = 0; i < n; i++) {
		double m = 0;
		for (int s = 0; s < CORPUS_STEMS; s++) {
			double x = stems[s][i] * gain[s];
			m += x;
			peak = fmax(peak, fabs(x));
		}
		peak = fmax(peak, fabs(m));
	}
	double target = pow(10, song->peak_db / 20), common = peak > 0 ? target / peak : 1;
	for (int s = 0; s < CORPUS_STEMS; s++) {
		float g = (float)(gain[s] * common);
		for (size_t i = 0; i < n; i++)
			stems[s][i] *= g;
	}
	for (size_t i = 0; i < n; i++)
		mix[i] = ((stems[STEM_VOCALS][i] + stems[STEM_DRUMS][i]) + stems[STEM_BASS][i]) + stems[STEM_OTHER][i];
}
