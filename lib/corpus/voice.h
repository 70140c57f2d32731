/* A singing voice for the vocals stem: a source-filter synthesiser that
 * sings the lead line's notes on syllables (consonant, vowel, sometimes a
 * closing consonant), so that the vocal stem has what real singing has and
 * General MIDI's "choir aahs" lack: formants that move from vowel to vowel,
 * fricative and plosive noise, breath, vibrato and pitch jitter.
 *
 *   glottal source (band-limited sawtooth, extra -6 dB/octave tilt)
 *     + aspiration noise            -> cascade of five formant resonators
 *   frication / burst noise         -> band-pass at the consonant's place
 *   sum x envelope x expression     -> constant-power pan into the stem
 *
 * The notes, bends and controllers come from the part's events, as
 * fluidsynth would play them: pitch bend (+-2 semitones), modulation (CC1:
 * vibrato depth), expression (CC11), volume (CC7), pan (CC10), portamento
 * (CC65 on, CC5/CC37 time) for slides between legato notes. Everything is
 * drawn from the seed: the same events and seed give the same samples. */
#ifndef TF_CORPUS_VOICE_H
#define TF_CORPUS_VOICE_H
#include <stddef.h>
#include <stdint.h>

#include "corpus/corpus.h"

/* The bank of a part voice that this synthesiser sings (its program is an
 * index into corpus_singers), instead of a soundfont preset. */
#define CORPUS_BANK_SUNG 1000
#define CORPUS_MAX_SINGERS 16

struct corpus_singer {
	const char *name;
	double female;  /* 0: men's vowel formants, 1: women's; between: interpolated */
	double scale;   /* every formant frequency times this (vocal tract length) */
	double breath;  /* aspiration noise against the voiced source */
	double tilt_hz; /* corner of the source's extra -6 dB/octave roll-off */
	double vib_hz;  /* vibrato rate */
	int high;       /* sings the high register (the composer's high melodies) */
	int held_out;   /* left out of the default set: for a test split of unseen voices */
};
extern const struct corpus_singer corpus_singers[];
extern const int corpus_nsingers;

/* Bit i: singer i may sing. The default: every singer not held out. */
unsigned corpus_singers_default(void);
/* "default", "all", "none", "held-out" or a comma list of names into *mask;
 * -1 with a message naming the unknown singer. */
int corpus_singers_parse(const char *list, unsigned *mask);

/* Sings the notes of channel chan: ev holds the part's events sorted by
 * time (as render.c plays them), n of them; out gets frames interleaved
 * stereo frames added to it. -1 (out of memory) with a message. */
int corpus_sing(const struct corpus_event *ev, size_t n, int chan, const struct corpus_singer *singer,
		uint64_t seed, int64_t frames, float *out);

#endif
