/* Scales, chords and instrument lists shared by the composers (internal to
 * lib/corpus; theory.c). */
#ifndef TF_CORPUS_THEORY_H
#define TF_CORPUS_THEORY_H
#include "corpus/plan.h"

extern const int scale_major[7], scale_minor[7], scale_dorian[7], scale_mixolydian[7];
/* Semitones from the tonic of the i-th chord tone (root, third, fifth,
 * seventh) of the diatonic chord on `degree`; n tones into out. */
void chord_tones(const struct plan *p, int degree, int n, int *out);
/* Semitones from the tonic of scale step s (any integer; 7 is the octave). */
int scale_semis(const struct plan *p, int s);
/* The scale step whose pitch (key + scale_semis) is nearest to midi. */
int scale_step_near(const struct plan *p, int midi);
/* midi moved by octaves into [lo, lo + 12). */
int into_octave(int midi, int lo);
/* A progression of 4 scale degrees for the mode, drawn from a table. */
void pick_progression(struct plan *p, struct rng *r, int out[4]);
/* A program drawn from a list of General MIDI programs. */
int pick_program(struct rng *r, const int *list, int n);
int clampi(int x, int lo, int hi);

/* Instrument lists (theory.c), also checked against the soundfont. */
struct program_list {
	const int *programs;
	int n;
};
extern const struct program_list prog_bass, prog_comp, prog_arp, prog_solo, prog_pad, prog_lead_voice,
	prog_backing_voice;
#define PROGRAMS(...) {(const int[]){__VA_ARGS__}, sizeof((int[]){__VA_ARGS__}) / sizeof(int)}

#endif
