/* The composer's shared state (internal to lib/corpus): the song's form bar
 * by bar, its harmony and time grid, and the helpers every part uses to
 * place notes. compose.c makes the plan; drums.c, accomp.c and melody.c
 * write the parts from it. */
#ifndef TF_CORPUS_PLAN_H
#define TF_CORPUS_PLAN_H
#include "corpus/corpus.h"

enum section { SEC_INTRO, SEC_VERSE, SEC_CHORUS, SEC_BRIDGE, SEC_OUTRO };

struct bar_plan {
	int section, index, length; /* which section, this bar's place in it, its length */
	int section_no;             /* sections counted from the song's start */
	double intensity;           /* 0..1: velocities, density, which instruments play */
	int chord[2];               /* scale degrees of the chords on each half bar */
	int vocal;                  /* the lead voice may sing in this bar */
	int solo;                   /* an instrument of "other" takes the lead */
};

#define PLAN_MAX_STEPS 16

struct plan {
	struct corpus_song *song;
	struct rng rng;    /* the plan's own draws; parts take children */
	int bpm, beats, steps;    /* steps: sixteenths per bar */
	int nbars, first_bar;     /* bars planned; the bar at the track's start */
	double step_frames;       /* frames per sixteenth */
	int swing_kind;           /* 0, 8 (swung eighths) or 16 (swung sixteenths) */
	double swing;             /* delay of the off-beat, as a fraction of a sixteenth pair */
	int key;                  /* tonic: MIDI pitch class 0..11 */
	const int *scale;         /* 7 semitone offsets from the tonic */
	int minor, raised_v, sevenths;
	int drum_style;
	char kick[PLAN_MAX_STEPS + 1]; /* the kick pattern, for a bass that locks to it */
	struct bar_plan *bar;
	uint32_t seq;
	unsigned singers; /* formant singers the vocals may use (voice.h) */
	int oom;
};

/* Frame (from the track's start, may be negative) of sixteenth `step` of
 * bar `bar`, with the song's swing on integral off-beat steps. */
int64_t plan_time(const struct plan *p, int bar, double step);

/* Events on a channel of a part. Times are put on the CORPUS_BLOCK grid; a
 * note whose start is outside the track is dropped, a control before the
 * track's start is moved to its start (so the state it sets holds). Out of
 * memory sets p->oom. */
void part_note(struct plan *p, struct corpus_part *part, int chan, int key, int vel, int64_t on, int64_t off);
void part_control(struct plan *p, struct corpus_part *part, int chan, int number, int value, int64_t t);
void part_bend(struct plan *p, struct corpus_part *part, int chan, int value, int64_t t);
/* Adds a voice (channel, bank, program) to a part and sets its mixer controls. */
int part_voice(struct plan *p, struct corpus_part *part, int bank, int program, const char *role, int pan,
	       int volume, int reverb, int chorus);

/* Theory (theory.c). */
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

/* A melodic line's manner (melody.c). */
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

/* The parts. */
void compose_drums(struct plan *p);
void compose_bass(struct plan *p);
void compose_other(struct plan *p);
void compose_vocals(struct plan *p);

/* Instrument lists (theory.c), also checked against the soundfont. */
struct program_list {
	const int *programs;
	int n;
};
extern const struct program_list prog_bass, prog_comp, prog_arp, prog_solo, prog_pad, prog_lead_voice,
	prog_backing_voice;
#define PROGRAMS(...) {(const int[]){__VA_ARGS__}, sizeof((int[]){__VA_ARGS__}) / sizeof(int)}

#endif
