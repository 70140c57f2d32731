/* A generated multi-stem corpus: procedurally composed songs, rendered one
 * stem at a time with fluidsynth and a General MIDI soundfont, summed into
 * mixtures and written in MUSDB18's layout (see man/tf-corpus.1).
 *
 * compose (compose.c and the parts: drums.c, accomp.c, melody.c, on top of
 * theory.c and rng.c) turns a seed into a song: a list of MIDI-like events per
 * stem, on sample times. synth/render.c plays one stem's events through its own
 * fluidsynth synth. mix.c balances the stems, normalises the peak and sums
 * the mixture; track.c writes a track directory atomically.
 *
 * Everything is a function of the seed: the composer draws only from its
 * own PRNG, and the renderer runs fluidsynth single-threaded with events on
 * its 64-sample block grid, so equal seeds give byte-identical files (with
 * the same build, fluidsynth and soundfont). */
#ifndef TF_CORPUS_H
#define TF_CORPUS_H
#include <stddef.h>
#include <stdint.h>
#include "corpus/effects.h"
#include "rng.h"

#define CORPUS_RATE 44100
#define CORPUS_CHANNELS 2
#define CORPUS_STEMS 4
#define CORPUS_BLOCK 64       /* fluidsynth's block: events land on this grid */
#define CORPUS_MAX_PARTCH 8   /* MIDI channels one stem may use */
/* Bumped whenever a change alters what a seed produces; recorded in the
 * corpus manifest so that a re-run does not mix two generators' tracks. */
#define CORPUS_GENERATOR 3

/* MUSDB18's stems, in the order the mixture is summed. */
enum corpus_stem { STEM_VOCALS, STEM_DRUMS, STEM_BASS, STEM_OTHER };
extern const char *const corpus_stem_names[CORPUS_STEMS];

/* The composer's only randomness: lib/rng.h (xoshiro256**), and these draws on it. */
/* An independent stream for a named purpose (part, section): seed mixed with id. */
void rng_child(struct rng *child, const struct rng *parent, uint64_t id);
int rng_int(struct rng *r, int lo, int hi); /* uniform in [lo, hi] */
double rng_range(struct rng *r, double lo, double hi);
int rng_chance(struct rng *r, double p);
/* An index in [0, n) drawn with the given non-negative weights. */
int rng_weighted(struct rng *r, const double *w, int n);
/* splitmix64's finaliser: seeds for tracks from (corpus seed, split, index). */
uint64_t corpus_mix64(uint64_t x);
uint64_t corpus_track_seed(uint64_t seed, int split, int index);

enum corpus_event_type { EV_NOTE_OFF, EV_CONTROL, EV_BEND, EV_NOTE_ON };
struct corpus_event {
	int64_t time;   /* sample frame from the track's start, a multiple of CORPUS_BLOCK */
	uint32_t seq;   /* insertion order: ties are played in this order */
	uint8_t type, chan, a, b; /* note on/off: key, velocity; control: number, value */
	int16_t bend;   /* EV_BEND: -8192..8191 (default range: +-2 semitones) */
};

/* A MIDI channel of a stem and the sound on it. */
struct corpus_voice {
	int chan, bank, program;
	char role[16];  /* "lead", "kit", "chords", ... for --list */
};

/* Effects of one stem's synth (fluidsynth's reverb and chorus settings). */
struct corpus_fx {
	double room, damp, width, level;
	int chorus_voices;
	double chorus_level, chorus_speed, chorus_depth;
};

struct corpus_part {
	struct corpus_voice voice[CORPUS_MAX_PARTCH];
	int nvoices;
	struct corpus_fx fx;
	struct corpus_event *ev;
	size_t n, cap;
	double level_db;  /* the stem's RMS in the mix, relative to the others */
	struct corpus_effects effects; /* applied to the rendered stem before mixing */
};

struct corpus_song {
	uint64_t seed;
	int64_t frames;   /* the track's length */
	int key, bpm, beats; /* tonic pitch class, tempo, beats per bar */
	const char *mode, *style, *bass_style, *comp_style;
	double peak_db;   /* the mixture's peak after normalisation, dBFS */
	int vocal_bars, bars;
	struct corpus_part part[CORPUS_STEMS];
};

/* Composes the song of a seed, `frames` long. singers: a mask of the
 * formant singers (voice.h) the lead vocals may be sung by; 0: General MIDI
 * voice patches only. 0, or -1 (out of memory). */
int corpus_compose(struct corpus_song *song, uint64_t seed, int64_t frames, unsigned singers);
void corpus_song_free(struct corpus_song *song);
/* One line: key, mode, tempo, metre, style and the programs of each stem. */
void corpus_describe(const struct corpus_song *song, char *buf, size_t size);
/* The General MIDI name of a program (bank 0) or drum kit (bank 128). */
const char *corpus_program_name(int bank, int program);

/* Soundfont check: 0 when it loads and has every preset the composer uses
 * (bank 0 programs; drum kits fall back to kit 0), else -1 with a message. */
int corpus_check_soundfont(const char *path);
/* Renders one stem of the song: out gets song->frames interleaved stereo
 * frames: fluidsynth plays the soundfont's voices, the formant singer
 * (voice.h) the sung ones; the stem's effects are not applied yet
 * (corpus_effects_apply). -1 with a message when fluidsynth fails. */
int corpus_render(const struct corpus_song *song, int stem, const char *soundfont, float *out);

/* Balances and normalises in place, then sums: each stem is scaled to its
 * part's level_db (RMS, relative), then all by one gain that puts the
 * larger of the mixture's and the stems' peaks at song->peak_db dBFS; the
 * mixture is ((vocals + drums) + bass) + other, summed in float, so it equals
 * the sum of the written stems exactly in that order. n: samples per stem. */
void corpus_mix(const struct corpus_song *song, float *stems[CORPUS_STEMS], float *mix, size_t n);

/* Writes DIR/NAME/{mixture,vocals,drums,bass,other}.wav (float32 WAV) into a
 * hidden temporary directory next to it, renamed into place once all five
 * are complete. 1 if DIR/NAME appeared meanwhile (left as it is), 0 when
 * written, -1 with a message. */
int corpus_write_track(const char *dir, const char *name, float *const stems[CORPUS_STEMS], const float *mix,
		       int64_t frames);
/* 1 when DIR/NAME is a complete track (its directory exists: it only ever
 * appears complete). */
int corpus_track_done(const char *dir, const char *name);
/* Removes the temporary directory being written, if any: for exit paths
 * and signal handlers (async-signal-safe). */
void corpus_track_abort(void);

#endif
