/* The composer's shared state (internal to lib/corpus): the song's form bar
 * by bar, its harmony and time grid, and the helpers every part uses to
 * place notes (plan.c). compose.c makes the plan; drums.c, accomp.c and
 * melody.c write the parts from it (parts.h), with the music theory of
 * theory.h. */
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

#endif
