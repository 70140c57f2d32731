/* A melodic line over the plan (internal to lib/corpus; melody.c): the
 * vocals' lead and an instrument's solo. */
#ifndef TF_CORPUS_MELODY_H
#define TF_CORPUS_MELODY_H
#include "corpus/plan.h"

/* A melodic line's manner. */
struct melody_style {
	int center, range;           /* register: middle and span, semitones */
	double density, sixteenths;  /* how busy: notes vs rests, share of sixteenths */
	double legato;               /* sounding share of each note's time */
	int vel, vibrato, scoops;    /* loudness; sung gestures on or off */
	double glides;               /* chance of sliding (portamento) into a near note */
	int glide_ms;
};
/* A line over the bars with solo (want_solo) or vocal set, played alike on
 * each channel of chans (doubles detuned). */
void melody_line(struct plan *p, struct corpus_part *part, const int *chans, int nchans, struct rng *r,
		 const struct melody_style *ms, int want_solo);

#endif
